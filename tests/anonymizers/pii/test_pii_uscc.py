import pytest

from anonymizers.pii.checksums import uscc_check_char
from anonymizers.pii.recognizers import CnUsccRecognizer

RECOGNIZER = CnUsccRecognizer()


def found(text: str) -> list[str]:
    return [text[r.start : r.end] for r in RECOGNIZER.analyze(text, ["CN_USCC"])]


def complete(first17: str) -> str:
    return first17 + (uscc_check_char(first17) or "")


N_CODE = complete("N2110105MA0123456")
Y_CODE = complete("Y1310115MA1K4AB20")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("91110000600037341L", ["91110000600037341L"]),
        ("统一社会信用代码：91110000600037341L。", ["91110000600037341L"]),
        ("代码91110000600037341L公司", ["91110000600037341L"]),  # glued
        ("９１１１００００６０００３７３４１Ｌ", ["９１１１００００６０００３７３４１Ｌ"]),
        (N_CODE, [N_CODE]),  # N-prefixed codes are valid
        (Y_CODE, [Y_CODE]),
        ("91110000600037341M", []),  # wrong check character
        ("91110000600037341l", []),  # codes are upper-case
        ("11010519491231002X", []),  # a resident ID is not a credit code
        ("202511270001234567", []),  # an order number
        ("91110000600037341LA", []),
    ],
)
def test_uscc(text: str, expected: list[str]) -> None:
    assert found(text) == expected
