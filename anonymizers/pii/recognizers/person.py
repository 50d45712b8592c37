"""Chinese person names: a surname list, cue words and jieba's part-of-speech
tags.

A name is a surname (single, or compound such as 欧阳) and one or two given
characters. Evidence, strongest first:

1. a cue word right before it: 我叫, 联系人, 居民, 邻居, 车主, 姓名:, titles
   such as 书记 or 经理 (score 0.95);
2. the whole value is a name, as in a name column (0.85);
3. a compound surname that is not also an everyday word (欧阳, 司马 ...),
   or a weak cue (的, 和, 请, clause start ...) before a surname with a clear
   end after the given name (punctuation, 家, 长期, 先生 ...) (0.8);
4. jieba's tagger calls it a person name (nr, nrfg, nrt), or tags a lone
   surname followed by given-name characters (0.75).

Without a cue word (3 and 4) the given name must be made of common given-name
characters, a two-character candidate must not be a frequent dictionary word
(高峰, 阳光), and surnames that are everyday words (高, 方, 和 ...) need a
clear end such as 家 or 先生. Nothing directly followed by 社区, 村, 区 ... is
a name: that is a place (向阳社区, 岳麓区).

Where the given name ends (王淑英家 / 刘雪家, 张伟明天) is decided by the end
words and jieba's dictionary, then by its tagger. Tagging is the expensive step
(about 1 ms for a whole text), so it runs only on a short window after a
surname that the cheaper evidence did not settle, that is followed by a common
given-name character and that does not sit inside an ordinary dictionary word
(高龄, 地方, 光明).
"""

from __future__ import annotations

import re
from typing import ClassVar, Final

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from anonymizers.pii import segment
from anonymizers.pii.recognizers.base import make_result
from anonymizers.pii.recognizers.surnames import (
    AMBIGUOUS_COMPOUNDS,
    AMBIGUOUS_SURNAMES,
    COMPOUND_SURNAMES,
    GIVEN_NAME_CHARS,
    SINGLE_SURNAMES,
)
from anonymizers.pii.text import HAN, fold_width, is_han

__all__ = ["CnPersonNameRecognizer"]

#: Words that are followed by a name: 联系人张伟, 我叫王秀英, 姓名：李娜, 书记王芳.
STRONG_CUES: Final = (
    "我叫", "名叫", "叫做", "本人", "来电人", "来电者", "联系人", "姓名", "居民", "邻居",
    "车主", "户主", "业主", "租户", "房东", "患者", "家属", "报警人", "反映人", "投诉人",
    "当事人", "申请人", "收件人", "监护人", "网格员", "经办人", "委托人", "负责人",
    "工作人员", "志愿者", "签收人", "老伴", "丈夫", "妻子", "儿子", "女儿", "老人", "户名",
    "经营者", "法人", "法定代表人", "署名", "持卡人", "开户人", "同学", "母亲", "父亲",
    "书记", "主任", "经理", "楼长", "保安", "保洁员", "民警", "医生", "护士", "社工",
    "站长", "组长", "队长", "会长", "委员", "感谢",
)  # fmt: skip
#: Characters after which a name may start (besides a clause start).
WEAK_CUES: Final = frozenset("的和与及、跟同找让给叫是对把被向由请据")
#: Words that end a given name: 王淑英家, 孙强（, 刘雪长期, 李娜先生.
END_WORDS: Final = (
    "家", "的", "在", "住", "说", "是", "和", "与", "及", "等", "也", "又", "已", "都",
    "一直", "长期", "经常", "总是", "每天", "天天", "多次", "占用", "把", "将", "被", "让",
    "给", "对", "从", "向", "先生", "女士", "同志", "老师", "师傅", "大爷", "大妈", "阿姨",
    "奶奶", "爷爷", "老人", "电话", "手机", "联系", "身份证", "反映", "投诉", "来电", "称",
    "表示", "要求", "希望", "今年", "现年", "男", "女", "岁", "去世", "独居", "同意",
    "和他", "带", "开", "在家", "家里", "来", "去", "到", "两家", "护照", "咨询", "申请",
    "办理", "上门", "负责", "一家", "夫妇", "母子", "父子", "邮箱", "微信", "地址", "住址",
    "银行", "卡号", "账号", "社保卡", "车牌", "的车",
)  # fmt: skip
#: What may follow a name whose surname is also an everyday word (高, 文 ...).
NAME_FOLLOWERS: Final = (
    "家", "先生", "女士", "同志", "老师", "师傅", "大爷", "大妈", "阿姨", "奶奶", "爷爷",
    "长期", "一直", "经常", "（", "(", "，", ",", "、", "。",
)  # fmt: skip
#: What follows a place name, not a person's: 向阳社区, 红星村, 岳麓区 (but 王刚区长).
PLACE_SUFFIX: Final = re.compile(
    "社区|小区|花园|家园|嘉园|新村|公寓|大厦|街道|大街|大道|胡同|广场|[村苑镇乡]|[区县市](?!长)"
)
#: Characters that never belong to a given name.
NON_GIVEN: Final = frozenset(
    "的了在是我你他她它们这那个家号楼栋单元室区市省县路街村社镇乡年月日时分岁钱块吗呢吧"
    "啊呀哦嘛和与及或把被给从到就都也还很又已请说让对跟等但而且并不没无"
)
PERSON_TAGS: Final = frozenset({"nr", "nrfg", "nrt"})
#: Tags jieba gives to given names it does not know as names (桂兰 ns, 建华 nz).
GIVEN_TAGS: Final = frozenset({"nz", "ns", "n", "a", "nrfg"})
#: A dictionary word this frequent and not tagged as a name is not a name (白天, 高龄).
COMMON_WORD_FREQ: Final = 300
#: A two-character dictionary word this frequent is a word, even if jieba tags
#: it as a name (高峰, 阳光, 谢谢); also ends a given name before it (张伟|明天).
FREQUENT_WORD: Final = 500

