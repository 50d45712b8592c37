"""``cdg audit entries|summary|proof|keys|latest``: the access log through a running gateway.

``cdg audit verify`` and ``cdg audit checkpoint`` ask the gateway too when given an API key
(see audit.py); these commands exist only that way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import USAGE_ERROR, console, emit, fail, instant, output_file
from gateway.cli.remote import DEFAULT_URL, JsonOption, KeyOption, UrlOption, connected, show
from gateway.cli.text import _
from gateway.client import GatewayAPIError

proof_app = typer.Typer(help="RFC 6962 proofs from the running gateway.", no_args_is_help=True)

ENTRY_COLUMNS = ["index", "recorded_at", "event", "app", "dataset", "decision", "outcome"]


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``cdg audit``."""
    app.command("entries")(entries)
    app.command("summary")(summary)
    app.command("keys")(keys)
    app.command("latest")(latest)
    app.add_typer(proof_app, name="proof")


def entries(
    dataset: Annotated[str | None, typer.Option(help="Only this dataset id")] = None,
    app_name: Annotated[
        str | None, typer.Option("--app", help="Only this principal's entries", show_default=False)
    ] = None,
    event: Annotated[str | None, typer.Option(help="Only this event, e.g. query.run")] = None,
    decision: Annotated[
        str | None, typer.Option(help="Only allowed, denied or none", show_default=False)
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this time (RFC 3339 with zone)")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (RFC 3339 with zone)")] = None,
    after: Annotated[
        int | None, typer.Option(min=-1, help="Only entries after this index", show_default=False)
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, help="Most entries to show (fetched page by page)")
    ] = 100,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Access-log entries the key may see, oldest first, with the API's filters."""
    if decision is not None and decision not in ("allowed", "denied", "none"):
        raise fail(_("--decision must be allowed, denied or none"), USAGE_ERROR)
    filters = {
        "dataset": dataset, "app": app_name, "event": event, "decision": decision,
        "since": instant("--since", since), "until": instant("--until", until), "after": after,
    }  # fmt: skip
    with connected(url, key, as_json) as gw:
        found = []
        for entry in gw.iter_entries(page_size=min(limit, 1000), **filters):
            found.append(entry)
            if len(found) >= limit:
                break
    if as_json:
        show(found, True)
        return
    rows = [
        {
            "index": e.index,
            "recorded_at": e.recorded_at,
            "event": e.entry.get("event"),
            "app": e.entry.get("principal"),
            "dataset": e.entry.get("dataset"),
            "decision": (e.entry.get("decision") or {}).get("reason_code")
            if isinstance(e.entry.get("decision"), dict)
            else e.entry.get("decision"),
            "outcome": e.entry.get("outcome"),
        }
        for e in found
    ]
    emit(rows, False, ENTRY_COLUMNS)


def summary(
    by: Annotated[str, typer.Option(help="dataset or app")] = "dataset",
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Runs, denials, rows released and privacy spent, by dataset or by app."""
    if by not in ("dataset", "app"):
        raise fail(_("--by must be dataset or app"), USAGE_ERROR)
    with connected(url, key, as_json) as gw:
        show(gw.summary("app" if by == "app" else "dataset"), as_json)


def keys(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write them to this file (for --keys)", show_default=False),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """The log's published verifier keys (no API key needed): what offline checks trust."""
    if out is not None:
        output_file(out)
    from gateway.cli.remote import open_client

    client = open_client(url, None, as_json)
    try:
        published = client.published_keys()
    except GatewayAPIError as exc:
        from gateway.cli.remote import refused

        raise refused(exc, as_json) from None
    finally:
        client.close()
    if out is not None:
        out.write_text("\n".join(published) + "\n", encoding="utf-8")
    if as_json:
        emit(published, True)
    elif out is None:
        for line in published:
            typer.echo(line)
    else:
        console.print(_("wrote %(n)s keys to %(out)s", n=len(published), out=out))


def latest(
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """The newest signed checkpoint (its note) and the log's verifier keys."""
    with connected(url, key, as_json) as gw:
        cp = gw.checkpoint()
    if as_json:
        show(cp, True)
    else:
        typer.echo(cp.note, nl=False)


@proof_app.command("inclusion")
def inclusion(
    index: Annotated[int, typer.Argument(min=0, help="The entry's index")],
    tree_size: Annotated[int, typer.Option(min=1, help="Size of the tree to prove against")],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """RFC 6962 inclusion proof of one entry."""
    with connected(url, key, as_json) as gw:
        show(gw.inclusion_proof(index, tree_size), as_json)


@proof_app.command("consistency")
def consistency(
    old_size: Annotated[int, typer.Argument(min=1)],
    new_size: Annotated[int, typer.Argument(min=1)],
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """RFC 6962 consistency proof between two sizes (save with --json for `audit consistency`)."""
    with connected(url, key, as_json) as gw:
        show(gw.consistency_proof(old_size, new_size), as_json)
