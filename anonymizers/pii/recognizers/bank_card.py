"""Bank card numbers: 16 to 19 digits (optionally in groups of four) that pass
the Luhn check."""

from __future__ import annotations

import re
from typing import ClassVar, Final

from anonymizers.pii.checksums import looks_like_resident_id, luhn_valid
from anonymizers.pii.recognizers.base import ChinesePatternRecognizer, PatternSpec
from anonymizers.pii.recognizers.phone import NEGATIVE_CONTEXT

__all__ = ["CnBankCardRecognizer"]

_CARD: Final = (
    r"(?<![0-9A-Za-z])[1-9][0-9]{3}(?:[ -]?[0-9]{4}){3}(?:[ -]?[0-9]{1,3})?(?![0-9A-Za-z])"
)
# UnionPay (62), Visa (4), Mastercard (51-55), JCB (35), Discover/UnionPay (60, 65).
_KNOWN_IIN: Final = re.compile(r"4|5[1-5]|35|60|65")
_SEPARATORS: Final = re.compile(r"[ -]")


class CnBankCardRecognizer(ChinesePatternRecognizer):
    """Luhn-valid numbers score by issuer: 0.9 for UnionPay (62), 0.75 for the
    international schemes, 0.4 otherwise; a context word (卡号, 银行卡 ...)
    raises any of them to 1.0, a word like 订单号 lowers them below the
    reporting threshold. An 18-digit number with the region and birth date of a
    resident ID is an ID (maybe mistyped), not a card."""

    COUNTRY_CODE: ClassVar[str | None] = "cn"

    ENTITY: ClassVar[str] = "BANK_CARD"
    PATTERN_SPECS: ClassVar[tuple[PatternSpec, ...]] = (("bank_card", _CARD, 0.4),)
    CONTEXT: ClassVar[tuple[str, ...]] = (
        "卡号", "银行卡", "账号", "帐号", "储蓄卡", "信用卡", "借记卡", "开户", "银行",
        "工资卡", "社保卡", "银联", "转账", "收款",
    )  # fmt: skip
    CONTEXT_BEFORE: ClassVar[int] = 12
    PREFILTER: ClassVar[re.Pattern[str] | None] = re.compile(r"[0-9]{4}")
    UNIONPAY_SCORE: ClassVar[float] = 0.9
    KNOWN_ISSUER_SCORE: ClassVar[float] = 0.75
    NEGATIVE_SCORE: ClassVar[float] = 0.2
    # Negative words that are also card context: 卡号 and 账号 stay positive here.
    _NEGATIVE: ClassVar[tuple[str, ...]] = tuple(
        word for word in NEGATIVE_CONTEXT if word not in {"卡号", "账号", "帐号"}
    )

    def score_match(self, text: str, match: re.Match[str], base_score: float) -> float | None:
        digits = _SEPARATORS.sub("", match.group())
        if not luhn_valid(digits) or looks_like_resident_id(digits):
            return None
        if self.context_near(text, match):
            return self.MAX_SCORE
        if self.context_near(text, match, self._NEGATIVE):
            return self.NEGATIVE_SCORE
        if digits.startswith("62"):
            return self.UNIONPAY_SCORE
        if _KNOWN_IIN.match(digits):
            return self.KNOWN_ISSUER_SCORE
        return base_score

    def validate_result(self, pattern_text: str) -> bool:
        digits = _SEPARATORS.sub("", pattern_text)
        return 16 <= len(digits) <= 19 and luhn_valid(digits)
