"""Keyed, deterministic pseudonyms: the same identifier under the same key
always gives the same pseudonym (so records link), and nothing links across
keys (so two recipients, or two key versions, cannot join their releases)."""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives import hashes, hmac

from anonymizers.errors import KeyMaterialError
from anonymizers.normalise import normalise_identifier

__all__ = ["MIN_PSEUDONYM_KEY_BYTES", "PSEUDONYM_BYTES", "Pseudonymizer"]

MIN_PSEUDONYM_KEY_BYTES: Final = 32
# 128 bits: collisions stay negligible far beyond any community's population.
PSEUDONYM_BYTES: Final = 16

# base64.b32encode is pure Python and costs more than the HMAC itself, so the
# 16 bytes are encoded as 13 groups of 10 bits through a 1024-entry table.
_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz234567"
_PAIRS: Final = tuple(a + b for a in _ALPHABET for b in _ALPHABET)


def _base32_130(n: int) -> str:
    """The 13 groups of 10 bits of a 130-bit `n`, most significant first
    (128 bits shifted left by 2; the 2 zero bits are what RFC 4648 pads the
    last 5-bit symbol with). Unrolled: a comprehension costs twice as much."""
    p = _PAIRS
    return (
        p[n >> 120 & 1023] + p[n >> 110 & 1023] + p[n >> 100 & 1023] + p[n >> 90 & 1023]
        + p[n >> 80 & 1023] + p[n >> 70 & 1023] + p[n >> 60 & 1023] + p[n >> 50 & 1023]
        + p[n >> 40 & 1023] + p[n >> 30 & 1023] + p[n >> 20 & 1023] + p[n >> 10 & 1023]
        + p[n & 1023]
    )  # fmt: skip


class Pseudonymizer:
    """Callable mapping a value to f"p{version}_" + base32(HMAC-SHA256)[:16 bytes].

    The value is rendered with str() and canonicalised with
    normalise_identifier first, so "+86 138 1234 5678" and "13812345678" get
    the same pseudonym. None maps to None.
    """

    __slots__ = ("_mac", "_prefix")

    def __init__(self, key: bytes, version: int) -> None:
        if not isinstance(key, bytes) or len(key) < MIN_PSEUDONYM_KEY_BYTES:
            raise KeyMaterialError(
                f"pseudonym key must be at least {MIN_PSEUDONYM_KEY_BYTES} bytes"
            )
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise KeyMaterialError("key version must be an integer >= 1")
        # Keyed once; each value works on a copy, which skips re-keying.
        self._mac = hmac.HMAC(key, hashes.SHA256())
        self._prefix = f"p{version}_"

    def __call__(self, value: object) -> str | None:
        if value is None:
            return None
        mac = self._mac.copy()
        mac.update(normalise_identifier(str(value)).encode("utf-8"))
        n = int.from_bytes(mac.finalize()[:PSEUDONYM_BYTES], "big") << 2
        return self._prefix + _base32_130(n)

    def __repr__(self) -> str:
        # Never show key material, even by accident in a log line.
        return f"{type(self).__name__}(prefix={self._prefix!r})"
