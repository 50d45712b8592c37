"""Endpoint secrets are sealed at rest: AES-256-GCM under a key derived per master-key
version, with the endpoint id as associated data (a sealed secret copied onto another
endpoint does not open). The gateway needs the secret itself to sign, so it cannot keep
only a digest as it does for API keys.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from anonymizers import derive_key
from gateway.keys import KeyRing


def _cipher(keyring: KeyRing, version: int) -> AESGCM:
    return AESGCM(derive_key(keyring.master(version), "webhook-secrets", version=version))


def seal(keyring: KeyRing, endpoint_id: str, secret: str) -> tuple[bytes, int]:
    version = keyring.current_version
    nonce = secrets.token_bytes(12)
    sealed = _cipher(keyring, version).encrypt(nonce, secret.encode(), endpoint_id.encode())
    return nonce + sealed, version


def unseal(keyring: KeyRing, endpoint_id: str, blob: bytes, version: int) -> str:
    nonce, sealed = blob[:12], blob[12:]
    return _cipher(keyring, version).decrypt(nonce, sealed, endpoint_id.encode()).decode()
