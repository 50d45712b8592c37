"""``cdg keys rotate``: add a new key version; old versions stay for old data."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import emit, existing_home, fail
from gateway.cli.text import _
from gateway.keys import create_master_key, create_signing_key, load_keyring

app = typer.Typer(help="Key files (master key and audit-log signing key).", no_args_is_help=True)


@app.command("rotate")
def rotate(
    log_signing: Annotated[
        bool, typer.Option("--log-signing", help="Rotate the checkpoint signing key instead")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create the next key version.

    A new master key changes pseudonyms and tokens of later releases; source credentials
    stay readable with the version recorded beside them. A new signing key signs later
    checkpoints; earlier ones stay verifiable with the published older public keys.
    """
    s = existing_home()
    if log_signing:
        if s.log_signing_key:
            raise fail(_("CDG_LOG_SIGNING_KEY is set: rotate it in your secret store instead"))
        emit({"new_log_signing_key": str(create_signing_key(s))}, as_json)
        return
    if s.master_key:
        raise fail(_("CDG_MASTER_KEY is set: rotate it in your secret store instead"))
    emit({"new_master_key": str(create_master_key(s))}, as_json)


@app.command("list")
def listing(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Key versions present (never the keys)."""
    ring = load_keyring(existing_home())
    emit(
        {
            "master_versions": sorted(ring.masters),
            "signing_versions": sorted(ring.signing),
        },
        as_json,
    )
