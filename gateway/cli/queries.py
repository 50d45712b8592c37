"""``cdg query run ID``: run an approved query through a running gateway (apps)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli.common import USAGE_ERROR, busy, console, fail, output_file, plain, rows_view
from gateway.cli.query_requests import _mapping
from gateway.cli.remote import DEFAULT_URL, JsonOption, KeyOption, UrlOption, connected, print_json
from gateway.cli.text import _

app = typer.Typer(help="Approved queries: run them (apps).", no_args_is_help=True)


def _value(text: str) -> Any:
    """A parameter value: JSON when it parses (numbers, true, lists), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@app.command("run")
def run(
    query_id: Annotated[str, typer.Argument(help="The approved request's id")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="NAME=VALUE, repeatable (VALUE as JSON when it parses)"),
    ] = None,
    params_file: Annotated[
        Path | None,
        typer.Option(
            "--params", help="Parameter values as a YAML/JSON mapping", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Also save the whole response (rows and receipt) as JSON, for "
            "`cdg audit verify-receipt`",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run an approved query with parameter values; prints the rows and the receipt."""
    values: dict[str, Any] = _mapping(params_file) if params_file is not None else {}
    for item in param or []:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise fail(_("--param: expected NAME=VALUE"), USAGE_ERROR)
        values[name] = _value(text)
    if out is not None:
        output_file(out)
    with connected(url, key, as_json) as gw, busy(_("running…"), as_json):
        result = gw.run(query_id, values)
    data = plain(result)
    if out is not None:
        out.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    if as_json:
        print_json(data)
        return
    rows = [dict(zip(result.columns, row, strict=False)) for row in result.rows]
    console.print(rows_view(rows, result.columns))
    receipt = result.receipt
    console.print(
        _(
            "%(n)s rows; purpose %(purpose)s; access-log entry %(index)s (tree size %(size)s)",
            n=result.row_count,
            purpose=result.purpose,
            index=receipt.entry_index,
            size=receipt.tree_size,
        )
    )
    if result.truncated:
        console.print(_("the row cap cut the result"))
