"""Exceptions raised on purpose by `anonymizers`.

    AnonymizerError                 base: catch this to handle anything raised here
    ├── KeyMaterialError            (also ValueError) unusable master key, version,
    │                               key-derivation context or derived-key length
    ├── OperatorError               (also ValueError) unknown operator name or
    │                               invalid operator parameters
    ├── PiiError                    (also ValueError) invalid PII-scan arguments:
    │                               unknown entity or redaction style, score out
    │                               of range, finding outside the text
    ├── SuppressionError            (also ValueError) invalid arguments to small-cell
    │                               suppression or k-anonymity enforcement
    └── TokenError                  (also ValueError) malformed token, wrong key version
        │                           label, value that does not fit the FF1 format
        └── InvalidTokenError       (also cryptography's InvalidTag) an AES-SIV token
                                    failed authentication: wrong owner or version
                                    key, or tampered with

Messages never contain a data value: callers may show them to people or write
them to logs without leaking what was being anonymised.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag

__all__ = [
    "AnonymizerError",
    "InvalidTokenError",
    "KeyMaterialError",
    "OperatorError",
    "PiiError",
    "SuppressionError",
    "TokenError",
]


class AnonymizerError(Exception):
    """Base class of every exception this package raises on purpose."""


class KeyMaterialError(AnonymizerError, ValueError):
    """Key material, key version or derivation context cannot be used."""


class OperatorError(AnonymizerError, ValueError):
    """An operator cannot be built: unknown name or invalid parameters."""


class PiiError(AnonymizerError, ValueError):
    """A PII scan or redaction was asked for with invalid arguments."""


class SuppressionError(AnonymizerError, ValueError):
    """Small-cell suppression or k-anonymity was asked for with invalid arguments."""


class TokenError(AnonymizerError, ValueError):
    """A token cannot be made or reversed: malformed token, a key version label
    that does not match, or a value that does not fit the requested format."""


class InvalidTokenError(TokenError, InvalidTag):
    """An AES-SIV token failed authentication (wrong key or tampered with).

    Also a `cryptography.exceptions.InvalidTag`, so code written against the
    primitive keeps working."""
