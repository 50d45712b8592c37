"""``cdg token reverse``: a department reverses a token of its own dataset (logged)."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.query_requests import dataset_id
from gateway.cli.remote import DEFAULT_URL, JsonOption, KeyOption, UrlOption, connected, show

app = typer.Typer(help="Reversible tokens.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Reversible tokens."""


@app.command("reverse")
def reverse(
    token: Annotated[str, typer.Argument(help="The token as an app received it")],
    dataset: Annotated[str, typer.Option(help="Dataset id or name")],
    column: Annotated[str, typer.Option(help="The tokenised column")],
    recipient: Annotated[str, typer.Option(help="The app that received the token")],
    justification: Annotated[str, typer.Option(help="Why; kept in the access log")],
    key_version: Annotated[
        int | None, typer.Option(help="Key version, when the token names none", show_default=False)
    ] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """The value behind a token of the caller's own dataset; the reversal is logged."""
    with connected(url, key, as_json) as gw:
        body: dict[str, object] = {
            "dataset": dataset_id(gw, dataset),
            "column": column,
            "recipient": recipient,
            "token": token,
            "justification": justification,
        }
        if key_version is not None:
            body["key_version"] = key_version
        show(gw.reverse_token(body), as_json)
