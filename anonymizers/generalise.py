"""Generalisation: replace a value by the coarser class it falls in.

Every function here maps one value and is total: input it cannot read (wrong
type, malformed, out of range) gives None rather than an exception, because a
generaliser that raised would abort a release and one that returned its input
would leak it. Outputs are strings (labels), so a generalised column groups
cleanly:

    age_band         42, "1983-06-01" or an 18-digit ID number -> "40-49"
                     (width 10), "90+" above `top`
    generalise_date  "2026-03-15" -> "2026-03" | "2026-Q1" | "2026"
    generalise_region GB/T 2260 code 110105 -> "110100" (city) | "110000" (province)
    generalise_address 北京市朝阳区幸福街道和平社区3号楼2单元501室 -> 北京市朝阳区幸福街道和平社区
    bucket           12.5 -> "[10, 20)" by width or edges, "<0" / ">=100" when
                     bottom- or top-coded

The column operator (`anonymizers.operators`, "generalise") applies these once
per distinct value of a column.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Final, Literal, get_args

from anonymizers.masking import ADDRESS_REST, AddressLevel, mask_address
from anonymizers.normalise import normalise_identifier

__all__ = [
    "DATE_LEVELS",
    "DEFAULT_REFERENCE_DATE",
    "REGION_LEVELS",
    "DateLevel",
    "RegionLevel",
    "age_band",
    "birth_date_of",
    "bucket",
    "generalise_address",
    "generalise_date",
    "generalise_region",
]

DateLevel = Literal["month", "quarter", "year"]
DATE_LEVELS: Final[tuple[DateLevel, ...]] = get_args(DateLevel)
RegionLevel = Literal["province", "city", "district"]
REGION_LEVELS: Final[tuple[RegionLevel, ...]] = get_args(RegionLevel)
#: Ages are completed years on this date unless a policy names another; a
#: fixed date (not "today") keeps releases reproducible.
DEFAULT_REFERENCE_DATE: Final = dt.date(2026, 1, 1)

_MAX_AGE: Final = 150
_ID_18: Final = re.compile(r"[0-9]{17}[0-9X]")
_ID_15: Final = re.compile(r"[0-9]{15}")
_AGE_TEXT: Final = re.compile(r"[0-9]{1,3}")
_REGION: Final = re.compile(r"[1-9][0-9]{5}(?:[0-9]{3}){0,2}")
# First two digits of GB/T 2260 codes (provincial level), with 71/81/82 for
# Taiwan, Hong Kong and Macao (83 is used by Taiwan residents' permits).
_PROVINCES: Final = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34",
        "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52",
        "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83",
    }
)  # fmt: skip


# --- dates ---------------------------------------------------------------------


def _as_date(value: object) -> dt.date | None:
    """A date from a date, a datetime, "YYYY-MM-DD[...time]" or "YYYYMMDD"."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) >= 10 and text[4:5] == "-" and text[10:11] in ("", "T", " "):
        text = text[:10]
    elif not (len(text) == 8 and text.isascii() and text.isdigit()):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def birth_date_of(value: object) -> dt.date | None:
    """The birth date in an 18- or 15-digit resident ID number, or the date itself.

    ID numbers are canonicalised first (full-width digits, spaces, lower-case
    x); their check character is not verified, only the date.
    """
    if isinstance(value, str):
        number = normalise_identifier(value)
        if _ID_18.fullmatch(number):
            return _as_date(number[6:14])
        if _ID_15.fullmatch(number):
            return _as_date("19" + number[6:12])
    return _as_date(value)


