"""``cdg source add|list|retire``: a department's databases, through a running gateway."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import busy
from gateway.cli.remote import DEFAULT_URL, JsonOption, KeyOption, UrlOption, connected, show
from gateway.cli.text import _

app = typer.Typer(
    help="Department databases (sources), through a running gateway.", no_args_is_help=True
)

SOURCE_COLUMNS = ["name", "id", "owner", "dialect", "created_at"]


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Short name, unique in the gateway")],
    db_url: Annotated[
        str | None,
        typer.Option(
            "--db-url",
            envvar="CDG_SOURCE_URL",
            help="SQLAlchemy URL of the database (env CDG_SOURCE_URL); asked for, hidden, "
            "when not given, so a password stays out of the shell history",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a database of the calling department; the gateway tests the connection."""
    if not db_url:
        db_url = typer.prompt(_("database URL"), hide_input=True)
    with connected(url, key, as_json) as gw, busy(_("testing the connection…"), as_json):
        source = gw.add_source(name, db_url)
    show(source, as_json)


@app.command("list")
def listing(
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """The calling department's sources (never their URLs)."""
    with connected(url, key, as_json) as gw:
        show(gw.sources(), as_json, SOURCE_COLUMNS)


@app.command("retire")
def retire(
    source: Annotated[str, typer.Argument(help="Source name or id")],
    reason: Annotated[str, typer.Option(help="Why; apps whose queries it ends see it")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Retire a source and its datasets (soft, logged); their approved queries are revoked."""
    with connected(url, key, as_json) as gw:
        found = next((s.id for s in gw.sources() if source in (s.id, s.name)), source)
        done = gw.retire_source(found, reason)
    if as_json:
        show(done, True)
        return
    show(done.source, False)
    closed = [
        {"dataset": d.name, **c.model_dump(mode="json")} for d in done.datasets for c in d.closed
    ]
    show(closed, False, ["dataset", "id", "app", "purpose", "status", "reason"])
