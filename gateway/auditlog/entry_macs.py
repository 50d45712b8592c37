"""Entry MACs: which entries a gateway holding the master key wrote.

The hash chain and the tree make an entry tamper-evident once a signed checkpoint
covers it, but anyone who can write to the store can append an entry with a valid
chain after the last checkpoint, and the next checkpoint would sign it. So every
entry gets an HMAC-SHA256 under a key derived (HKDF) from the master key, over its
index and its leaf hash, stored in ``audit_entries.mac`` beside the entry as
``"<master key version>:<hex>"``. The checkpoint signer and ``cdg audit verify``
check it; a tail entry without a valid MAC is never signed.

It is a column, not a field of the hashed entry, so verifying an export offline
needs only the published keys: under a signed checkpoint, the signature is what
counts, and only the gateway (with the master key) checks MACs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from anonymizers import derive_key
from gateway.keys import KeyRing

_CONTEXT = "audit-entry-mac"
_BLOCK = 64  # SHA-256's block size, in bytes


def _message(index: int, leaf: bytes) -> bytes:
    # The index is bound too: a genuine entry's MAC does not fit another position.
    return index.to_bytes(8, "big") + leaf


class EntryMacs:
    """Makes MACs with the current master key version, checks them with any version."""

    def __init__(self, keyring: KeyRing) -> None:
        self._keys = {
            version: derive_key(master, _CONTEXT, version=version)
            for version, master in keyring.masters.items()
        }
        self.version = keyring.current_version
        self._prefix = f"{self.version}:"
        self._key = self._keys[self.version]

    def make(self, index: int, leaf: bytes) -> str:
        return self._prefix + hmac.digest(self._key, _message(index, leaf), "sha256").hex()

    def valid(self, index: int, leaf: bytes, mac: str | None) -> bool:
        if not mac:
            return False
        if mac.startswith(self._prefix):  # the current version: most entries
            want = hmac.digest(self._key, _message(index, leaf), "sha256").hex()
            return hmac.compare_digest(want, mac[len(self._prefix) :])
        version, _, value = mac.partition(":")
        key = self._keys.get(int(version)) if version.isdigit() else None
        if key is None:
            return False
        want = hmac.digest(key, _message(index, leaf), "sha256").hex()
        return hmac.compare_digest(want, value)

    def checker(self) -> Callable[[int, bytes, str | None], bool]:
        """``valid`` for a million calls: HMAC-SHA256 (RFC 2104) of the current key from
        its inner and outer SHA-256 states, prepared once (the HMAC objects of ``hmac``
        cost twice as much per call, most of it setting up)."""
        key = self._key if len(self._key) <= _BLOCK else hashlib.sha256(self._key).digest()
        key = key.ljust(_BLOCK, b"\0")
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
        prefix, skip = self._prefix, len(self._prefix)
        fallback = self.valid

        def valid(index: int, leaf: bytes, mac: str | None) -> bool:
            if not mac or not mac.startswith(prefix):
                return fallback(index, leaf, mac)
            state = inner.copy()
            state.update(_message(index, leaf))
            result = outer.copy()
            result.update(state.digest())
            return hmac.compare_digest(result.hexdigest(), mac[skip:])

        return valid
