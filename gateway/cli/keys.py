"""``cdg keys rotate``: add a new key version; old versions stay for old data."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import emit, fail, settings
from gateway.keys import create_master_key, create_signing_key, load_keyring

app = typer.Typer(help="Key files (master key and audit-log signing key).", no_args_is_help=True)


@app.command("rotate")
def rotate(
    log_signing: Annotated[
        bool, typer.Option("--log-signing", help="Rotate the checkpoint signing key instead")
    ] = False,
) -> None:
    """Create the next key version.

    A new master key changes pseudonyms and tokens of later releases; source credentials
    stay readable with the version recorded beside them. A new signing key signs later
    checkpoints; earlier ones stay verifiable with the published older public keys.
    """
    s = settings()
    if log_signing:
        if s.log_signing_key:
            raise fail("CDG_LOG_SIGNING_KEY is set: rotate it in your secret store instead")
        emit(f"new log signing key: {create_signing_key(s)}", False)
        return
    if s.master_key:
        raise fail("CDG_MASTER_KEY is set: rotate it in your secret store instead")
    emit(f"new master key: {create_master_key(s)}", False)


@app.command("list")
def listing() -> None:
    """Key versions present (never the keys)."""
    ring = load_keyring(settings())
    emit(
        {
            "master_versions": sorted(ring.masters),
            "signing_versions": sorted(ring.signing),
        },
        False,
    )
