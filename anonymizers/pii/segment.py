"""Chinese word segmentation for the name and address recognizers: a thin,
lazily initialised wrapper around jieba's default dictionary.

jieba loads its dictionary (about a second, cached under the temp directory)
the first time a function here is called, never at import. Its log messages
("Building prefix dict ...") are lowered to warnings then.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Final

import jieba  # type: ignore[import-untyped]
import jieba.posseg  # type: ignore[import-untyped]

__all__ = ["cut", "ensure_loaded", "posseg", "word_freq", "word_tag"]

_lock: Final = threading.Lock()
_state: dict[str, bool] = {"loaded": False}


def ensure_loaded() -> None:
    """Load jieba's dictionary and part-of-speech tables (once per process)."""
    if _state["loaded"]:
        return
    with _lock:
        if not _state["loaded"]:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _state["loaded"] = True


def word_freq(word: str) -> int:
    """Frequency of `word` in jieba's dictionary (0: not a word)."""
    ensure_loaded()
    freq = jieba.dt.FREQ.get(word, 0)
    return int(freq) if freq else 0


def word_tag(word: str) -> str | None:
    """jieba's part-of-speech tag of a dictionary word (nr: person name)."""
    ensure_loaded()
    tag = jieba.posseg.dt.word_tag_tab.get(word)
    return str(tag) if tag is not None else None


@lru_cache(maxsize=2048)
def posseg(clause: str) -> tuple[tuple[str, str], ...]:
    """Words of `clause` with their part-of-speech tags (jieba.posseg, HMM on)."""
    ensure_loaded()
    return tuple((pair.word, pair.flag) for pair in jieba.posseg.dt.cut(clause))


@lru_cache(maxsize=2048)
def cut(clause: str) -> tuple[str, ...]:
    """Words of `clause` (jieba's accurate mode, HMM on)."""
    ensure_loaded()
    return tuple(jieba.dt.cut(clause))
