import base64
import hashlib
import hmac
import re

import pytest

from anonymizers import KeyMaterialError, Pseudonymizer, derive_key

KEY = bytes(range(100, 132))


def reference_pseudonym(key: bytes, version: int, canonical: str) -> str:
    """The documented construction, computed with the standard library."""
    digest = hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).digest()[:16]
    return f"p{version}_" + base64.b32encode(digest).decode("ascii").rstrip("=").lower()


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("13812345678", "13812345678"),
        ("11010519491231002x", "11010519491231002X"),
        ("张三", "张三"),
        ("", ""),
        (42, "42"),
    ],
)
def test_pseudonym_matches_reference_construction(value: object, canonical: str) -> None:
    assert Pseudonymizer(KEY, 1)(value) == reference_pseudonym(KEY, 1, canonical)


def test_same_value_same_key_same_pseudonym() -> None:
    first = Pseudonymizer(KEY, 1)
    second = Pseudonymizer(KEY, 1)
    assert first("13812345678") == first("13812345678") == second("13812345678")


@pytest.mark.parametrize(
    "form",
    [
        "138 1234 5678",
        "+86 13812345678",
        "13812345678",
        "１３８１２３４５６７８",
        "0086-138-1234-5678",
        "8613812345678",
        13812345678,
    ],
)
def test_written_forms_of_one_mobile_share_a_pseudonym(form: object) -> None:
    pseudonymise = Pseudonymizer(KEY, 1)
    assert pseudonymise(form) == pseudonymise("13812345678")


def test_id_number_case_does_not_matter() -> None:
    pseudonymise = Pseudonymizer(KEY, 1)
    assert pseudonymise("11010519491231002x") == pseudonymise("11010519491231002X")


def test_different_recipients_cannot_link() -> None:
    master = b"m" * 32
    for_app = Pseudonymizer(derive_key(master, "pseudonym", "civil", "app-a", version=1), 1)
    for_other = Pseudonymizer(derive_key(master, "pseudonym", "civil", "app-b", version=1), 1)
    assert for_app("13812345678") != for_other("13812345678")


def test_different_versions_give_different_pseudonyms() -> None:
    master = b"m" * 32
    v1 = Pseudonymizer(derive_key(master, "pseudonym", "civil", "app", version=1), 1)
    v2 = Pseudonymizer(derive_key(master, "pseudonym", "civil", "app", version=2), 2)
    first, second = v1("13812345678"), v2("13812345678")
    assert first is not None and second is not None
    assert first[3:] != second[3:]
    # the same key under another version label still differs (prefix)
    assert Pseudonymizer(KEY, 1)("x") != Pseudonymizer(KEY, 2)("x")


@pytest.mark.parametrize("version", [1, 2, 17])
def test_pseudonym_format_carries_version(version: int) -> None:
    pseudonym = Pseudonymizer(KEY, version)("13812345678")
    assert pseudonym is not None
    assert pseudonym.startswith(f"p{version}_")
    assert re.fullmatch(rf"p{version}_[a-z2-7]{{26}}", pseudonym)


def test_none_stays_none() -> None:
    assert Pseudonymizer(KEY, 1)(None) is None


def test_distinct_values_get_distinct_pseudonyms() -> None:
    pseudonymise = Pseudonymizer(KEY, 1)
    values = [f"1{n:010d}" for n in range(3_000_000_000, 3_000_002_000)]
    assert len({pseudonymise(value) for value in values}) == len(values)


@pytest.mark.parametrize(
    ("key", "version"),
    [(b"k" * 31, 1), (b"", 1), (KEY, 0), (KEY, -3), (KEY, True)],
    ids=["short-key", "empty-key", "version-0", "version-negative", "version-bool"],
)
def test_pseudonymizer_rejects_bad_key_or_version(key: bytes, version: int) -> None:
    with pytest.raises(KeyMaterialError):
        Pseudonymizer(key, version)


def test_repr_does_not_show_key() -> None:
    text = repr(Pseudonymizer(KEY, 3))
    assert "p3_" in text
    assert KEY.hex() not in text
    assert repr(KEY) not in text
