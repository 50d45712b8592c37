"""The log's published verifier keys (every signing key version, so rotation keeps
old checkpoints verifiable)."""

from __future__ import annotations

from audit import verifier_key
from gateway.keys import KeyRing


def verifier_keys(keyring: KeyRing, origin: str) -> list[str]:
    return [
        verifier_key(origin, keyring.signing[version].public_key())
        for version in sorted(keyring.signing)
    ]
