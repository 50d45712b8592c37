"""Resident identity card numbers (GB 11643-1999), 15-digit legacy numbers and
the residence permits of Hong Kong, Macau and Taiwan residents (same format,
regions 810000 / 820000 / 830000)."""

from __future__ import annotations

import re
from typing import ClassVar, Final

from anonymizers.pii.checksums import is_valid_legacy_resident_id, is_valid_resident_id
from anonymizers.pii.recognizers.base import ChinesePatternRecognizer, PatternSpec

__all__ = ["CnResidentIdRecognizer"]

# Optional single spaces between the 6-8-4 groups people sometimes type.
_DATE: Final = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_ID_18: Final = (
    r"(?<![0-9A-Za-z])[1-8][0-9]{5} ?(?:19|20)[0-9]{2}"
    + _DATE
    + r" ?[0-9]{3}[0-9Xx](?![0-9A-Za-z])"
)
_ID_15: Final = r"(?<![0-9A-Za-z])[1-8][0-9]{5}[0-9]{2}" + _DATE + r"[0-9]{3}(?![0-9A-Za-z])"


class CnResidentIdRecognizer(ChinesePatternRecognizer):
    """18-character IDs need region, birth date and check character to be valid
    (score 1.0). Legacy 15-digit numbers have no check character: they are
    reported only next to a context word such as 身份证."""

    COUNTRY_CODE: ClassVar[str | None] = "cn"

    ENTITY: ClassVar[str] = "CN_RESIDENT_ID"
    PATTERN_SPECS: ClassVar[tuple[PatternSpec, ...]] = (
        ("resident_id_18", _ID_18, 1.0),
        ("resident_id_15", _ID_15, 0.3),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = (
        "身份证", "身份号", "证件号", "证号", "公民身份", "居住证", "ID", "id",
    )  # fmt: skip
    CONTEXT_BEFORE: ClassVar[int] = 20
    PREFILTER: ClassVar[re.Pattern[str] | None] = re.compile(r"[0-9]{6}")
    LEGACY_WITH_CONTEXT: ClassVar[float] = 0.85

    def score_match(self, text: str, match: re.Match[str], base_score: float) -> float | None:
        value = match.group().replace(" ", "").upper()
        if len(value) == 18:
            return self.MAX_SCORE if is_valid_resident_id(value) else None
        if not is_valid_legacy_resident_id(value):
            return None
        return self.LEGACY_WITH_CONTEXT if self.context_near(text, match) else base_score

    def validate_result(self, pattern_text: str) -> bool:
        value = pattern_text.replace(" ", "").upper()
        return is_valid_resident_id(value) or is_valid_legacy_resident_id(value)