#: Without a cue, a two-character dictionary word this frequent that jieba does
#: not tag as a name is a word (高龄).
RARE_WORD_FREQ: Final = 20

_SINGLES: Final = "".join(sorted(SINGLE_SURNAMES))
_SURNAME_RE: Final = re.compile(
    "(?:" + "|".join(sorted(COMPOUND_SURNAMES)) + ")|[" + _SINGLES + "]"
)
_CUE_RE: Final = re.compile("(?:" + "|".join(STRONG_CUES) + ")[: ]?")
_HAN_RUN: Final = re.compile("[" + HAN + "]+")
_MAX_WHOLE_VALUE: Final = 4
_TAG_WINDOW: Final = 6  # a compound surname, two given characters and two more

Spans = dict[tuple[int, int], float]


class CnPersonNameRecognizer(LocalRecognizer):
    """PERSON in Chinese text (see the module docstring for the evidence used)."""

    COUNTRY_CODE: ClassVar[str | None] = "cn"

    ENTITY: ClassVar[str] = "PERSON"
    CUE_SCORE: ClassVar[float] = 0.95
    WHOLE_VALUE_SCORE: ClassVar[float] = 0.85
    WEAK_CUE_SCORE: ClassVar[float] = 0.8
    TAGGED_SCORE: ClassVar[float] = 0.75

    def __init__(self, supported_language: str = "zh", name: str | None = None) -> None:
        super().__init__(
            supported_entities=[self.ENTITY],
            name=name or type(self).__name__,
            supported_language=supported_language,
            context=list(STRONG_CUES),
            version="1.0.0",
        )
        self.recognizer_name: str = name or type(self).__name__

    def load(self) -> None:
        """Load jieba's dictionary now rather than on the first text."""
        segment.ensure_loaded()

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        """Find person names; offsets are in `text` itself."""
        folded = fold_width(text)
        if _SURNAME_RE.search(folded) is None:
            return []
        found: Spans = {}
        self._whole_value(folded, found)
        self._after_cues(folded, found)
        self._without_cues(folded, found)
        evidence = {
            self.CUE_SCORE: "cue word",
            self.WHOLE_VALUE_SCORE: "whole value",
            self.WEAK_CUE_SCORE: "weak cue or compound surname",
            self.TAGGED_SCORE: "part-of-speech tag",
        }
        return [
            make_result(self.recognizer_name, self.id, self.ENTITY, span, score, evidence[score])
            for span, score in sorted(found.items())
        ]

    # -- evidence ---------------------------------------------------------------------

    def _whole_value(self, text: str, found: Spans) -> None:
        stripped = text.strip()
        if not 2 <= len(stripped) <= _MAX_WHOLE_VALUE or not all(map(is_han, stripped)):
            return
        surname = _surname_at(stripped, 0)
        given = stripped[len(surname) :]
        if surname and 1 <= len(given) <= 2 and _given_prefix(given) == given:
            start = text.index(stripped)
            if _acceptable(text, start, start + len(stripped), strict=True):
                _keep(found, start, start + len(stripped), self.WHOLE_VALUE_SCORE)

    def _after_cues(self, text: str, found: Spans) -> None:
        for cue in _CUE_RE.finditer(text):
            start = cue.end()
            surname = _surname_at(text, start)
            if surname in AMBIGUOUS_SURNAMES and _common_word(text[start : start + 2]):
                continue  # 居民居住证: 居 starts the word 居住
            end = _name_end(text, start, mode="default")
            if end is not None and _acceptable(text, start, end, strict=False):
                _keep(found, start, end, self.CUE_SCORE)

    def _without_cues(self, text: str, found: Spans) -> None:
        covered = list(found)
        for run in _HAN_RUN.finditer(text):
            for candidate in _SURNAME_RE.finditer(run.group()):
                start = run.start() + candidate.start()
                surname = candidate.group()
                first_given = start + len(surname)
                if (
                    any(s <= start < e for s, e in covered)
                    or (surname in WEAK_CUES and _surname_at(text, first_given))  # 由李慧
                    or first_given >= run.end()
                    or text[first_given] not in GIVEN_NAME_CHARS
                    or text[first_given] == surname
                    or not _worth_tagging(text, start, surname)
                ):
                    continue
                end = self._weak_evidence(text, start, surname, run.start())
                score = self.WEAK_CUE_SCORE
                if end is None:
                    end = _tagged_name_at(text, start, run.end())
                    score = self.TAGGED_SCORE
                if end is not None and _acceptable(text, start, end, strict=True):
                    _keep(found, start, end, score)
                    covered.append((start, end))

    @staticmethod
    def _weak_evidence(text: str, start: int, surname: str, run_start: int) -> int | None:
        """End of a name supported by a compound surname or a weak cue, or None."""
        if len(surname) == 2 and surname not in AMBIGUOUS_COMPOUNDS:
            end = _name_end(text, start, mode="confirm")
        elif start == run_start or text[start - 1] in WEAK_CUES:
            end = _name_end(text, start, mode="strict")
            clear_end = end is not None and (
                text.startswith(NAME_FOLLOWERS, end) or end == len(text)
            )
            if surname in AMBIGUOUS_SURNAMES and not clear_end:
                return None
        else:
            return None
        if end is None or not _common_given(text[start + len(surname) : end]):
            return None
        return end if _acceptable(text, start, end, strict=True) else None


