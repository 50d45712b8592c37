import pytest

from anonymizers.pii.text import fold_width, has_context


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("１３８１２３４５６７８", "13812345678"),
        ("＋８６　１３８", "+86 138"),
        ("Ｅ１２３４５６７８", "E12345678"),
        ("ａｂｃ＠ｑｑ．ｃｏｍ", "abc@qq.com"),
        ("010–65432100", "010-65432100"),  # en dash
        ("张三，你好。", "张三,你好。"),  # full-width comma folds, 。 does not
        ("㎡", "㎡"),  # NFKC would make this two characters
    ],
)
def test_fold_width(value: str, expected: str) -> None:
    assert fold_width(value) == expected
    assert len(fold_width(value)) == len(value)


def test_has_context_windows() -> None:
    text = "身份证号码是110105194912310021"
    assert has_context(text, 6, 24, ["身份证"], before=8)
    assert not has_context(text, 6, 24, ["身份证"], before=3)
    assert has_context("E12345678护照", 0, 9, ["护照"], after=4)
