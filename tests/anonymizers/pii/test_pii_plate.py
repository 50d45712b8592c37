import pytest

from anonymizers.pii.recognizers import CnPlateRecognizer

RECOGNIZER = CnPlateRecognizer()


def found(text: str) -> list[str]:
    return [text[r.start : r.end] for r in RECOGNIZER.analyze(text, ["CN_PLATE"])]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("京A12345", ["京A12345"]),
        ("车牌京N3K2P8的车", ["京N3K2P8"]),
        ("粤B·12345", ["粤B·12345"]),
        ("京AD12345", ["京AD12345"]),  # small new-energy
        ("沪AF1234", ["沪AF1234"]),  # an ordinary plate whose serial starts with F
        ("沪A12345D", ["沪A12345D"]),  # large new-energy
        ("粤BDA1234", ["粤BDA1234"]),
        ("苏E1234学", ["苏E1234学"]),
        ("京Ａ１２３４５", ["京Ａ１２３４５"]),
        ("京I12345", []),  # no I
        ("京O12345", []),  # no O
        ("京A1234", []),  # too short
        ("京A1234567", []),  # too long
        ("北京A12345", ["京A12345"]),
    ],
)
def test_plate(text: str, expected: list[str]) -> None:
    assert found(text) == expected
