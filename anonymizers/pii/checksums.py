"""Check characters of Chinese identifiers and card numbers.

- Resident ID (GB 11643-1999): region + YYYYMMDD + sequence + check character
  over ISO 7064 MOD 11-2; the region's first two digits must be a GB/T 2260
  province-level code (81/82/83: Hong Kong, Macau and Taiwan residence permits,
  whose region is exactly 810000/820000/830000).
- Unified social credit code (GB 32100-2015): check character MOD 31 over the
  alphabet without I, O, S, V, Z. N- and Y-prefixed codes are valid.
- Organisation code (GB 11714-1997): the 9 characters inside a credit code.
- Luhn for bank card numbers.

Every function takes the identifier already upper-cased and without
separators, and returns a bool (or the check character) without raising.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

__all__ = [
    "PROVINCE_CODES",
    "RESIDENCE_PERMIT_REGIONS",
    "USCC_ALPHABET",
    "is_valid_birth_date",
    "is_valid_legacy_resident_id",
    "is_valid_org_code",
    "is_valid_resident_id",
    "is_valid_uscc",
    "looks_like_resident_id",
    "luhn_valid",
    "resident_id_check_char",
    "uscc_check_char",
]

#: GB/T 2260 province-level codes, plus 83 (Taiwan residence permits).
PROVINCE_CODES: Final = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82", "83",
    }
)  # fmt: skip
#: Hong Kong, Macau and Taiwan residents' residence permits use these regions only.
RESIDENCE_PERMIT_REGIONS: Final = frozenset({"810000", "820000", "830000"})
_PERMIT_PROVINCES: Final = frozenset({"81", "82", "83"})

_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS: Final = "10X98765432"
_EARLIEST_BIRTH_YEAR: Final = 1900
_LATEST_BIRTH_YEAR: Final = 2099

USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES: Final = {char: value for value, char in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))
_USCC_CENTRAL_REGION: Final = "10"  # 100000: organisations registered centrally

_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def resident_id_check_char(first17: str) -> str:
    """GB 11643 check character of 17 digits (callers pass digits only)."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def is_valid_birth_date(year: int, month: int, day: int) -> bool:
    """A real calendar date between 1900 and 2099."""
    if not _EARLIEST_BIRTH_YEAR <= year <= _LATEST_BIRTH_YEAR:
        return False
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def _valid_region(region: str) -> bool:
    province = region[:2]
    if province not in PROVINCE_CODES:
        return False
    return province not in _PERMIT_PROVINCES or region in RESIDENCE_PERMIT_REGIONS


def is_valid_resident_id(value: str) -> bool:
    """18-character resident ID (or residence permit): region, date, check."""
    if len(value) != 18 or not value[:17].isdigit() or not value[:17].isascii():
        return False
    if not _valid_region(value[:6]):
        return False
    if not is_valid_birth_date(int(value[6:10]), int(value[10:12]), int(value[12:14])):
        return False
    return resident_id_check_char(value[:17]) == value[17]


def looks_like_resident_id(value: str) -> bool:
    """18 characters with a valid region and birth date, whatever the check
    character: a mistyped ID number is still an ID number, not a card."""
    if len(value) != 18 or not value[:17].isdigit() or not value[:17].isascii():
        return False
    return _valid_region(value[:6]) and is_valid_birth_date(
        int(value[6:10]), int(value[10:12]), int(value[12:14])
    )


def is_valid_legacy_resident_id(value: str) -> bool:
    """15-digit first-generation ID: region + YYMMDD (19YY) + sequence; no check."""
    if len(value) != 15 or not value.isdigit() or not value.isascii():
        return False
    if value[:2] in _PERMIT_PROVINCES or not _valid_region(value[:6]):
        return False
    return is_valid_birth_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))


def uscc_check_char(first17: str) -> str | None:
    """GB 32100 check character, or None when a character is outside the alphabet."""
    total = 0
    for char, weight in zip(first17, _USCC_WEIGHTS, strict=True):
        value = _USCC_VALUES.get(char)
        if value is None:
            return None
        total += value * weight
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_org_code(value: str) -> bool:
    """GB 11714 organisation code: 8 characters and a check character (0-9 or X)."""
    if len(value) != 9:
        return False
    total = 0
    for char, weight in zip(value[:8], _ORG_WEIGHTS, strict=True):
        index = _ORG_ALPHABET.find(char)
        if index < 0:
            return False
        total += index * weight
    check = 11 - total % 11
    expected = "X" if check == 10 else "0" if check == 11 else str(check)
    return value[8] == expected


def is_valid_uscc(value: str) -> bool:
    """Unified social credit code: alphabet, region prefix and GB 32100 check.

    A code made only of digits also needs a valid GB 11714 organisation code
    inside it: 18-digit order and serial numbers are common in text, and one in
    31 would pass the credit-code check alone.
    """
    if len(value) != 18 or not value[2:8].isdigit() or not value[2:8].isascii():
        return False
    region = value[2:4]
    if region not in PROVINCE_CODES and region != _USCC_CENTRAL_REGION:
        return False
    if uscc_check_char(value[:17]) != value[17]:
        return False
    return not value.isdigit() or is_valid_org_code(value[8:17])


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check over a string of ASCII digits."""
    if not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0
