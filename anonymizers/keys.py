"""Per-use keys derived from the operator's master key (HKDF-SHA256).

Every derived key is bound to a version and a context path, so rotating the
master key (a new version) or changing who a key is for (another context)
yields an unrelated key.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from anonymizers.errors import KeyMaterialError

__all__ = ["MAX_DERIVED_KEY_BYTES", "MIN_MASTER_KEY_BYTES", "derive_key"]

MIN_MASTER_KEY_BYTES: Final = 32
# HKDF can expand to at most 255 hash blocks.
MAX_DERIVED_KEY_BYTES: Final = 255 * hashes.SHA256.digest_size

_INFO_PREFIX: Final = "cdg/v{version}/"
_SEPARATOR: Final = "/"


def derive_key(master: bytes, *context: str, version: int, length: int = 32) -> bytes:
    """Derive a `length`-byte key for `context` at key `version`.

    info = b"cdg/v{version}/" + "/".join(context), salt None. Context parts may
    not contain "/" so that distinct context tuples never share an info string.

    Raises KeyMaterialError (a ValueError) on a short master key, a version
    below 1, a missing, empty or "/"-containing context part, or a length HKDF
    cannot produce.
    """
    if not isinstance(master, bytes) or len(master) < MIN_MASTER_KEY_BYTES:
        raise KeyMaterialError(f"master key must be at least {MIN_MASTER_KEY_BYTES} bytes")
    # bool is an int subclass; True as a version is a bug, not version 1.
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise KeyMaterialError("key version must be an integer >= 1")
    if isinstance(length, bool) or not isinstance(length, int):
        raise KeyMaterialError("derived key length must be an integer")
    if not 1 <= length <= MAX_DERIVED_KEY_BYTES:
        raise KeyMaterialError(f"derived key length must be 1..{MAX_DERIVED_KEY_BYTES} bytes")
    # A key with no context would be shared by every use: refuse it.
    if not context:
        raise KeyMaterialError("at least one context part is required")
    for part in context:
        if not isinstance(part, str) or not part:
            raise KeyMaterialError("context parts must be non-empty strings")
        if _SEPARATOR in part:
            raise KeyMaterialError(f"context parts must not contain {_SEPARATOR!r}")
    info = (_INFO_PREFIX.format(version=version) + _SEPARATOR.join(context)).encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)
