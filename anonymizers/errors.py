"""Exceptions raised on purpose by `anonymizers`.

    AnonymizerError                 base: catch this to handle anything raised here
    ├── KeyMaterialError            (also ValueError) unusable master key, version,
    │                               key-derivation context or derived-key length
    └── OperatorError               (also ValueError) unknown operator name or
                                    invalid operator parameters

Messages never contain a data value: callers may show them to people or write
them to logs without leaking what was being anonymised.
"""

from __future__ import annotations

__all__ = ["AnonymizerError", "KeyMaterialError", "OperatorError"]


class AnonymizerError(Exception):
    """Base class of every exception this package raises on purpose."""


class KeyMaterialError(AnonymizerError, ValueError):
    """Key material, key version or derivation context cannot be used."""


class OperatorError(AnonymizerError, ValueError):
    """An operator cannot be built: unknown name or invalid parameters."""