def _completed_years(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def age_band(
    value: object,
    *,
    width: int = 10,
    top: int | None = None,
    reference_date: dt.date = DEFAULT_REFERENCE_DATE,
) -> str | None:
    """The age band of an age, a birth date or a resident ID number.

    A number (or a string of 1-3 digits) is an age in years, floats rounded
    down; dates and ID numbers give the completed years on `reference_date`.
    Bands start at multiples of `width`: "40-49" for width 10, "42" for width
    1. Ages at or above `top` become f"{top}+". Negative ages (born after the
    reference date), ages above 150, bools and anything unreadable give None.
    Raises ValueError for a width below 1 (a parameter, never a data value).
    """
    if width < 1:
        raise ValueError("age band width must be at least 1")
    age: int | None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        age = value
    elif isinstance(value, float):
        age = math.floor(value) if math.isfinite(value) else None
    elif isinstance(value, str) and _AGE_TEXT.fullmatch(value.strip()):
        age = int(value.strip())
    else:
        birth = birth_date_of(value)
        age = None if birth is None else _completed_years(birth, reference_date)
    if age is None or not 0 <= age <= _MAX_AGE:
        return None
    if top is not None and age >= top:
        return f"{top}+"
    low = age - age % width
    return str(low) if width == 1 else f"{low}-{low + width - 1}"


def generalise_date(value: object, level: DateLevel = "month") -> str | None:
    """ "2026-03-15" (or a date, datetime, "20260315") -> "2026-03", "2026-Q1" or "2026"."""
    date = _as_date(value)
    if date is None:
        return None
    if level == "month":
        return f"{date.year:04d}-{date.month:02d}"
    if level == "quarter":
        return f"{date.year:04d}-Q{(date.month - 1) // 3 + 1}"
    if level == "year":
        return f"{date.year:04d}"
    return None


# --- places --------------------------------------------------------------------


def generalise_region(value: object, level: RegionLevel = "city") -> str | None:
    """A GB/T 2260 administrative division code, cut to `level`.

    Accepts the 6-digit county-level code (110105) or the 9- and 12-digit
    statistical codes that extend it (street, community), as str or int.
    "district" -> the 6-digit code (110105), "city" -> 110100, "province"
    -> 110000. The four municipalities keep GB/T 2260's own city level
    (1101 市辖区). Codes with an unknown province prefix give None.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    if not _REGION.fullmatch(text) or text[:2] not in _PROVINCES:
        return None
    if level == "district":
        return text[:6]
    if level == "city":
        return text[:4] + "00"
    if level == "province":
        return text[:2] + "0000"
    return None


def generalise_address(value: object, level: AddressLevel = "community") -> str | None:
    """A Chinese address kept down to `level` (see masking.mask_address), without
    the "***" marker, so equal prefixes group together. An address in which
    nothing at or above `level` is recognised gives None; an address missing
    `level` keeps the deepest level above it (coarser, never finer)."""
    if not isinstance(value, str):
        return None
    kept = mask_address(value, level).removesuffix(ADDRESS_REST).strip()
    return kept or None


# --- numbers -------------------------------------------------------------------


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _label(number: float) -> str:
    """12.0 -> "12", 0.30000000000000004 -> "0.3": 12 significant digits."""
    text = f"{number:.12g}"
    return "0" if text == "-0" else text


def bucket(
    value: object,
    *,
    width: float | None = None,
    edges: Sequence[float] | None = None,
    bottom: float | None = None,
    top: float | None = None,
) -> str | None:
    """A number's bucket label: "[lo, hi)".

    With `width`, buckets are [i*width, (i+1)*width). With strictly
    increasing `edges`, buckets are [e0, e1), ... [e_{n-2}, e_{n-1}); values
    below e0 give "<e0" and values at or above the last edge ">=e_last".
    Bottom and top coding come first: below `bottom` -> "<bottom", at or
    above `top` -> ">=top". Numeric strings are read; bools, NaN and
    infinities give None. Exactly one of width and edges is required.
    """
    number = _number(value)
    if number is None:
        return None
    if bottom is not None and number < bottom:
        return f"<{_label(bottom)}"
    if top is not None and number >= top:
        return f">={_label(top)}"
    if width is not None and edges is None and width > 0:
        index = math.floor(number / width)
        return f"[{_label(index * width)}, {_label((index + 1) * width)})"
    if edges is not None and width is None and len(edges) > 0:
        index = bisect.bisect_right(edges, number)
        if index == 0:
            return f"<{_label(edges[0])}"
        if index == len(edges):
            return f">={_label(edges[-1])}"
        return f"[{_label(edges[index - 1])}, {_label(edges[index])})"
    return None
