"""Running the recognizers: a thin engine of our own for speed, and presidio's
`AnalyzerEngine` for those who want presidio's full pipeline.

`ChinesePiiEngine` calls each recognizer of a presidio registry directly on the
text, without an NLP pipeline (the recognizers need none: the name and address
recognizers segment with jieba themselves), keeps findings at or above a
score, and resolves overlaps. It passes no NLP artifacts (None), so a registry
given to it should hold only recognizers that work without them (pattern
recognizers, these); presidio's `AnalyzerEngine` is the place for the others.

`get_engine` returns one process-wide instance, built on first use (a second or
two: presidio, jieba's dictionary), never at import.
"""

from __future__ import annotations

import threading
from collections.abc import Collection

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry

from anonymizers.pii.findings import Finding, resolve_overlaps
from anonymizers.pii.registry import LANGUAGE, build_registry

__all__ = ["ChinesePiiEngine", "build_analyzer", "get_engine"]


class ChinesePiiEngine:
    """Runs the "zh" recognizers of a registry and returns `Finding`s."""

    def __init__(self, registry: RecognizerRegistry | None = None) -> None:
        registry = registry if registry is not None else build_registry()
        self.recognizers: tuple[EntityRecognizer, ...] = tuple(
            registry.get_recognizers(language=LANGUAGE, all_fields=True)
        )
        self.entities: frozenset[str] = frozenset(
            entity for rec in self.recognizers for entity in rec.supported_entities
        )

    def analyze(
        self, text: str, *, entities: Collection[str] | None = None, min_score: float = 0.5
    ) -> list[Finding]:
        """Non-overlapping findings with a score of at least `min_score`, by start."""
        findings: list[Finding] = []
        for recognizer in self.recognizers:
            wanted = [
                entity
                for entity in recognizer.supported_entities
                if entities is None or entity in entities
            ]
            if not wanted:
                continue
            # No NLP artifacts: presidio annotates the parameter as required, but
            # pattern recognizers and ours accept None (see the module docstring).
            for result in recognizer.analyze(text, wanted, None):  # type: ignore[arg-type]
                if result.entity_type in wanted and result.score >= min_score:
                    findings.append(
                        Finding(result.entity_type, result.start, result.end, float(result.score))
                    )
        return resolve_overlaps(findings)


_lock = threading.Lock()
_engine: list[ChinesePiiEngine] = []


def get_engine() -> ChinesePiiEngine:
    """The process-wide engine, built on first call."""
    if not _engine:
        with _lock:
            if not _engine:
                _engine.append(ChinesePiiEngine())
    return _engine[0]


def build_analyzer(registry: RecognizerRegistry | None = None) -> AnalyzerEngine:
    """presidio's `AnalyzerEngine` for "zh" with the Chinese recognizers and the
    blank spaCy pipeline: slower than `scan_text` (it tokenises every text) but
    it is plain presidio, e.g. for `presidio_anonymizer` or extra recognizers."""
    from anonymizers.pii.nlp import BlankChineseNlpEngine  # spaCy: only needed here

    return AnalyzerEngine(
        registry=registry if registry is not None else build_registry(),
        nlp_engine=BlankChineseNlpEngine(),
        supported_languages=[LANGUAGE],
    )
