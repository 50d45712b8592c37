"""Chinese PII detection: presidio recognizers for Chinese identifiers, names
and addresses, and a fast engine to run them.

Public API::

    scan_text(text) -> list[Finding]          # Finding(entity, start, end, score)
    scan_lines(json_lines) -> Iterator[str]   # the JSON Lines of `cdg pii scan`
    redact_text(text, findings) -> str        # 张三 -> <PERSON>

Entities (`ENTITIES`): CN_RESIDENT_ID, CN_MOBILE, CN_LANDLINE, CN_USCC,
BANK_CARD, CN_PLATE, CN_PASSPORT, CN_TRAVEL_PERMIT, EMAIL, PERSON, CN_ADDRESS.

For presidio itself: `build_registry()` returns a `RecognizerRegistry` with the
recognizers (language "zh"), `build_analyzer()` an `AnalyzerEngine` on a blank
spaCy pipeline (jieba segmentation, no model download). Importing this package
is cheap: presidio and jieba load on the first scan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anonymizers.pii.api import (
    DEFAULT_MIN_SCORE,
    MAX_TEXT_LENGTH,
    RedactionStyle,
    redact_text,
    scan_lines,
    scan_text,
)
from anonymizers.pii.findings import ENTITIES, Finding

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

__all__ = [
    "DEFAULT_MIN_SCORE",
    "ENTITIES",
    "MAX_TEXT_LENGTH",
    "Finding",
    "RedactionStyle",
    "build_analyzer",
    "build_registry",
    "redact_text",
    "scan_lines",
    "scan_text",
]


def build_registry() -> RecognizerRegistry:
    """A presidio `RecognizerRegistry` with the Chinese recognizers ("zh")."""
    from anonymizers.pii.registry import build_registry as build

    return build()


def build_analyzer() -> AnalyzerEngine:
    """A presidio `AnalyzerEngine` for "zh" with the Chinese recognizers."""
    from anonymizers.pii.engine import build_analyzer as build

    return build()
