"""Chinese addresses: a chain of components from province down to room.

Components, in order: province (from the list of provincial-level divisions),
city (…市/自治州/地区/盟), district (…区/县/旗, or a county-level …市),
street or town (…街道/镇/乡), road (…路/街/大街/大道/巷/胡同/弄), house number
(88号), community or estate (…社区/小区/村/花园/家园/公寓/大厦/苑), building
(3号楼/3栋/B座/3组), unit (2单元), floor (5层) and room (502室, or 502 after a unit).

An address is a run of at least two adjacent components, in that order,
starting with a named one (province to community) and reaching at least the
street level: 北京市朝阳区幸福街道, 和平社区3号楼, 建国路88号. A district
alone (北京市朝阳区) or a community alone (和平社区) is not reported, nor is a
building and room without a place (3号楼502).

Where an unanchored place name starts (影响友谊社区 -> 友谊社区) is decided
with jieba's segmentation of the clause.
"""

from __future__ import annotations

import re
from typing import ClassVar, Final, NamedTuple

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from anonymizers.pii import segment
from anonymizers.pii.recognizers.base import make_result
from anonymizers.pii.text import HAN, fold_width, has_context

__all__ = ["CnAddressRecognizer"]

# Characters that end or cannot be part of a place name.
_EXCLUDED: Final = "省市区县旗镇乡街道路巷弄村社号栋幢单元室层的了在是住我你他她们这那个每有"
_PLACE: Final = r"[^\W\da-zA-Z_" + _EXCLUDED + "]"
_NUMBER: Final = "(?:[0-9]+|[一二三四五六七八九十]+)"

PROVINCES: Final = (
    "(?:北京|天津|上海|重庆)市"
    "|(?:河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南"
    "|四川|贵州|云南|陕西|甘肃|青海|台湾)省"
    "|内蒙古自治区|广西壮族自治区|西藏自治区|宁夏回族自治区|新疆维吾尔自治区"
    "|(?:香港|澳门)特别行政区"
)


class _Level(NamedTuple):
    name: str
    regex: re.Pattern[str]
    named: bool  # a place name (can start an address)
    fine: bool  # street level or below


_LEVELS: Final = (
    _Level("province", re.compile(PROVINCES), named=True, fine=False),
    _Level(
        "city", re.compile(_PLACE + "{2,7}?(?:自治州|地区|(?<!超)市|盟)"), named=True, fine=False
    ),
    _Level(
        "district",
        re.compile(
            "市[南北中]区|"
            + _PLACE
            + "{1,6}?(?:新区|自治县|(?<![社小校景园片营厂])区|县|旗|(?<!超)市(?!场))"
        ),
        named=True,
        fine=False,
    ),
    _Level("street", re.compile(_PLACE + "{2,6}?(?:街道|镇|乡)"), named=True, fine=True),
    _Level(
        "road", re.compile(_PLACE + "{1,8}?(?:大街|大道|路|街|巷|胡同|弄)"), named=True, fine=True
    ),
    _Level("house", re.compile(r"[0-9]+(?:-[0-9]+)?号(?!楼)院?"), named=False, fine=True),
    _Level(
        "community",
        re.compile(_PLACE + "{2,8}?(?:社区|小区|新村|村|花园|家园|嘉园|公寓|大厦|苑)"),
        named=True,
        fine=True,
    ),
    _Level(
        "building",
        # 3号楼, 3栋, B座, 3组; a house number after a village or estate (太子城村8号)
        re.compile("(?:" + _NUMBER + "|[A-Z])(?:号楼|栋|幢|座|组)|[0-9]+(?:-[0-9]+)?号(?!楼)院?"),
        named=False,
        fine=True,
    ),
    _Level("unit", re.compile(_NUMBER + "单元"), named=False, fine=True),
    _Level("floor", re.compile(r"[0-9]+层"), named=False, fine=True),
    _Level(
        "room",
        re.compile(r"[0-9]+(?:室|房)|[0-9]{3,4}(?![0-9年月日号元块个天岁点次人户层栋%.])"),
        named=False,
        fine=True,
    ),
)
_MARKED_ROOM: Final = re.compile(r"[0-9]+(?:室|房)")
_BARE_ROOM_AFTER: Final = frozenset({"building", "unit", "floor"})
_DISTRICT: Final = 2
_ROOM: Final = len(_LEVELS) - 1

# Where a named component may end; its name is found by looking back from here.
_SUFFIX: Final = re.compile(
    "(?:" + PROVINCES + ")|自治州|地区|新区|自治县|街道|大街|大道|胡同|社区|小区|新村|花园|家园"
    "|嘉园|公寓|大厦|市|区|县|旗|镇|乡|路|街|巷|弄|村|苑|盟"
)
# Districts whose name starts with 市 (青岛市市南区).
_CITY_DISTRICT: Final = re.compile("市[南北中]区")
_PREFILTER: Final = re.compile("[省市区县旗镇乡街路巷弄村苑园寓厦]")
_PLACE_CHAR: Final = re.compile(_PLACE)
_HAN_RUN: Final = re.compile("[" + HAN + "]+")
_MUNICIPALITIES: Final = frozenset({"北京", "天津", "上海", "重庆"})
_MAX_NAME: Final = 8
_CONTEXT_CHARS: Final = 4
_SHORT_NAME: Final = 2
_MIN_COMPONENTS: Final = 2


