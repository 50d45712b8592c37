import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anonymizers import normalise_identifier


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("138.1234.5678", "13812345678"),
        ("(138) 1234 5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("0086 138-1234-5678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("(+86)138 1234 5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("＋８６　１３８－１２３４－５６７８", "13812345678"),
        ("138\u200b1234\u20135678", "13812345678"),
        # +86 stays when what follows is not a mainland mobile
        ("+86 10 1234 5678", "+861012345678"),
        ("8612812345678", "8612812345678"),
        ("86138123456789", "86138123456789"),
        ("86", "86"),
        # ID numbers: lower-case x and full-width forms
        ("11010519491231002x", "11010519491231002X"),
        ("110105 19491231 002x", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
        ("110105491231002", "110105491231002"),
        ("e12345678", "E12345678"),
        ("91110000600037341l", "91110000600037341L"),
        ("", ""),
        (" - . ( ) ", ""),
    ],
)
def test_normalise_identifier(value: str, expected: str) -> None:
    assert normalise_identifier(value) == expected


IDENTIFIER_TEXT = st.text(alphabet="0123456789１２３８xXaE+＋ -－.()（）　", max_size=24)


@given(IDENTIFIER_TEXT)
def test_normalise_identifier_is_idempotent(value: str) -> None:
    once = normalise_identifier(value)
    assert normalise_identifier(once) == once


def reference_normalise(value: str) -> str:
    """The documented steps, without the ASCII fast path."""
    import unicodedata

    from anonymizers.normalise import _DROP_SEPARATORS

    text = unicodedata.normalize("NFKC", value).translate(_DROP_SEPARATORS).upper()
    for prefix in ("+86", "0086", "86"):
        if text.startswith(prefix) and re.fullmatch(r"1[3-9][0-9]{9}", text[len(prefix) :]):
            return text[len(prefix) :]
    return text


@given(st.one_of(IDENTIFIER_TEXT, st.text(max_size=24), st.from_regex(r"[0-9A-Za-z]{0,20}")))
def test_ascii_fast_path_matches_the_documented_steps(value: str) -> None:
    assert normalise_identifier(value) == reference_normalise(value)
