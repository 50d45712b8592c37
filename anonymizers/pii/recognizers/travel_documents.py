"""Passports and the travel permits of Hong Kong, Macau and Taiwan.

None of these numbers has a check character, and their shapes (a letter and
eight digits, or eight digits) are common in other codes: a match is reported
only when a context word is near it.
"""

from __future__ import annotations

import re
from typing import ClassVar, Final

from anonymizers.pii.recognizers.base import ChinesePatternRecognizer, PatternSpec

__all__ = ["CnPassportRecognizer", "CnTravelPermitRecognizer"]

_L: Final = r"(?<![0-9A-Za-z])"
_R: Final = r"(?![0-9A-Za-z])"
_LETTER: Final = "[A-HJ-NP-Z]"


class _ContextRequired(ChinesePatternRecognizer):
    WITH_CONTEXT: ClassVar[float] = 0.9
    CONTEXT_BEFORE: ClassVar[int] = 20
    CONTEXT_AFTER: ClassVar[int] = 8

    def score_match(self, text: str, match: re.Match[str], base_score: float) -> float | None:
        return self.WITH_CONTEXT if self.context_near(text, match) else base_score


class CnPassportRecognizer(_ContextRequired):
    """Ordinary passports E12345678 / EA1234567 (and older G12345678);
    diplomatic, service and public-affairs passports D/S/P + 7 or 8 digits."""

    COUNTRY_CODE: ClassVar[str | None] = "cn"

    ENTITY: ClassVar[str] = "CN_PASSPORT"
    PATTERN_SPECS: ClassVar[tuple[PatternSpec, ...]] = (
        (
            "passport",
            _L + r"(?:E[0-9]{8}|E" + _LETTER + r"[0-9]{7}|G[0-9]{8}|[DSP]E?[0-9]{7,8})" + _R,
            0.3,
        ),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = ("护照", "passport", "Passport", "PASSPORT")
    PREFILTER: ClassVar[re.Pattern[str] | None] = re.compile(r"[EGDSP][0-9A-Z][0-9]{6}")


class CnTravelPermitRecognizer(_ContextRequired):
    """往来港澳通行证 C12345678 / CA1234567, 回乡证 H/M + 8 digits (+2),
    往来台湾通行证 L + 8 digits, and 台胞证 8 digits (+2); the digit-only form
    needs a Taiwan-specific context word."""

    COUNTRY_CODE: ClassVar[str | None] = "cn"

    ENTITY: ClassVar[str] = "CN_TRAVEL_PERMIT"
    PATTERN_SPECS: ClassVar[tuple[PatternSpec, ...]] = (
        ("hk_macau_permit", _L + r"C(?:[0-9]{8}|" + _LETTER + r"[0-9]{7})" + _R, 0.3),
        ("home_return_permit", _L + r"[HM][0-9]{8}(?:[0-9]{2})?" + _R, 0.3),
        ("taiwan_permit", _L + r"L[0-9]{8}" + _R, 0.3),
        ("mtp", _L + r"[0-9]{8}(?:[0-9]{2})?" + _R, 0.2),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = (
        "通行证", "回乡证", "台胞证", "港澳", "台湾", "来往内地", "来往大陆", "往来", "入台",
        "赴台", "赴港", "签注",
    )  # fmt: skip
    TAIWAN_CONTEXT: ClassVar[tuple[str, ...]] = ("台胞证", "台湾居民", "来往大陆")
    PREFILTER: ClassVar[re.Pattern[str] | None] = re.compile(r"[0-9]{7}")

    def score_match(self, text: str, match: re.Match[str], base_score: float) -> float | None:
        if match.group()[0].isdigit():
            return (
                self.WITH_CONTEXT if self.context_near(text, match, self.TAIWAN_CONTEXT) else None
            )
        return super().score_match(text, match, base_score)
