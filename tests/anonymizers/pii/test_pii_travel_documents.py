import pytest

from anonymizers.pii.recognizers import CnPassportRecognizer, CnTravelPermitRecognizer

PASSPORT = CnPassportRecognizer()
PERMIT = CnTravelPermitRecognizer()


def found(recognizer: CnPassportRecognizer | CnTravelPermitRecognizer, text: str) -> list[str]:
    results = recognizer.analyze(text, recognizer.supported_entities)
    return [text[r.start : r.end] for r in results if r.score >= 0.5]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("护照号E12345678", ["E12345678"]),
        ("护照号码：EA1234567", ["EA1234567"]),
        ("passport: G12345678", ["G12345678"]),
        ("E12345678（护照）", ["E12345678"]),
        ("护照Ｅ１２３４５６７８", ["Ｅ１２３４５６７８"]),
        ("E12345678", []),  # no context word
        ("型号E12345678", []),
        ("护照号EI1234567", []),  # no I
        ("护照号E1234567", []),
    ],
)
def test_passport(text: str, expected: list[str]) -> None:
    assert found(PASSPORT, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("往来港澳通行证C12345678", ["C12345678"]),
        ("港澳通行证号码CA1234567", ["CA1234567"]),
        ("回乡证H12345678", ["H12345678"]),
        ("回乡证号M1234567801", ["M1234567801"]),
        ("大陆居民往来台湾通行证L12345678", ["L12345678"]),
        ("台胞证号码12345678", ["12345678"]),
        ("通行证号码12345678", []),  # digits only need a Taiwan context word
        ("C12345678", []),
        ("批次号C12345678", []),
    ],
)
def test_travel_permit(text: str, expected: list[str]) -> None:
    assert found(PERMIT, text) == expected
