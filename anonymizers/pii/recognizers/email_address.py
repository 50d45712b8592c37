"""E-mail addresses, without presidio's EmailRecognizer: its validation calls
tldextract, which tries to download the public suffix list."""

from __future__ import annotations

import re
from typing import ClassVar, Final

from anonymizers.pii.recognizers.base import ChinesePatternRecognizer, PatternSpec

__all__ = ["CnEmailRecognizer"]

_LOCAL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?"
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL: Final = (
    r"(?<![A-Za-z0-9._%+-])" + _LOCAL + "@(?:" + _LABEL + r"\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)


class CnEmailRecognizer(ChinesePatternRecognizer):
    """ASCII addresses with a dotted domain and an alphabetic top-level
    domain; glued Chinese text around them is fine."""

    ENTITY: ClassVar[str] = "EMAIL"
    PATTERN_SPECS: ClassVar[tuple[PatternSpec, ...]] = (("email", _EMAIL, 0.95),)
    CONTEXT: ClassVar[tuple[str, ...]] = ("邮箱", "邮件", "email", "Email", "E-mail", "e-mail")
    PREFILTER: ClassVar[re.Pattern[str] | None] = re.compile("@")

    def score_match(self, text: str, match: re.Match[str], base_score: float) -> float | None:
        if not self.validate_result(match.group()):
            return None
        return self.MAX_SCORE if self.context_near(text, match) else base_score

    def validate_result(self, pattern_text: str) -> bool:
        local = pattern_text.partition("@")[0]
        return ".." not in local
