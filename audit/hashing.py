"""RFC 6962 / RFC 9162 §2.1.1 hashing with SHA-256.

The 0x00 / 0x01 prefixes give leaves and interior nodes separate domains, so
an interior node can never be passed off as a leaf (second-preimage attack).
"""

from __future__ import annotations

from hashlib import sha256
from typing import Final

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "leaf_hash", "node_hash"]

HASH_SIZE: Final = 32
"""Length in bytes of every leaf, node and root hash."""

EMPTY_ROOT: Final = sha256(b"").digest()
"""MTH({}): the root of the tree with no leaves."""

_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Return SHA-256(0x00 || data), the hash of one log entry."""
    return sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return SHA-256(0x01 || left || right), the hash of an interior node."""
    return sha256(_NODE_PREFIX + left + right).digest()