def _keep(found: Spans, start: int, end: int, score: float) -> None:
    if score > found.get((start, end), 0.0):
        found[(start, end)] = score


def _surname_at(text: str, i: int) -> str:
    """The surname starting at `i` ('' if none); compound surnames first."""
    if text[i : i + 2] in COMPOUND_SURNAMES:
        return text[i : i + 2]
    return text[i] if i < len(text) and text[i] in SINGLE_SURNAMES else ""


def _givenable(text: str, i: int) -> bool:
    return i < len(text) and is_han(text[i]) and text[i] not in NON_GIVEN


def _common_given(chars: str) -> bool:
    """Common given-name characters, and not a title such as 先生 or 老师."""
    return all(c in GIVEN_NAME_CHARS for c in chars) and not chars.startswith(END_WORDS)


def _boundary(text: str, i: int) -> bool:
    return i >= len(text) or not is_han(text[i]) or text.startswith(END_WORDS, i)


def _word_after_given(text: str, given: int) -> int | None:
    """Where a frequent word after one or two given characters starts, by
    jieba's segmentation of what follows the surname: 张伟|明天上午 -> after
    伟, 刘兰英|明天上午 -> after 英. None when no frequent word starts there."""
    run = _HAN_RUN.match(text, given)
    if run is None:
        return None
    offset = given
    for word in segment.cut(text[given : min(run.end(), given + _TAG_WINDOW)]):
        if offset - given in (1, 2) and len(word) >= 2:
            if offset - given == 2 and not _givenable(text, given + 1):
                return None
            frequent = segment.word_freq(word) >= FREQUENT_WORD and not _is_name_tag(word)
            return offset if frequent else None
        offset += len(word)
        if offset - given > 2:
            return None
    return None


def _name_end(text: str, start: int, *, mode: str) -> int | None:
    """End of the name starting at `start`, or None when none starts there.

    A clear end after one or two given characters decides (刘建国|家 before
    刘建|国家), then a frequent word that jieba cuts right after them
    (张伟|明天上午, 刘兰英|明天上午). Otherwise: mode "strict"
    gives up, "confirm" asks jieba's tagger and gives up if it disagrees,
    "default" asks the tagger and else takes two given characters.
    """
    surname = _surname_at(text, start)
    if not surname:
        return None
    given = start + len(surname)
    if not _givenable(text, given) or text[given] == surname:  # 谢谢, 常常
        return None
    if text.startswith(END_WORDS, given):  # 王先生, 李老师: a title, not a given name
        return None
    if _boundary(text, given + 1):
        return given + 1
    if _givenable(text, given + 1) and _boundary(text, given + 2):
        return given + 2
    split = _word_after_given(text, given)
    if split is not None:
        return split
    if mode == "strict":
        return None
    run = _HAN_RUN.match(text, start)
    end = _tagged_name_at(text, start, run.end()) if run else None
    if end is not None or mode == "confirm":
        return end
    return given + 2 if _givenable(text, given + 1) else given + 1


