import pytest

from anonymizers.pii.recognizers import CnBankCardRecognizer

RECOGNIZER = CnBankCardRecognizer()


def found(text: str) -> list[tuple[str, float]]:
    return [(text[r.start : r.end], r.score) for r in RECOGNIZER.analyze(text, ["BANK_CARD"])]


def reported(text: str) -> list[str]:
    return [value for value, score in found(text) if score >= 0.5]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6222021234567890128", ["6222021234567890128"]),  # UnionPay, 19 digits
        ("卡号6222 0212 3456 7890 128", ["6222 0212 3456 7890 128"]),
        ("6222-0212-3456-7890-128", ["6222-0212-3456-7890-128"]),
        ("4111111111111111", ["4111111111111111"]),  # Visa
        ("信用卡5500000000000004", ["5500000000000004"]),
        ("６２２２０２１２３４５６７８９０１２８", ["６２２２０２１２３４５６７８９０１２８"]),
        ("6222021234567890127", []),  # Luhn fails
        ("1234567812345670", []),  # Luhn passes, unknown issuer, no context
        ("银行卡号1234567812345670", ["1234567812345670"]),  # ... with context
        ("订单号6222021234567890128", []),  # negative context
        ("62220212345678901280", []),  # 20 digits
        ("110105194912310021", []),  # an ID number with a wrong check, not a card
    ],
)
def test_bank_card(text: str, expected: list[str]) -> None:
    assert reported(text) == expected


def test_unionpay_scores_higher_than_unknown_issuers() -> None:
    [(_, unionpay)] = found("6222021234567890128")
    [(_, unknown)] = found("1234567812345670")
    assert unionpay > 0.5 > unknown
