"""``cdg pii scan``: JSON Lines in, JSON Lines out (a contract scripts rely on)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from gateway.cli.common import USAGE_ERROR, err_console, fail, read_text
from gateway.cli.text import _

app = typer.Typer(help="Chinese PII detection.", no_args_is_help=True)


@app.command("scan")
def scan(
    file: Annotated[
        Path | None, typer.Argument(help="JSON Lines; default stdin", show_default=False)
    ] = None,
) -> None:
    """Read {"id", "text"} lines; write {"id", "findings": [{entity, start, end, score}]}.

    Output is JSON Lines whatever the other commands do: this is the scriptable form.
    """
    from anonymizers.pii import scan_lines

    if file is None:
        lines: Iterable[str] = sys.stdin
        total = None
    else:
        lines = read_text(file).splitlines()
        total = len(lines)
    try:
        # The bar goes to stderr and only to a terminal: stdout stays pure JSON Lines.
        with Progress(transient=True, console=err_console) as bar:
            task = bar.add_task(_("scanning"), total=total)
            for line in scan_lines(lines):
                sys.stdout.write(line if line.endswith("\n") else line + "\n")
                bar.advance(task)
    except UnicodeDecodeError:
        raise fail(_("standard input: not UTF-8 text"), USAGE_ERROR) from None
