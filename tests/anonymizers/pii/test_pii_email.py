import pytest

from anonymizers.pii.recognizers import CnEmailRecognizer

RECOGNIZER = CnEmailRecognizer()


def found(text: str) -> list[str]:
    return [text[r.start : r.end] for r in RECOGNIZER.analyze(text, ["EMAIL"])]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zhang.san@example.com", ["zhang.san@example.com"]),
        ("邮箱123456789@qq.com谢谢", ["123456789@qq.com"]),  # glued
        ("发到a_b-c+d@mail.example.com.cn。", ["a_b-c+d@mail.example.com.cn"]),
        ("ｚｓ＠１６３．ｃｏｍ", ["ｚｓ＠１６３．ｃｏｍ"]),
        ("Zhang@Example.COM", ["Zhang@Example.COM"]),
        ("zhang..san@example.com", []),
        ("zhang@localhost", []),
        ("@example.com", []),
        ("zhang@example.c", []),
        ("价格100@2件", []),
    ],
)
def test_email(text: str, expected: list[str]) -> None:
    assert found(text) == expected