class CnAddressRecognizer(LocalRecognizer):
    """CN_ADDRESS: see the module docstring for what counts as an address."""

    COUNTRY_CODE: ClassVar[str | None] = "cn"

    ENTITY: ClassVar[str] = "CN_ADDRESS"
    CONTEXT: ClassVar[tuple[str, ...]] = ("住址", "地址", "家住", "住在", "居住", "户籍", "现住")
    BASE_SCORE: ClassVar[float] = 0.6
    PER_COMPONENT: ClassVar[float] = 0.1
    CONTEXT_BONUS: ClassVar[float] = 0.1

    def __init__(self, supported_language: str = "zh", name: str | None = None) -> None:
        super().__init__(
            supported_entities=[self.ENTITY],
            name=name or type(self).__name__,
            supported_language=supported_language,
            context=list(self.CONTEXT),
            version="1.0.0",
        )
        self.recognizer_name: str = name or type(self).__name__

    def load(self) -> None:
        """Nothing to load up front: jieba is loaded on first need."""

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        """Find addresses; offsets are in `text` itself."""
        folded = fold_width(text)
        if _PREFILTER.search(folded) is None:
            return []
        results: list[RecognizerResult] = []
        covered_to = 0
        for start in _starts(folded):
            if start < covered_to:
                continue
            chain = _chain(folded, start)
            if not _is_address(chain):
                continue
            end = chain[-1][2]
            score = self.BASE_SCORE + self.PER_COMPONENT * (len(chain) - _MIN_COMPONENTS)
            if has_context(folded, start, end, self.CONTEXT, before=8):
                score += self.CONTEXT_BONUS
            how = "+".join(_LEVELS[level].name for level, _, _ in chain)
            results.append(
                make_result(
                    self.recognizer_name, self.id, self.ENTITY, (start, end), min(score, 0.95), how
                )
            )
            covered_to = end
        return results


def _starts(text: str) -> list[int]:
    """Positions where a named component may start, in order."""
    starts: set[int] = {m.start() for m in _CITY_DISTRICT.finditer(text)}
    for match in _SUFFIX.finditer(text):
        suffix = match.group()
        if suffix == "市" and _CITY_DISTRICT.match(text, match.start()):
            continue
        if suffix.endswith(("省", "自治区", "特别行政区")) or suffix[:2] in _MUNICIPALITIES:
            starts.add(match.start())  # a province from the list: its start is known
            continue
        start = _name_start(text, match.start())
        if start is not None:
            starts.add(start)
    return sorted(starts)


def _name_start(text: str, suffix_at: int) -> int | None:
    """Start of the place name that ends where a suffix begins, or None."""
    start = suffix_at
    while start > 0 and suffix_at - start < _MAX_NAME and _PLACE_CHAR.match(text, start - 1):
        start -= 1
    if start == suffix_at:
        return None
    if suffix_at - start <= _SHORT_NAME:
        return start
    # Longer than two characters: keep the words jieba puts right before the suffix.
    # jieba sees a window around the name (what lies further away does not move
    # the word boundaries inside it, and the cost stays bounded).
    window_start = max(_run_start(text, start), start - _CONTEXT_CHARS)
    window = _HAN_RUN.match(text, window_start, suffix_at + _CONTEXT_CHARS)
    if window is None:
        return start
    boundaries = {window.start()}
    offset = window.start()
    for word in segment.cut(window.group()):
        offset += len(word)
        boundaries.add(offset)
    candidates = [b for b in boundaries if start <= b <= suffix_at - _SHORT_NAME]
    if candidates:
        return max(candidates)
    # A name starting inside a word that jieba reads across the boundary.
    return start


def _run_start(text: str, i: int) -> int:
    while i > 0 and "\u4e00" <= text[i - 1] <= "\u9fff":
        i -= 1
    return i


def _chain(text: str, pos: int) -> list[tuple[int, int, int]]:
    """Components (level, start, end) matched one after another from `pos`."""
    chain: list[tuple[int, int, int]] = []
    after = -1
    while True:
        for level in range(after + 1, len(_LEVELS)):
            spec = _LEVELS[level]
            if not chain and not spec.named:
                continue
            if level == _ROOM and _LEVELS[chain[-1][0]].name not in _BARE_ROOM_AFTER:
                match = _MARKED_ROOM.match(text, pos)
            else:
                match = spec.regex.match(text, pos)
            if match is not None:
                chain.append((level, match.start(), match.end()))
                pos = match.end()
                after = level
                break
        else:
            return chain
        if level == _DISTRICT and text.startswith("市", pos - 1) and len(chain) == 1:
            # A first component ending in 市 is a city, not a county-level city.
            chain[-1] = (1, chain[-1][1], chain[-1][2])
            after = 1


def _is_address(chain: list[tuple[int, int, int]]) -> bool:
    return (
        len(chain) >= _MIN_COMPONENTS
        and _LEVELS[chain[0][0]].named
        and any(_LEVELS[level].fine for level, _, _ in chain)
    )
