"""The base of the regex recognizers: a presidio `PatternRecognizer` that
matches on the width-folded text with the standard `re` module and scores
each match itself.

Why not presidio's own matching loop: its global flags include IGNORECASE
(plates, passports and credit codes are upper-case by definition), it builds an
explanation object per match, and its context enhancer needs lemmas from an NLP
pipeline. Here a recognizer declares its patterns (kept as presidio `Pattern`
objects, so `to_dict` and registries work as usual), an optional cheap
prefilter, its context words, and a `score_match` hook that validates
(checksums) and weighs context; `analyze` returns presidio `RecognizerResult`s
with offsets in the original text.

Patterns never use ``\\b``: it fails next to Chinese characters. They use
``(?<![0-9A-Za-z])`` and ``(?![0-9A-Za-z])`` instead.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import AnalysisExplanation, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from anonymizers.pii.text import fold_width, has_context

__all__ = ["ChinesePatternRecognizer", "PatternSpec", "make_result"]

#: (pattern name, regular expression, base score)
PatternSpec = tuple[str, str, float]


def make_result(
    recognizer_name: str,
    recognizer_id: str,
    entity: str,
    span: tuple[int, int],
    score: float,
    how: str,
) -> RecognizerResult:
    """A presidio result with its explanation. The score already weighs context
    words, so it is marked as enhanced: presidio's own context enhancer (which
    needs lemmas) leaves it alone and both engines report the same scores."""
    explanation = AnalysisExplanation(
        recognizer=recognizer_name, original_score=score, pattern_name=how
    )
    explanation.textual_explanation = f"Detected by `{recognizer_name}` ({how})"
    return RecognizerResult(
        entity,
        span[0],
        span[1],
        score,
        analysis_explanation=explanation,
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: recognizer_name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer_id,
            RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,
        },
    )


class ChinesePatternRecognizer(PatternRecognizer):
    """Regex recognizer for Chinese text; subclasses set the class attributes
    and usually override `score_match`."""

    ENTITY: ClassVar[str]
    PATTERN_SPECS: ClassVar[tuple[PatternSpec, ...]]
    #: Words that raise the score when found just before (or after) a match.
    CONTEXT: ClassVar[tuple[str, ...]] = ()
    CONTEXT_BEFORE: ClassVar[int] = 16
    CONTEXT_AFTER: ClassVar[int] = 0
    #: Cheap test on the folded text; the patterns run only when it matches.
    PREFILTER: ClassVar[re.Pattern[str] | None] = None
    VERSION: ClassVar[str] = "1.0.0"

    def __init__(self, supported_language: str = "zh", name: str | None = None) -> None:
        patterns = [Pattern(p_name, regex, score) for p_name, regex, score in self.PATTERN_SPECS]
        super().__init__(
            supported_entity=self.ENTITY,
            name=name or type(self).__name__,
            supported_language=supported_language,
            patterns=patterns,
            context=list(self.CONTEXT),
            global_regex_flags=0,
            version=self.VERSION,
        )
        self.recognizer_name: str = name or type(self).__name__
        self._compiled = tuple((re.compile(regex), score) for _, regex, score in self.PATTERN_SPECS)

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Find this recognizer's entity in `text`; offsets are in `text` itself."""
        folded = fold_width(text)
        if self.PREFILTER is not None and self.PREFILTER.search(folded) is None:
            return []
        best: dict[tuple[int, int], tuple[float, str]] = {}
        for (regex, base_score), spec in zip(self._compiled, self.PATTERN_SPECS, strict=True):
            for match in regex.finditer(folded):
                score = self.score_match(folded, match, base_score)
                if score is None or score <= 0:
                    continue
                span = match.span()
                if score > best.get(span, (0.0, ""))[0]:
                    best[span] = (min(score, self.MAX_SCORE), spec[0])
        return [
            make_result(self.recognizer_name, self.id, self.ENTITY, span, score, how)
            for span, (score, how) in sorted(best.items())
        ]

    def score_match(self, text: str, match: re.Match[str], base_score: float) -> float | None:
        """Score of one match in the folded `text`, or None to drop it.

        Default: `validate_result` False drops the match, True gives the
        maximum score (presidio's convention), None keeps the base score.
        """
        valid = self.validate_result(match.group())
        if valid is False:
            return None
        return self.MAX_SCORE if valid else base_score

    def context_near(self, text: str, match: re.Match[str], words: tuple[str, ...] = ()) -> bool:
        """True when one of `words` (default: CONTEXT) is close to the match."""
        return has_context(
            text,
            match.start(),
            match.end(),
            words or self.CONTEXT,
            before=self.CONTEXT_BEFORE,
            after=self.CONTEXT_AFTER,
        )
