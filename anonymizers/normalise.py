"""Canonical form of identifiers, so one person's identifier written several
ways (full-width digits, spaces, dashes, +86, lower-case x) pseudonymises and
masks the same way."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["MAINLAND_MOBILE", "normalise_identifier"]

# [0-9], not \d: \d also matches non-ASCII digits that NFKC leaves alone.
MAINLAND_MOBILE: Final = re.compile(r"1[3-9][0-9]{9}")

# Separators people type inside identifiers. NFKC has already folded the
# full-width forms (U+3000, U+FF0D, U+FF0E, U+FF08/U+FF09) to ASCII; the rest
# have no compatibility mapping. Zero-width characters come from copy-paste.
_SEPARATORS: Final = (
    " \t\n\r\v\f"
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
    ".\u00b7\u2022\u30fb\u3002"
    "()"
    "\u200b\u200c\u200d\u2060\ufeff"
)
_DROP_SEPARATORS: Final = str.maketrans("", "", _SEPARATORS)

# Longest first: "0086" must not be read as "00" + "86".
_COUNTRY_PREFIXES: Final = ("+86", "0086", "86")


def normalise_identifier(value: str) -> str:
    """Return the canonical form of an identifier.

    NFKC (full-width to half-width), drop spaces, dashes, dots and parentheses,
    upper-case (a trailing x in an ID number becomes X), then drop a leading
    +86 / 0086 / 86 only when what remains is an 11-digit mainland mobile.
    """
    if value.isascii() and value.isalnum():
        # Fast path, same result: NFKC leaves ASCII alone and there is no separator.
        text = value.upper()
    else:
        text = unicodedata.normalize("NFKC", value).translate(_DROP_SEPARATORS).upper()
    for prefix in _COUNTRY_PREFIXES:
        if text.startswith(prefix):
            rest = text[len(prefix) :]
            if MAINLAND_MOBILE.fullmatch(rest):
                return rest
    return text
