"""``cdg request list|show|file|approve|reject|revoke``, through a running gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli.common import USAGE_ERROR, busy, fail, instant, read_document
from gateway.cli.remote import DEFAULT_URL, JsonOption, KeyOption, UrlOption, connected, show
from gateway.cli.text import _
from gateway.client import GatewayClient

app = typer.Typer(
    help="Query requests: apps file them, departments decide, through a running gateway.",
    no_args_is_help=True,
)

LIST_COLUMNS = [
    "id", "app", "dataset", "purpose", "kind", "status", "runs_used", "max_runs", "created_at",
]  # fmt: skip
Status = Annotated[
    str | None,
    typer.Option(help="pending, approved, rejected, expired or revoked", show_default=False),
]
Reason = Annotated[str, typer.Option("--reason", help="Why; the app sees it")]
RequestId = Annotated[str, typer.Argument(help="The request's id")]


@app.command("list")
def listing(
    status: Status = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Requests the caller filed (apps) or must decide (departments), newest first."""
    with connected(url, key, as_json) as gw:
        show(gw.requests(status=status, limit=limit), as_json, LIST_COLUMNS)


@app.command("show")
def show_one(
    request_id: RequestId,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """One request with its QuerySpec and decision."""
    with connected(url, key, as_json) as gw:
        show(gw.request(request_id), as_json)


def dataset_id(gw: GatewayClient, given: str) -> str:
    """A dataset named by id or by name (names are unique in the catalog)."""
    for dataset in gw.datasets():
        if given in (dataset.id, dataset.name):
            return dataset.id
    return given  # the gateway answers 404 for what is not there


@app.command("file")
def file_request(
    spec: Annotated[Path, typer.Argument(help="QuerySpec as YAML or JSON", show_default=False)],
    dataset: Annotated[str, typer.Option(help="Dataset id or name from the catalog")],
    purpose: Annotated[str, typer.Option(help="Declared purpose, e.g. public-service.…")],
    justification: Annotated[
        str, typer.Option(help="Why the app needs it; the department reads it")
    ],
    params: Annotated[
        Path | None,
        typer.Option(help="Example parameter values (YAML/JSON mapping)", show_default=False),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """File a query request for a declared purpose (apps); prints its id and status."""
    body = _mapping(spec)
    examples = _mapping(params) if params is not None else {}
    with connected(url, key, as_json) as gw:
        filed = gw.file_request(dataset_id(gw, dataset), purpose, justification, body, examples)
    show(filed, as_json)


def _mapping(path: Path) -> dict[str, Any]:
    data = read_document(path)
    if not isinstance(data, dict):
        raise fail(_("%(path)s: expected a mapping (key: value)", path=path), USAGE_ERROR)
    return data


@app.command("approve")
def approve(
    request_id: RequestId,
    expires_at: Annotated[
        str | None,
        typer.Option(help="After this the query no longer runs (RFC 3339 with zone)"),
    ] = None,
    max_runs: Annotated[int | None, typer.Option(min=1, help="Most runs allowed")] = None,
    row_cap: Annotated[int | None, typer.Option(min=1, help="Most rows per run")] = None,
    note: Annotated[str, typer.Option(help="A note the app sees")] = "",
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a pending request, optionally narrowing it (departments)."""
    until = instant("--expires-at", expires_at)
    with connected(url, key, as_json) as gw, busy(_("approving…"), as_json):
        done = gw.approve(request_id, expires_at=until, max_runs=max_runs, row_cap=row_cap,
                          note=note)  # fmt: skip
    show(done, as_json)


@app.command("reject")
def reject(
    request_id: RequestId,
    reason: Reason,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject a pending request with a reason (departments)."""
    with connected(url, key, as_json) as gw:
        show(gw.reject(request_id, reason), as_json)


@app.command("revoke")
def revoke(
    request_id: RequestId,
    reason: Reason,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke an approved query: it runs no more (departments)."""
    with connected(url, key, as_json) as gw:
        show(gw.revoke(request_id, reason), as_json)
