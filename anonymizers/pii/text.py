"""Text helpers shared by the recognizers: a same-length width normalisation
(so offsets found in the normalised text are offsets in the original) and
context-window look-ups.

Recognizers match on :func:`fold_width` of the text, never on NFKC: NFKC may
change the length of a string (``㎡`` becomes ``m2``), which would shift every
offset after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

__all__ = [
    "HAN",
    "fold_width",
    "has_context",
    "is_han",
]

#: The CJK Unified Ideographs block, for character classes.
HAN: Final = "\u4e00-\u9fff"

_FULL_WIDTH_OFFSET: Final = 0xFEE0  # U+FF01..U+FF5E -> U+0021..U+007E

# One code point in, one code point out: full-width ASCII forms, the ideographic
# space and the dashes people type inside numbers. Nothing else is touched.
_WIDTH_TABLE: Final[dict[int, int]] = {
    **{code: code - _FULL_WIDTH_OFFSET for code in range(0xFF01, 0xFF5F)},
    0x3000: ord(" "),  # ideographic space
    0x00A0: ord(" "),  # no-break space
    **dict.fromkeys((0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212), ord("-")),
}


def fold_width(text: str) -> str:
    """Map full-width ASCII forms (``１３８``, ``Ｅ``, ``＠``), the ideographic
    space and Unicode dashes to their ASCII forms, one character for one.

    ``len(fold_width(s)) == len(s)`` always holds, so a span found in the
    folded text is the same span in ``s``.
    """
    return text.translate(_WIDTH_TABLE)


def is_han(char: str) -> bool:
    """True for a single CJK unified ideograph."""
    return "\u4e00" <= char <= "\u9fff"


def has_context(
    text: str,
    start: int,
    end: int,
    words: Iterable[str],
    *,
    before: int = 16,
    after: int = 0,
) -> bool:
    """True when one of `words` occurs within `before` characters before
    `start` or `after` characters after `end` (windows clipped to the text)."""
    left = text[max(0, start - before) : start]
    right = text[end : end + after] if after else ""
    return any(word in left or (right and word in right) for word in words)
