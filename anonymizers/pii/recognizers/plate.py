"""Vehicle registration plates (GA 36-2018), including new-energy plates."""

from __future__ import annotations

import re
from typing import ClassVar, Final

from anonymizers.pii.recognizers.base import ChinesePatternRecognizer, PatternSpec

__all__ = ["PROVINCE_ABBREVIATIONS", "CnPlateRecognizer"]

#: One-character abbreviations of the provinces that issue plates.
PROVINCE_ABBREVIATIONS: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

_LETTER: Final = "[A-HJ-NP-Z]"  # no I, no O
_CHAR: Final = "[A-HJ-NP-Z0-9]"
_PLATE: Final = (
    "[" + PROVINCE_ABBREVIATIONS + "]" + _LETTER + r"[·• -]?"
    r"(?:"
    + _CHAR
    + r"{4}(?:"
    + _CHAR
    + r"|[挂学警港澳领试超])"  # ordinary: 5 characters
    + r"|[A-HJK]"
    + _CHAR
    + r"[0-9]{4}"  # small new-energy: D/F (and A-K) first
    + r"|[0-9]{5}[DF]"  # large new-energy: D/F last
    + r")(?![0-9A-Za-z])"
)


class CnPlateRecognizer(ChinesePatternRecognizer):
    """京A12345, 粤B·D12345 (new energy), 沪A12345D, 京N3K2P8 ..."""

    COUNTRY_CODE: ClassVar[str | None] = "cn"

    ENTITY: ClassVar[str] = "CN_PLATE"
    PATTERN_SPECS: ClassVar[tuple[PatternSpec, ...]] = (("cn_plate", _PLATE, 0.9),)
    CONTEXT: ClassVar[tuple[str, ...]] = ("车牌", "号牌", "车辆", "车主", "牌照")
    PREFILTER: ClassVar[re.Pattern[str] | None] = re.compile(
        "[" + PROVINCE_ABBREVIATIONS + "]" + _LETTER
    )

    def score_match(self, text: str, match: re.Match[str], base_score: float) -> float | None:
        return self.MAX_SCORE if self.context_near(text, match) else base_score
