"""``cdg budget list``: privacy budgets (ε), through a running gateway."""

from __future__ import annotations

import typer

from gateway.cli.remote import DEFAULT_URL, JsonOption, KeyOption, UrlOption, connected, show

app = typer.Typer(help="Differential-privacy budgets.", no_args_is_help=True)

COLUMNS = ["app", "dataset", "window", "total", "spent", "remaining", "available"]


@app.callback()
def _group() -> None:
    """Differential-privacy budgets."""


@app.command("list")
def listing(
    url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """An app's own budgets, or a department's datasets' (ε per window, spent, left)."""
    with connected(url, key, as_json) as gw:
        show(gw.budgets(), as_json, COLUMNS)
