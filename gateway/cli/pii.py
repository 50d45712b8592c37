"""``cdg pii scan``: JSON Lines in, JSON Lines out (a contract scripts rely on)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Chinese PII detection.", no_args_is_help=True)


@app.command("scan")
def scan(
    file: Annotated[
        Path | None, typer.Argument(exists=True, dir_okay=False, help="JSON Lines; default stdin")
    ] = None,
) -> None:
    """Read {"id", "text"} lines; write {"id", "findings": [{entity, start, end, score}]}."""
    from anonymizers.pii import scan_lines

    handle = file.open(encoding="utf-8") if file is not None else sys.stdin
    try:
        for line in scan_lines(handle):
            sys.stdout.write(line if line.endswith("\n") else line + "\n")
    finally:
        if file is not None:
            handle.close()
