"""The Chinese recognizer set as a presidio `RecognizerRegistry`, so it can be
plugged into any presidio `AnalyzerEngine` (language "zh")."""

from __future__ import annotations

from typing import Final

from presidio_analyzer import EntityRecognizer, RecognizerRegistry

from anonymizers.pii.recognizers import (
    CnAddressRecognizer,
    CnBankCardRecognizer,
    CnEmailRecognizer,
    CnLandlineRecognizer,
    CnMobileRecognizer,
    CnPassportRecognizer,
    CnPersonNameRecognizer,
    CnPlateRecognizer,
    CnResidentIdRecognizer,
    CnTravelPermitRecognizer,
    CnUsccRecognizer,
)
from anonymizers.pii.recognizers.base import ChinesePatternRecognizer

__all__ = ["LANGUAGE", "RECOGNIZER_CLASSES", "build_recognizers", "build_registry"]

LANGUAGE: Final = "zh"

RecognizerClass = (
    type[ChinesePatternRecognizer] | type[CnPersonNameRecognizer] | type[CnAddressRecognizer]
)

#: One class per entity, in the order of `anonymizers.pii.ENTITIES`.
RECOGNIZER_CLASSES: Final[tuple[RecognizerClass, ...]] = (
    CnResidentIdRecognizer,
    CnMobileRecognizer,
    CnLandlineRecognizer,
    CnUsccRecognizer,
    CnBankCardRecognizer,
    CnPlateRecognizer,
    CnPassportRecognizer,
    CnTravelPermitRecognizer,
    CnEmailRecognizer,
    CnPersonNameRecognizer,
    CnAddressRecognizer,
)


def build_recognizers() -> list[EntityRecognizer]:
    """A fresh instance of every Chinese recognizer (language "zh")."""
    return [cls(supported_language=LANGUAGE) for cls in RECOGNIZER_CLASSES]


def build_registry() -> RecognizerRegistry:
    """A presidio registry holding only the Chinese recognizers."""
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    for recognizer in build_recognizers():
        registry.add_recognizer(recognizer)
    return registry
