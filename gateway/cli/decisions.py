"""``cdg decision explain SPEC``: which rule would allow or deny a request (runs nothing)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.query_requests import _mapping, dataset_id
from gateway.cli.remote import DEFAULT_URL, JsonOption, KeyOption, UrlOption, connected, show

app = typer.Typer(help="Access decisions, explained.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Access decisions, explained."""


@app.command("explain")
def explain(
    spec: Annotated[Path, typer.Argument(help="QuerySpec as YAML or JSON", show_default=False)],
    dataset: Annotated[str, typer.Option(help="Dataset id or name")],
    purpose: Annotated[str, typer.Option(help="Declared purpose")],
    app_name: Annotated[
        str | None,
        typer.Option("--app", help="For a department: the app to explain for", show_default=False),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Which rule would allow or deny this request, and why (zh/en); nothing runs."""
    body = _mapping(spec)
    with connected(url, key, as_json) as gw:
        out = gw.explain(dataset_id(gw, dataset), purpose, body, app_name)
    show(out, as_json)
