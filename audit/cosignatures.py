"""Witness cosignatures on checkpoints: C2SP tlog-cosignature, Ed25519 (cosignature/v1).

A witness that checked a checkpoint is consistent with everything it saw of
the log before adds a signature line to the note::

    — <witness name> base64(key id[4] || timestamp[8, big-endian] || Ed25519 sig[64])

signed over ``"cosignature/v1\\ntime <timestamp>\\n" + checkpoint body``; the key
id is ``SHA-256(name || 0x0A || 0x04 || public key)[:4]`` and the witness's
verifier key is ``name+<hex key id>+base64(0x04 || public key)``
(https://c2sp.org/tlog-cosignature). A log key cannot stand in for a witness
(different type byte, different key id, different signed message).
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Sequence
from hashlib import sha256
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.checkpoints import (
    _b64decode_canonical,
    _check_key_name,
    _is_valid_key_name,
    split_note,
)
from audit.errors import CheckpointError

__all__ = [
    "COSIGNATURE_TYPE",
    "Cosigner",
    "add_cosignatures",
    "cosigner_key",
    "parse_cosigner_key",
    "verified_cosigners",
]

COSIGNATURE_TYPE: Final = 0x04
"""Signature type byte the signed-note spec assigns to Ed25519 cosignature/v1."""

_SIG_PREFIX: Final = "— "
_MAX_TIMESTAMP: Final = 2**63 - 1


def _key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    material = name.encode() + b"\n" + bytes([COSIGNATURE_TYPE]) + public_key.public_bytes_raw()
    return sha256(material).digest()[:4]


def _message(body: bytes, timestamp: int) -> bytes:
    return b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + body


class Cosigner:
    """A witness's signing key: cosigns checkpoint bodies it has checked."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_key_name(name)
        self.name = name
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.key_id = _key_id(name, self.public_key)

    @property
    def verifier_key(self) -> str:
        return cosigner_key(self.name, self.public_key)

    def cosign(self, body: bytes, timestamp: int) -> str:
        """One signature line (ending in a newline) over a checkpoint body."""
        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise ValueError("cosignature timestamp out of range")
        signature = self._private_key.sign(_message(body, timestamp))
        blob = self.key_id + struct.pack(">Q", timestamp) + signature
        return f"{_SIG_PREFIX}{self.name} {base64.b64encode(blob).decode('ascii')}\n"


def cosigner_key(name: str, public_key: Ed25519PublicKey) -> str:
    """``name+<hex key id>+base64(0x04 || public key)``."""
    _check_key_name(name)
    data = bytes([COSIGNATURE_TYPE]) + public_key.public_bytes_raw()
    return f"{name}+{_key_id(name, public_key).hex()}+{base64.b64encode(data).decode('ascii')}"


def parse_cosigner_key(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """(name, key id, public key) of a witness verifier key; the key id must match."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("witness key must look like name+keyid+base64key")
    name, id_hex, b64 = parts
    if not _is_valid_key_name(name) or not re.fullmatch(r"[0-9a-fA-F]{8}", id_hex):
        raise CheckpointError("witness key has an invalid name or key id")
    data = _b64decode_canonical(b64)
    if data is None or len(data) != 33 or data[0] != COSIGNATURE_TYPE:
        raise CheckpointError(f"witness key {name}: not an Ed25519 cosignature/v1 (0x04) key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(data[1:])
    except ValueError:
        raise CheckpointError(f"witness key {name}: invalid Ed25519 public key") from None
    if bytes.fromhex(id_hex) != _key_id(name, public_key):
        raise CheckpointError(f"witness key {name}: key id does not match the key")
    return name, bytes.fromhex(id_hex), public_key


def is_cosigner_key(vkey: str) -> bool:
    """True for a verifier key of type 0x04 (so one keys file can hold log and witness keys)."""
    parts = vkey.strip().split("+", 2)
    data = _b64decode_canonical(parts[2]) if len(parts) == 3 else None
    return data is not None and len(data) == 33 and data[0] == COSIGNATURE_TYPE


def verified_cosigners(note: str, witness_keys: Sequence[str]) -> dict[str, int]:
    """Witnesses (name -> timestamp) whose cosignature on ``note`` verifies.

    Lines from keys not in ``witness_keys`` are ignored, as the spec requires; a
    line from a configured witness that does not verify raises ``CheckpointError``:
    someone forged or altered a cosignature.
    """
    trusted: dict[tuple[str, bytes], Ed25519PublicKey] = {}
    for vkey in witness_keys:
        name, key_id, key = parse_cosigner_key(vkey)
        trusted[(name, key_id)] = key
    text, signatures = split_note(note)
    body = text.encode()
    found: dict[str, int] = {}
    for name, key_id, blob in signatures:
        public_key = trusted.get((name, key_id))
        if public_key is None:
            continue
        if len(blob) != 8 + 64:
            raise CheckpointError(f"cosignature by witness {name} is malformed")
        (timestamp,) = struct.unpack(">Q", blob[:8])
        try:
            if timestamp > _MAX_TIMESTAMP:
                raise InvalidSignature
            public_key.verify(blob[8:], _message(body, timestamp))
        except InvalidSignature:
            raise CheckpointError(
                f"cosignature by witness {name} does not verify: forged or altered"
            ) from None
        found[name] = timestamp
    return found


def add_cosignatures(note: str, lines: Sequence[str]) -> str:
    """The note with extra signature lines appended (each ``— name base64\\n``)."""
    extra = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    for line in extra.splitlines():
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError("a cosignature line must start with an em dash and a space")
    return note.rstrip("\n") + "\n" + extra
