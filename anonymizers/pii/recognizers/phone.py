"""Mainland mobile numbers and landlines with an area code.

Mobiles are checked against the allocated prefixes (13x, 145-149, 15x but
154, 162/165-167, 170-178, 18x, 19x but 194) rather than phonenumbers'
metadata, which rejects numbers still in use such as the 149 data-card range.
New prefixes are issued every few years and a missed number is a leak, so an
11-digit number starting with 1 outside those prefixes is still a mobile when
a contact word labels it (电话, 手机, 联系方式, Tel, Mobile ...): the nearest
label before it is a contact word, with no decoy word (订单号, 金额, 流水号 ...)
after that label. Without such a label it is left alone.
Landlines are validated with phonenumbers (area code and subscriber ranges).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import ClassVar, Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from anonymizers.pii.recognizers.base import ChinesePatternRecognizer, PatternSpec

__all__ = ["CnLandlineRecognizer", "CnMobileRecognizer"]

_MOBILE_PREFIX: Final = re.compile(
    r"1(?:3[0-9]|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8[0-9]|9[0-35-9])[0-9]{8}"
)
_NOT_DIGIT: Final = re.compile(r"[^0-9]")

#: Words just before a number that say it is not a phone number.
NEGATIVE_CONTEXT: Final = (
    "订单", "单号", "编号", "流水", "运单", "快递", "工单号", "卡号", "账号", "帐号",
    "发票", "批次", "序列号", "交易号", "券码", "验证码", "型号", "QQ号", "qq号", "QQ群", "群号",
)  # fmt: skip
#: Decoys for numbers outside the allocated prefixes: the words above and
#: amounts and codes, matched lower-cased.
_DECOYS: Final = tuple(
    word.lower() for word in (*NEGATIVE_CONTEXT, "金额", "价格", "余额", "编码", "条码", "账单")
)

#: Labels that make an 11-digit 1xx number a mobile even outside today's
#: allocated prefixes (matched lower-cased, so Tel, TEL and tel all count).
CONTACT_LABELS: Final = (
    "电话", "手机", "联系方式", "联系电话", "手机号", "电话号码", "联系", "致电", "来电", "回电",
    "tel", "mobile", "phone", "cell",
)  # fmt: skip
_LABEL_WINDOW: Final = 12

_MOBILE: Final = (
    r"(?<![0-9A-Za-z+])(?:(?:\+|00)?86[ -]?|\(\+?86\) ?)?"
    r"1[0-9]{2}(?:[ -]?[0-9]{4}){2}(?![0-9A-Za-z])"
)
_AREA: Final = r"(?:10|2[0-9]|[3-9][0-9]{2})"
_SUBSCRIBER: Final = r"[2-9][0-9]{2,3}[ -]?[0-9]{4}(?![0-9A-Za-z])"
_LANDLINE_NATIONAL: Final = (
    r"(?<![0-9A-Za-z+])(?:0" + _AREA + r"|\(0" + _AREA + r"\))[ -]?" + _SUBSCRIBER
)
_LANDLINE_INTERNATIONAL: Final = (
    r"(?<![0-9A-Za-z+])(?:\+|00)86[ -]?(?:\(0\))?" + _AREA + r"[ -]?" + _SUBSCRIBER
)


def is_mainland_mobile(digits: str) -> bool:
    """11 ASCII digits in an allocated mobile range."""
    return _MOBILE_PREFIX.fullmatch(digits) is not None


def labelled_as_contact(text: str, start: int) -> bool:
    """Whether the nearest label in the few characters before `start` is a
    contact word, with no decoy word after it."""
    window = text[max(0, start - _LABEL_WINDOW) : start].lower()
    contact = max((window.rfind(word) for word in CONTACT_LABELS), default=-1)
    if contact < 0:
        return False
    return all(window.rfind(word) < contact for word in _DECOYS)


@lru_cache(maxsize=4096)
def is_landline(number: str) -> bool:
    """A valid fixed-line number for phonenumbers' CN metadata."""
    try:
        parsed = phonenumbers.parse(number, "CN")
    except NumberParseException:
        return False
    if parsed.country_code != 86 or not phonenumbers.is_valid_number(parsed):
        return False
    kind = phonenumbers.number_type(parsed)
    return kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


class CnMobileRecognizer(ChinesePatternRecognizer):
    """138 1234 5678, 138-1234-5678, +86 13812345678, 8613812345678 ..."""

    COUNTRY_CODE: ClassVar[str | None] = "cn"

    ENTITY: ClassVar[str] = "CN_MOBILE"
    PATTERN_SPECS: ClassVar[tuple[PatternSpec, ...]] = (("cn_mobile", _MOBILE, 0.9),)
    CONTEXT: ClassVar[tuple[str, ...]] = (
        "手机", "电话", "联系", "致电", "回电", "来电", "号码", "打", "微信", "短信", "tel", "Tel",
    )  # fmt: skip
    CONTEXT_BEFORE: ClassVar[int] = 10
    PREFILTER: ClassVar[re.Pattern[str] | None] = re.compile(r"1[0-9]{2}")
    NEGATIVE_SCORE: ClassVar[float] = 0.3

    def score_match(self, text: str, match: re.Match[str], base_score: float) -> float | None:
        digits = _NOT_DIGIT.sub("", match.group())
        if len(digits) > 11:
            digits = digits[-11:]  # country prefix 86 / 0086
        if not is_mainland_mobile(digits):
            # A prefix not (yet) allocated: a mobile only when labelled as one.
            return base_score if labelled_as_contact(text, match.start()) else None
        if self.context_near(text, match):
            return self.MAX_SCORE
        return (
            self.NEGATIVE_SCORE if self.context_near(text, match, NEGATIVE_CONTEXT) else base_score
        )

    def validate_result(self, pattern_text: str) -> bool:
        digits = _NOT_DIGIT.sub("", pattern_text)
        return is_mainland_mobile(digits[-11:])


class CnLandlineRecognizer(ChinesePatternRecognizer):
    """010-65432100, (0755)2698 1234, 0571 87654321, +86 10 6543 2100 ..."""

    COUNTRY_CODE: ClassVar[str | None] = "cn"

    ENTITY: ClassVar[str] = "CN_LANDLINE"
    PATTERN_SPECS: ClassVar[tuple[PatternSpec, ...]] = (
        ("cn_landline", _LANDLINE_NATIONAL, 0.85),
        ("cn_landline_international", _LANDLINE_INTERNATIONAL, 0.85),
    )
    CONTEXT: ClassVar[tuple[str, ...]] = (
        "电话", "座机", "固话", "联系", "致电", "来电", "号码", "传真", "热线", "tel", "Tel",
    )  # fmt: skip
    CONTEXT_BEFORE: ClassVar[int] = 10
    PREFILTER: ClassVar[re.Pattern[str] | None] = re.compile(r"0[1-9][0-9]|86")
    NEGATIVE_SCORE: ClassVar[float] = 0.3

    def score_match(self, text: str, match: re.Match[str], base_score: float) -> float | None:
        if not self.validate_result(match.group()):
            return None
        if self.context_near(text, match):
            return self.MAX_SCORE
        return (
            self.NEGATIVE_SCORE if self.context_near(text, match, NEGATIVE_CONTEXT) else base_score
        )

    def validate_result(self, pattern_text: str) -> bool:
        international = pattern_text.startswith(("+", "00"))
        digits = _NOT_DIGIT.sub("", pattern_text)
        if international:
            digits = digits[4:] if pattern_text.startswith("00") else digits[2:]
            digits = digits.removeprefix("0")
            return is_landline("+86" + digits)
        return is_landline(digits)
