"""``cdg purpose list``: the purpose hierarchy (用途层级), through a running gateway."""

from __future__ import annotations

import typer

from gateway.cli.remote import DEFAULT_URL, JsonOption, KeyOption, UrlOption, connected, show

app = typer.Typer(help="The purpose hierarchy requests and policies name.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """The purpose hierarchy requests and policies name."""


@app.command("list")
def listing(
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """Every purpose with its Chinese and English names; a grant covers its descendants."""
    with connected(url, key, as_json) as gw:
        show(gw.purposes(), as_json, ["purpose", "zh", "en", "parent"])
