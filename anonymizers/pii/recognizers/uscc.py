"""Unified social credit codes of organisations (GB 32100-2015)."""

from __future__ import annotations

import re
from typing import ClassVar, Final

from anonymizers.pii.checksums import is_valid_resident_id, is_valid_uscc
from anonymizers.pii.recognizers.base import ChinesePatternRecognizer, PatternSpec

__all__ = ["CnUsccRecognizer"]

_CHAR: Final = "[0-9A-HJ-NPQRTUWXY]"
_USCC: Final = r"(?<![0-9A-Za-z])" + _CHAR + r"{2}[0-9]{6}" + _CHAR + r"{10}(?![0-9A-Za-z])"


class CnUsccRecognizer(ChinesePatternRecognizer):
    """18 characters: registration authority and type, a 6-digit region, the
    9-character organisation code and the MOD 31 check character. Every
    registration authority is accepted, including N (agriculture) and Y
    (others). An 18-digit value that is a valid resident ID is left to the
    ID recognizer."""

    COUNTRY_CODE: ClassVar[str | None] = "cn"

    ENTITY: ClassVar[str] = "CN_USCC"
    PATTERN_SPECS: ClassVar[tuple[PatternSpec, ...]] = (("cn_uscc", _USCC, 1.0),)
    CONTEXT: ClassVar[tuple[str, ...]] = (
        "统一社会信用代码", "信用代码", "营业执照", "纳税人识别号", "税号", "机构代码",
    )  # fmt: skip
    PREFILTER: ClassVar[re.Pattern[str] | None] = re.compile(r"[0-9]{6}")

    def score_match(self, text: str, match: re.Match[str], base_score: float) -> float | None:
        value = match.group()
        if value.isdigit() and is_valid_resident_id(value):
            return None
        return self.MAX_SCORE if is_valid_uscc(value) else None

    def validate_result(self, pattern_text: str) -> bool:
        return is_valid_uscc(pattern_text)
