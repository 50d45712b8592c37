import pytest

from anonymizers.pii.recognizers import CnResidentIdRecognizer

RECOGNIZER = CnResidentIdRecognizer()


def found(text: str) -> list[str]:
    results = RECOGNIZER.analyze(text, ["CN_RESIDENT_ID"])
    return [text[r.start : r.end] for r in results if r.score >= 0.5]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("11010519491231002X", ["11010519491231002X"]),
        ("11010519491231002x", ["11010519491231002x"]),
        ("身份证号11010519491231002X，住址", ["11010519491231002X"]),  # glued to Chinese
        ("身份证１１０１０５１９４９１２３１００２Ｘ", ["１１０１０５１９４９１２３１００２Ｘ"]),
        ("110105 19491231 002X", ["110105 19491231 002X"]),
        ("港澳居民居住证810000199408230021", ["810000199408230021"]),
        ("身份证号110105194912310021", []),  # check character wrong
        ("订单号202511270001234567", []),  # 20: not a province; checksum fails too
        ("11010519491231002X1", []),  # part of a longer number
        ("A11010519491231002X", []),
        ("110105********002X", []),  # already masked
        # legacy 15-digit numbers need a context word
        ("身份证号110105491231002", ["110105491231002"]),
        ("110105491231002", []),
        ("流水号110105491231002", []),
    ],
)
def test_resident_id(text: str, expected: list[str]) -> None:
    assert found(text) == expected


def test_scores() -> None:
    [result] = RECOGNIZER.analyze("11010519491231002X", ["CN_RESIDENT_ID"])
    assert result.score == 1.0
    [legacy] = RECOGNIZER.analyze("身份证110105491231002", ["CN_RESIDENT_ID"])
    assert 0.5 < legacy.score < 1.0
