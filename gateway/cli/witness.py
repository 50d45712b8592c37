"""``cdg audit witness init|serve``: a checkpoint witness, run by someone other than the gateway.

The witness's key file and state file live wherever its operator puts them, never in
the gateway's home; nothing here reads CDG_HOME or the master key.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import CheckpointError, parse_verifier_key
from audit.cosignatures import Cosigner, is_cosigner_key
from audit.witness import Witness, serve_witness
from gateway.cli.common import console, fail

app = typer.Typer(help="Run a witness that cosigns consistent checkpoints.", no_args_is_help=True)

KeyFile = Annotated[Path, typer.Option("--key-file", help="The witness's private key file")]
Name = Annotated[str, typer.Option("--name", help="Witness name, e.g. witness.example.org/w1")]


def _load(key_file: Path, name: str) -> Cosigner:
    try:
        seed = base64.b64decode(key_file.read_text(encoding="ascii").strip(), validate=True)
        return Cosigner(name, Ed25519PrivateKey.from_private_bytes(seed[:32]))
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read the witness key: {type(exc).__name__}") from None


@app.command("init")
def init(key_file: KeyFile, name: Name) -> None:
    """Create the witness key (mode 0600) and print its verifier key for the gateway's config."""
    if key_file.exists():
        raise fail("the key file exists already: a witness keeps its key")
    seed = os.urandom(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(base64.b64encode(seed).decode("ascii") + "\n")
    typer.echo(_load(key_file, name).verifier_key)


@app.command("key")
def key(key_file: KeyFile, name: Name) -> None:
    """Print the witness's verifier key (public)."""
    typer.echo(_load(key_file, name).verifier_key)


@app.command("serve")
def serve(
    key_file: KeyFile,
    name: Name,
    state_file: Annotated[
        Path, typer.Option("--state-file", help="Where the last cosigned size and root are kept")
    ],
    log_keys: Annotated[
        Path,
        typer.Option("--log-keys", help="File of the logs' verifier keys (one per line)"),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8101,
) -> None:
    """Serve ``POST /add-checkpoint`` (C2SP tlog-witness) until interrupted."""
    cosigner = _load(key_file, name)
    trusted: dict[str, list[str]] = {}
    try:
        for line in log_keys.read_text(encoding="utf-8").splitlines():
            vkey = line.strip()
            if vkey and not is_cosigner_key(vkey):  # a log's key is named for its origin
                trusted.setdefault(parse_verifier_key(vkey)[0], []).append(vkey)
    except (OSError, CheckpointError) as exc:
        raise fail(f"cannot read the log keys: {exc}") from None
    if not trusted:
        raise fail("no log keys: the witness would cosign nothing")
    witness = Witness(cosigner, trusted, state_file)
    server = serve_witness(witness, host, port)
    console.print(f"witness {name} on http://{host}:{server.server_port}/add-checkpoint")
    console.print(cosigner.verifier_key)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
