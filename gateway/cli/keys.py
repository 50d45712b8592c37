"""``cdg keys rotate``: add a new master key version."""

from __future__ import annotations

import typer

from gateway.cli.common import emit, fail, settings
from gateway.keys import create_master_key

app = typer.Typer(help="Master key files.", no_args_is_help=True)


@app.command("rotate")
def rotate() -> None:
    """Create the next master key version; older versions stay for reading old data."""
    s = settings()
    if s.master_key:
        raise fail("CDG_MASTER_KEY is set: rotate it in your secret store instead")
    emit(f"new master key: {create_master_key(s)}", False)


@app.command("list", hidden=True)
def listing() -> None:
    from gateway.keys import load_keyring

    ring = load_keyring(settings())
    emit({"versions": sorted(ring.masters), "current": ring.current_version}, False)
