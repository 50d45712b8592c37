"""A presidio NLP engine on a blank spaCy Chinese pipeline: jieba word
segmentation, no trained model, nothing to download.

Only needed to run the recognizers inside presidio's own `AnalyzerEngine`
(`anonymizers.pii.build_analyzer`); `scan_text` does not use it. A component
copies each token's text to its lemma, so presidio's context enhancer (which
compares lemmas with context words) works without a lemmatiser.
"""

from __future__ import annotations

import spacy
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from spacy.language import Language
from spacy.tokens import Doc

__all__ = ["BLANK_MODEL_NAME", "BlankChineseNlpEngine", "blank_chinese_pipeline"]

BLANK_MODEL_NAME = "blank:zh"
_LEMMA_COMPONENT = "cdg_text_as_lemma"


@Language.component(_LEMMA_COMPONENT)
def _text_as_lemma(doc: Doc) -> Doc:
    for token in doc:
        token.lemma_ = token.text
    return doc


def blank_chinese_pipeline() -> Language:
    """spaCy's blank "zh" pipeline with the jieba segmenter and text-as-lemma."""
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    nlp.add_pipe(_LEMMA_COMPONENT)
    return nlp


class BlankChineseNlpEngine(SpacyNlpEngine):
    """`SpacyNlpEngine` whose "zh" pipeline is built in memory, never downloaded."""

    def __init__(self) -> None:
        super().__init__(models=[{"lang_code": "zh", "model_name": BLANK_MODEL_NAME}])

    def load(self) -> None:
        """Build the blank pipeline (no `spacy.load`, no download)."""
        # presidio declares the attribute as None in __init__ (no annotation).
        self.nlp = {"zh": blank_chinese_pipeline()}  # type: ignore[assignment]

    def get_supported_entities(self) -> list[str]:
        """None: a blank pipeline has no named-entity recognizer."""
        return []