def _tagged_name_at(text: str, start: int, run_end: int) -> int | None:
    """End of the name jieba's tagger finds at `start`, or None.

    The tagger sees a window of the surname and the next few characters only:
    tagging cost grows with the length of unknown character runs, and what
    comes later in the clause does not change where a name starting here ends.
    """
    window = text[start : min(run_end, start + _TAG_WINDOW)]
    for s, e in _tagged_names(window):
        if s == 0:
            return start + e
    return None


def _is_name_tag(word: str) -> bool:
    return segment.word_tag(word) in PERSON_TAGS


def _acceptable(text: str, start: int, end: int, *, strict: bool) -> bool:
    """Final checks on a name candidate: not an ordinary word, not the name of a
    place (followed by 社区, 村 ...); `strict` (no cue word before it) also
    rejects two-character dictionary words: frequent ones even when jieba tags
    them as names (阳光), rarer ones when it does not (高龄)."""
    word = text[start:end]
    if _common_word(word) or PLACE_SUFFIX.match(text, end):
        return False
    if not strict or len(word) != 2:
        return True
    freq = segment.word_freq(word)
    return freq < FREQUENT_WORD and not (freq >= RARE_WORD_FREQ and not _is_name_tag(word))


def _common_word(word: str) -> bool:
    """An ordinary dictionary word that jieba does not tag as a name."""
    tag = segment.word_tag(word)
    return (
        segment.word_freq(word) >= COMMON_WORD_FREQ and tag is not None and tag not in PERSON_TAGS
    )


def _worth_tagging(text: str, start: int, surname: str) -> bool:
    """False when the surname is inside an ordinary word (高龄, 地方, 光明)."""
    if len(surname) == 2:
        return True
    after = text[start : start + 2]
    before = text[start - 1 : start + 1] if start else ""
    return not (
        (len(after) == 2 and _common_word(after)) or (len(before) == 2 and _common_word(before))
    )


def _given_prefix(chars: str) -> str:
    """The leading characters of `chars` that can belong to a given name."""
    for i, char in enumerate(chars):
        if not is_han(char) or char in NON_GIVEN:
            return chars[:i]
    return chars


def _tagged_names(clause: str) -> list[tuple[int, int]]:
    """Names jieba's tagger finds in a run of Chinese characters (clause offsets).

    - a surname word (王, or a compound: 上官) followed by a word of one or two
      common given-name characters that the tagger calls a name, or that it tags
      as a noun or adjective (桂兰 ns) when the surname itself is tagged as a
      name; a compound surname also takes given characters from a longer word
      (慕容 + 彬去 -> 慕容彬);
    - a word tagged as a name that starts with a surname, cut back before any
      character that cannot be in a given name (刘雪家 -> 刘雪).
    """
    words = segment.posseg(clause)
    starts = [0]
    for word, _ in words:
        starts.append(starts[-1] + len(word))
    names: list[tuple[int, int]] = []
    k = 0
    while k < len(words):
        word, flag = words[k]
        start = starts[k]
        k += 1
        surname = _surname_at(word, 0)
        if not surname:
            continue
        if word == surname and k < len(words):
            nxt, nxt_flag = words[k]
            given = _given_prefix(nxt)[:2]
            tagged = nxt_flag in PERSON_TAGS or (flag in PERSON_TAGS and nxt_flag in GIVEN_TAGS)
            whole_word = given == nxt and (tagged or len(surname) == 2)
            from_longer = len(surname) == 2 and given != nxt and len(given) >= 1
            if (
                (whole_word or from_longer)
                and _common_given(given)
                and not _common_word(nxt)
                and (surname not in AMBIGUOUS_COMPOUNDS or nxt_flag in PERSON_TAGS)
            ):
                names.append((start, start + len(surname) + len(given)))
                k += 1
                continue
        if flag in PERSON_TAGS and len(surname) < len(word) <= len(surname) + 2:
            given = _given_prefix(word[len(surname) :])  # 刘雪家 -> 刘雪
            if given and given != surname and _common_given(given):
                end = start + len(surname) + len(given)
                if len(given) == 1 and given == word[len(surname) :] and k < len(words):
                    nxt, nxt_flag = words[k]  # 霍金 + 凤 -> 霍金凤
                    if len(nxt) == 1 and nxt_flag in PERSON_TAGS and _common_given(nxt):
                        end += 1
                        k += 1
                names.append((start, end))
    return names
