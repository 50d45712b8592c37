"""Display masking by Chinese conventions: 张*, 138****5678, 110105************.

Every function is total: odd input (empty, too short, unexpected format) falls
back to `mask_generic` (addresses: to "***") instead of raising, because a mask
that raises would abort a release, and one that returns its input unchanged
would leak it.
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

from anonymizers.normalise import MAINLAND_MOBILE, normalise_identifier

__all__ = [
    "ADDRESS_LEVELS",
    "COMPOUND_SURNAMES",
    "AddressLevel",
    "mask_address",
    "mask_generic",
    "mask_id_number",
    "mask_mobile",
    "mask_name",
]

MASK_CHAR: Final = "*"
ADDRESS_REST: Final = "***"

# Common two-character surnames (复姓): the 百家姓 list without its misread
# pairs of single surnames, a few well-known others, and traditional forms of
# the most frequent. A compound surname is kept whole, like a single one.
COMPOUND_SURNAMES: Final = frozenset(
    {
        "万俟", "司马", "上官", "欧阳", "夏侯", "诸葛", "闻人", "东方", "赫连", "皇甫",
        "尉迟", "公羊", "澹台", "公冶", "宗政", "濮阳", "淳于", "单于", "太叔", "申屠",
        "公孙", "仲孙", "轩辕", "令狐", "钟离", "宇文", "长孙", "慕容", "鲜于", "闾丘",
        "司徒", "司空", "亓官", "司寇", "子车", "颛孙", "端木", "巫马", "公西", "漆雕",
        "乐正", "壤驷", "公良", "拓跋", "夹谷", "宰父", "谷梁", "段干", "百里", "东郭",
        "南门", "呼延", "归海", "羊舌", "微生", "梁丘", "左丘", "东门", "西门", "南宫",
        "第五", "伯赏", "独孤", "贺兰", "完颜", "纳兰", "尔朱", "乞伏", "叔孙", "公输",
        "歐陽", "司馬", "諸葛", "東方", "長孫", "鍾離", "尉遲", "軒轅", "聞人", "單于",
        "南宮", "東郭",
    }
)  # fmt: skip

AddressLevel = Literal["province", "city", "district", "street", "community", "building"]
ADDRESS_LEVELS: Final[tuple[AddressLevel, ...]] = get_args(AddressLevel)

_ID_18: Final = re.compile(r"[0-9]{17}[0-9X]")
_ID_15: Final = re.compile(r"[0-9]{15}")

# Address components, one pattern per level, tried in order from where the
# previous component ended; a level that does not match is skipped. Without the
# GB/T 2260 tables this is a heuristic, built so that doubt masks more:
# - a component name never holds a digit, whitespace or the marker of a level
#   below it (社区, 号楼, 室 ...), so a missing level cannot swallow a deeper one;
# - only the four municipalities end a province with 市 (广州市 is a city);
# - 州 directly before 市 is part of the name (广州市), 小区/校区/景区 are not
#   districts, and a 市 after a city is a county-level city (district level),
#   unless it is the 市 of 超市 or 市场.
_GAP: Final = r"[\s,，、]*"
_PROVINCE: Final = re.compile(
    _GAP + r"(?:(?:北京|天津|上海|重庆)市"
    r"|[^\d\s市区县旗盟街镇乡社村号栋幢楼室]{1,7}?(?:省|自治区|特别行政区))"
)
_CITY: Final = re.compile(
    _GAP + r"[^\d\s区县旗街社村号栋幢楼室]{1,12}?(?:市|地区|州(?!市)|盟)"
)
_DISTRICT_NAME: Final = r"[^\d\s区县旗街社村号栋幢楼室]{1,14}?"
_DISTRICT: Final = re.compile(_GAP + _DISTRICT_NAME + r"(?:(?<![小校景])区|县|旗)")
_DISTRICT_AFTER_CITY: Final = re.compile(
    _GAP + _DISTRICT_NAME + r"(?:(?<![小校景])区|县|旗|(?<!超)市(?!场))"
)
_STREET: Final = re.compile(_GAP + r"[^\d\s社号栋幢楼室]{1,12}?(?:街道|镇|乡)")
_COMMUNITY: Final = re.compile(_GAP + r"[^\d\s号栋幢楼室单]{1,12}?(?:社区|村)")
_BUILDING: Final = re.compile(_GAP + r"[^\s,，、单室层户]{1,10}?(?:号楼|栋|幢)")
# Same order as ADDRESS_LEVELS; the district entry is swapped for
# _DISTRICT_AFTER_CITY once a city has been found.
_COMPONENTS: Final = (_PROVINCE, _CITY, _DISTRICT, _STREET, _COMMUNITY, _BUILDING)
_CITY_DEPTH: Final = 1
_DISTRICT_DEPTH: Final = 2
_LEVEL_DEPTH: Final[dict[str, int]] = {level: i for i, level in enumerate(ADDRESS_LEVELS)}


def mask_generic(v: str, keep_start: int = 1, keep_end: int = 1, char: str = MASK_CHAR) -> str:
    """Keep `keep_start` leading and `keep_end` trailing characters, mask the rest.

    The result has the input's length and always hides at least one character:
    when the kept parts would cover everything, the end is given up first.
    """
    n = len(v)
    if n == 0:
        return ""
    char = char or MASK_CHAR
    start = min(max(keep_start, 0), n - 1)
    end = min(max(keep_end, 0), n - 1 - start)
    return v[:start] + char * (n - start - end) + (v[n - end :] if end else "")


def mask_name(v: str) -> str:
    """张三 -> 张*, 张三丰 -> 张**, 欧阳娜娜 -> 欧阳**, 张 -> *.

    A compound surname is kept only when a given name follows it; a
    two-character name is read as surname + given name either way.
    """
    name = v.strip()
    if len(name) > 2 and name[:2] in COMPOUND_SURNAMES:
        return name[:2] + MASK_CHAR * (len(name) - 2)
    return mask_generic(name, keep_start=1, keep_end=0)


def mask_mobile(v: str) -> str:
    """13812345678 (also +86 138-1234-5678, full-width) -> 138****5678.

    Anything that is not a mainland mobile after normalising is masked
    generically; the country prefix is never shown.
    """
    number = normalise_identifier(v)
    if MAINLAND_MOBILE.fullmatch(number):
        return number[:3] + "****" + number[7:]
    return mask_generic(number)


def mask_id_number(v: str, show_birth_year: bool = False) -> str:
    """18-digit resident ID -> the 6-digit region code, the rest masked
    (110105************); legacy 15-digit ID -> 110105*********.

    The birth date, the sequence (whose last digit is the gender) and the
    check character are always hidden: with the check character and the
    sequence shown, an age released beside the mask leaves only a few dozen
    possible ID numbers. `show_birth_year` also shows the birth year
    (1101051949********, legacy 11010549*******) for releases that need it and
    carry nothing that narrows it further. Check digits are not verified: a
    mistyped ID must be masked just as well."""
    number = normalise_identifier(v)
    if _ID_18.fullmatch(number):
        kept = 10 if show_birth_year else 6
    elif _ID_15.fullmatch(number):
        kept = 8 if show_birth_year else 6
    else:
        return mask_generic(number)
    return number[:kept] + MASK_CHAR * (len(number) - kept)


def mask_address(v: str, level: str = "community") -> str:
    """Keep a Chinese address down to `level` and replace the rest by "***".

    北京市朝阳区幸福街道和平社区3号楼2单元501室, "district" -> 北京市朝阳区***.
    When `level` is absent the deepest level above it that is present is kept
    (北京市 is both province and city). "***" is omitted when nothing follows.
    With nothing recognisable at or above `level`, or an unknown level, the
    kept prefix is empty and the result is "***" (or "" for blank input):
    unlike mask_generic this reveals neither the first character, which may
    be a finer place name than asked for (广州市 when "province" was asked),
    nor the length.
    """
    depth = _LEVEL_DEPTH.get(level)
    end = 0 if depth is None else _address_prefix_end(v, depth)
    kept = v[:end]
    return kept + ADDRESS_REST if v[end:].strip() else kept


def _address_prefix_end(v: str, depth: int) -> int:
    """Index just past the deepest component at or above `depth` (0: none)."""
    pos = 0
    city_found = False
    for level_depth in range(depth + 1):
        pattern = _COMPONENTS[level_depth]
        if level_depth == _DISTRICT_DEPTH and city_found:
            pattern = _DISTRICT_AFTER_CITY
        match = pattern.match(v, pos)
        if match is not None:
            pos = match.end()
            city_found = city_found or level_depth == _CITY_DEPTH
    return pos
