"""Source URLs are encrypted at rest: AES-256-GCM, key derived per master-key version.

The source name is the associated data, so a ciphertext copied onto another
source row does not decrypt.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from anonymizers import derive_key
from gateway.keys import KeyRing


def _cipher(keyring: KeyRing, version: int) -> AESGCM:
    return AESGCM(derive_key(keyring.master(version), "source-credentials", version=version))


def encrypt_url(keyring: KeyRing, source_name: str, url: str) -> tuple[bytes, int]:
    version = keyring.current_version
    nonce = secrets.token_bytes(12)
    sealed = _cipher(keyring, version).encrypt(nonce, url.encode("utf-8"), source_name.encode())
    return nonce + sealed, version


def decrypt_url(keyring: KeyRing, source_name: str, blob: bytes, version: int) -> str:
    nonce, sealed = blob[:12], blob[12:]
    return _cipher(keyring, version).decrypt(nonce, sealed, source_name.encode()).decode("utf-8")
