import pytest

from anonymizers.pii.checksums import (
    is_valid_legacy_resident_id,
    is_valid_org_code,
    is_valid_resident_id,
    is_valid_uscc,
    looks_like_resident_id,
    luhn_valid,
    resident_id_check_char,
    uscc_check_char,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11010519491231002X", True),  # GB 11643 example
        ("360426199101010071", True),
        ("810000199408230021", True),  # Hong Kong residence permit
        ("830000200001010018", True),  # Taiwan residence permit
        ("11010519491231002Y", False),
        ("110105194912310021", False),  # wrong check character
        ("990105194912310028", False),  # 99: no such province
        ("810105199408230028", False),  # permits use region 810000 only
        ("110105194913310026", False),  # month 13
        ("110105190002290028", False),  # 1900 was not a leap year
        ("11010519491231002", False),  # 17 characters
        ("１１０１０５１９４９１２３１００２X", False),  # callers fold width first
    ],
)
def test_resident_id(value: str, expected: bool) -> None:
    assert is_valid_resident_id(value) is expected


def test_resident_id_check_char_weights() -> None:
    assert resident_id_check_char("11010519491231002") == "X"
    assert resident_id_check_char("36042619910101007") == "1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("110105491231002", True),
        ("110105491331002", False),  # month 13
        ("990105491231002", False),  # no such province
        ("810000491231002", False),  # no legacy IDs for residence permits
        ("11010549123100", False),
    ],
)
def test_legacy_resident_id(value: str, expected: bool) -> None:
    assert is_valid_legacy_resident_id(value) is expected


def test_looks_like_resident_id_ignores_the_check_character() -> None:
    assert looks_like_resident_id("110105194912310021")
    assert not looks_like_resident_id("202511270001234567")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("91110000600037341L", True),  # GB 32100 example
        ("N2110105MA01234569", None),  # N prefix: valid once the check is right
        ("Y1110105MA0123456X", None),
        ("91110000600037341M", False),
        ("91990000600037341L", False),  # region 99
        ("91110000600037341", False),
        ("911100006000373410", False),
    ],
)
def test_uscc(value: str, expected: bool | None) -> None:
    if expected is None:  # complete the check character, then it must pass
        value = value[:17] + (uscc_check_char(value[:17]) or "")
        expected = True
    assert is_valid_uscc(value) is expected


def test_all_digit_uscc_needs_a_valid_org_code() -> None:
    first17 = "12110000" + "40000001" + "0"  # org check of 40000001 is not 0
    value = first17 + (uscc_check_char(first17) or "")
    assert not is_valid_org_code(value[8:17])
    assert not is_valid_uscc(value)


def test_org_code() -> None:
    assert is_valid_org_code("600037341")
    assert not is_valid_org_code("600037342")


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("4111111111111111", True),
        ("6222021234567890128", True),
        ("6222021234567890127", False),
        ("79927398713", True),
        ("", False),
        ("12a4", False),
    ],
)
def test_luhn(digits: str, expected: bool) -> None:
    assert luhn_valid(digits) is expected
