import datetime as dt
import re

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymizers import (
    Ff1Tokenizer,
    InvalidTokenError,
    KeyMaterialError,
    SivTokenizer,
    TokenError,
    derive_key,
    detokenise,
)
from anonymizers.normalise import MAINLAND_MOBILE
from anonymizers.pii.checksums import is_valid_resident_id, looks_like_resident_id
from anonymizers.pii.recognizers.phone import is_landline, is_mainland_mobile
from anonymizers.tokens import SIV_BUCKETS, ff1_token_key, siv_token_key

# The dataset and column token keys are bound to (one pair for these tests).
DS, COL = "ds_test", "col"
MASTER = bytes(range(64, 96))
OTHER_MASTER = bytes(range(96, 128))
OWNER = "民政局"
APP = "guangming-eldercare"
OTHER_APP = "heping-volunteers"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def gb11643_valid(number: str) -> bool:
    """The GB 11643 check character (ISO 7064 MOD 11-2, docs/anonymizers.md), computed here
    independently of the code under test."""
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17]


def birth_date(number: str) -> dt.date:
    return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


VALID_IDS = ["11010519491231002X", "360426199101010071", "440111196105190351"]


# --- keys ---------------------------------------------------------------------


def test_token_keys_are_per_owner_recipient_and_version_and_separate_per_algorithm() -> None:
    siv = siv_token_key(MASTER, OWNER, APP, 1, dataset=DS, column=COL)
    ff1 = ff1_token_key(MASTER, OWNER, APP, 1, dataset=DS, column=COL)
    assert siv == derive_key(MASTER, "token", OWNER, APP, DS, COL, "aes-siv", version=1, length=64)
    assert ff1 == derive_key(MASTER, "token", OWNER, APP, DS, COL, "ff1", version=1, length=32)
    # bound to the dataset and the column too
    assert siv != siv_token_key(MASTER, OWNER, APP, 1, dataset="ds_other", column=COL)
    assert siv != siv_token_key(MASTER, OWNER, APP, 1, dataset=DS, column="other")
    assert ff1 != ff1_token_key(MASTER, OWNER, APP, 1, dataset=DS, column="other")
    assert siv[:32] != ff1
    assert siv != siv_token_key(MASTER, "卫健委", APP, 1, dataset=DS, column=COL)
    assert siv != siv_token_key(MASTER, OWNER, OTHER_APP, 1, dataset=DS, column=COL)
    assert siv != siv_token_key(MASTER, OWNER, APP, 2, dataset=DS, column=COL)
    assert ff1 != ff1_token_key(MASTER, OWNER, OTHER_APP, 1, dataset=DS, column=COL)
    # no recipient, or one that could forge another context path, derives nothing
    for recipient in ("", "a/b"):
        with pytest.raises(KeyMaterialError):
            siv_token_key(MASTER, OWNER, recipient, 1, dataset=DS, column=COL)


# --- AES-SIV ----------------------------------------------------------------------


def siv(
    owner: str = OWNER, version: int = 1, master: bytes = MASTER, recipient: str = APP
) -> SivTokenizer:
    return SivTokenizer(siv_token_key(master, owner, recipient, version,
        dataset=DS, column=COL), version)


def test_siv_is_deterministic_and_carries_the_version() -> None:
    first = siv()("13812345678")
    assert first == siv()("13812345678")
    assert first is not None
    assert re.fullmatch(r"t1_[A-Za-z0-9_-]+", first)
    assert siv(version=7)("x") is not None
    assert str(siv(version=7)("x")).startswith("t7_")
    assert siv()(None) is None


def test_siv_normalises_identifiers_unless_told_not_to() -> None:
    tokenise = siv()
    assert tokenise("+86 138 1234 5678") == tokenise("13812345678") == tokenise(13812345678)
    raw = SivTokenizer(siv_token_key(MASTER, OWNER, APP, 1,
        dataset=DS, column=COL), 1, normalise=False)
    assert raw("138 1234 5678") != raw("13812345678")
    token = raw("阿卜杜拉·买买提")
    assert token is not None
    assert raw.reverse(token) == "阿卜杜拉·买买提"


@pytest.mark.parametrize("value", ["13812345678", "11010519491231002X", "张三", "", "X" * 500])
def test_siv_round_trip_through_detokenise(value: str) -> None:
    token = siv()(value)
    assert token is not None
    assert value not in token or not value
    assert detokenise(token, MASTER, 1, OWNER, APP, dataset=DS, column=COL) == value


def test_siv_distinct_values_distinct_tokens_and_differ_per_owner_and_recipient() -> None:
    values = [f"1{n:010d}" for n in range(3_000_000_000, 3_000_001_000)]
    tokens = siv().tokenise_many(values)
    assert len(set(tokens)) == len(values)
    assert siv()("13812345678") != siv(owner="卫健委")("13812345678")
    # two apps' tokens of the same 1,000 people have nothing in common
    assert not set(tokens) & set(siv(recipient=OTHER_APP).tokenise_many(values))


@pytest.mark.parametrize(
    ("values", "plaintext_bytes"),
    [
        (["", "7", "13812345678", "11010519491231002X", "张三", "X" * 30], 32),
        (["X" * 31, "阿卜杜拉买买提" * 2, "X" * 62], 64),
        (["X" * 63, "X" * 126], 128),
        (["X" * 127, "X" * 254], 256),
        (["X" * 255, "X" * 510], 512),
    ],
)
def test_siv_token_length_depends_only_on_the_length_bucket(
    values: list[str], plaintext_bytes: int
) -> None:
    # format byte + value + at least one padding byte, padded to the bucket
    tokenise = siv()
    lengths = {len(str(tokenise(value))) for value in values}
    sealed = plaintext_bytes + 16  # the SIV tag
    assert lengths == {len("t1_") + -(-sealed * 4 // 3)}
    for value in values:
        assert detokenise(str(tokenise(value)), MASTER, 1, OWNER, APP,
            dataset=DS, column=COL) == value
    assert SIV_BUCKETS == (32, 64, 128, 256)


@pytest.mark.parametrize(
    ("owner", "recipient", "version", "master"),
    [("卫健委", APP, 1, MASTER), (OWNER, OTHER_APP, 1, MASTER), (OWNER, APP, 1, OTHER_MASTER)],
    ids=["other-owner", "other-recipient", "other-master"],
)
def test_siv_decrypts_only_with_the_owners_key_for_that_recipient(
    owner: str, recipient: str, version: int, master: bytes
) -> None:
    token = siv()("13812345678")
    assert token is not None
    with pytest.raises(InvalidTag) as info:
        detokenise(token, master, version, owner, recipient, dataset=DS, column=COL)
    assert isinstance(info.value, InvalidTokenError)
    assert isinstance(info.value, TokenError)
    assert "13812345678" not in str(info.value)


def test_siv_token_under_another_version() -> None:
    token = siv()("13812345678")
    assert token is not None
    # the label says version 1: asking for version 2 is refused before decrypting
    with pytest.raises(TokenError):
        detokenise(token, MASTER, 2, OWNER, APP, dataset=DS, column=COL)
    # relabelled as version 2, it fails authentication under the version-2 key
    with pytest.raises(InvalidTag):
        detokenise("t2_" + token[3:], MASTER, 2, OWNER, APP, dataset=DS, column=COL)


def test_siv_tampering_is_detected() -> None:
    token = siv()("13812345678")
    assert token is not None
    body = token[3:]
    for position in range(len(body)):
        replacement = "A" if body[position] != "A" else "B"
        tampered = "t1_" + body[:position] + replacement + body[position + 1 :]
        with pytest.raises(TokenError):  # InvalidTokenError, or malformed base64 padding bits
            detokenise(tampered, MASTER, 1, OWNER, APP, dataset=DS, column=COL)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "t1_",
        "t1_!!!!",
        "p1_abcdefgh",
        "t0_AAAA",
        "tx_AAAA",
        "t\u00b2_AAAA",  # a superscript digit: not a version
        "t1_QUJD",
        "t1_" + "A" * 10,
    ],
)
def test_siv_malformed_tokens(token: str) -> None:
    with pytest.raises(TokenError):
        detokenise(token, MASTER, 1, OWNER, APP, dataset=DS, column=COL)


def test_siv_bad_key_material() -> None:
    with pytest.raises(KeyMaterialError):
        SivTokenizer(bytes(32), 1)
    with pytest.raises(KeyMaterialError):
        SivTokenizer(bytes(64), 0)
    with pytest.raises(KeyMaterialError):
        detokenise("t1_AAAA", b"short", 1, OWNER, APP, dataset=DS, column=COL)
    assert repr(bytes(64)) not in repr(SivTokenizer(bytes(64), 3))


# --- FF1: ID numbers ------------------------------------------------------------


def ff1(fmt: str, owner: str = OWNER, version: int = 1, recipient: str = APP) -> Ff1Tokenizer:
    key = ff1_token_key(MASTER, owner, recipient, version, dataset=DS, column=COL)
    return Ff1Tokenizer(key, fmt)  # type: ignore[arg-type]


def marked_id(token: str) -> bool:
    """The marking of ID tokens: birth month 00 and a check character one past the right one."""
    body = token[:17]
    total = sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True))
    return token[10:12] == "00" and token[17] == "10X98765432"[(total % 11 + 1) % 11]


@pytest.mark.parametrize("value", VALID_IDS)
def test_ff1_id_number_keeps_shape_and_region_and_is_marked_invalid(value: str) -> None:
    token = ff1("id_number")(value)
    assert token is not None
    assert len(token) == 18
    assert token != value
    assert token[:6] == value[:6]
    assert marked_id(token)
    assert not gb11643_valid(token)
    assert not is_valid_resident_id(token) and not looks_like_resident_id(token)
    assert detokenise(token, MASTER, 1, OWNER, APP, format="id_number",
        dataset=DS, column=COL) == value


def test_ff1_id_number_differs_per_owner_recipient_and_version() -> None:
    value = VALID_IDS[0]
    token = ff1("id_number")(value)
    assert token != ff1("id_number", owner="卫健委")(value)
    assert token != ff1("id_number", recipient=OTHER_APP)(value)
    assert token != ff1("id_number", version=2)(value)
    # FF1 is not authenticated: another owner's key gives a wrong, well-formed value
    assert token is not None
    wrong = detokenise(token, MASTER, 1, "卫健委", APP, format="id_number", dataset=DS, column=COL)
    assert wrong != value
    assert len(wrong) == 18 and wrong[:6] == value[:6]


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(["110105", "360426", "440111", "810000", "654325"]))
    birth = draw(st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31)))
    sequence = draw(st.integers(0, 999))
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    total = sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


@settings(max_examples=200, deadline=None)
@given(value=resident_ids())
def test_ff1_id_number_tokens_never_pass_a_validator_and_reverse(value: str) -> None:
    tokenizer = ff1("id_number")
    token = tokenizer(value)
    assert token is not None
    assert marked_id(token)
    assert not gb11643_valid(token)
    with pytest.raises(ValueError):
        birth_date(token)  # month 00: not a calendar date
    assert not is_valid_resident_id(token) and not looks_like_resident_id(token)
    assert token[:6] == value[:6]
    assert tokenizer.reverse(token) == value


def test_ff1_id_number_is_a_permutation_on_a_region() -> None:
    values = [
        f"110105{dt.date(1980, 1, 1) + dt.timedelta(days=d):%Y%m%d}{s:03d}"
        for d in range(40)
        for s in range(0, 1000, 50)
    ]
    values = [v + "0" for v in values]  # check characters mostly wrong: offsets are kept
    tokens = ff1("id_number").tokenise_many(values)
    assert None not in tokens
    assert len(set(tokens)) == len(values)
    assert ff1("id_number").reverse_many(tokens) == values


@pytest.mark.parametrize("check", list("10X98765432"))
def test_ff1_id_number_every_check_character_is_marked_and_reverses(check: str) -> None:
    # one of the eleven is right, ten are mistyped: every one gives a marked
    # token (the offset travels under encryption) and comes back exactly
    value = "36042619910101007" + check
    token = ff1("id_number")(value)
    assert token is not None
    assert marked_id(token) and not gb11643_valid(token)
    assert ff1("id_number").reverse(token) == value


@pytest.mark.parametrize(
    "token",
    [
        "110105194912310021",  # a real-looking ID: not marked
        "110105122500312309",  # month 00 but the check character is not the marker
        "110105900000000000",  # above the token domain
    ],
)
def test_ff1_id_number_reverse_refuses_unmarked_values(token: str) -> None:
    with pytest.raises(TokenError):
        ff1("id_number").reverse(token)


def test_ff1_id_number_forms_and_legacy_ids() -> None:
    tokenizer = ff1("id_number")
    canonical = tokenizer("11010519491231002X")
    assert tokenizer("11010519491231002x") == canonical
    assert tokenizer("１１０１０５ １９４９１２３１ ００２ｘ") == canonical
    # a 15-digit legacy ID is upgraded to the 18-character form first
    assert tokenizer("110105491231002") == canonical
    assert tokenizer.reverse(str(canonical)) == "11010519491231002X"


@pytest.mark.parametrize(
    "value",
    [
        "11010518991231002X",  # born before 1900
        "110105194913310021",  # month 13
        "110105194902300025",  # 30 February
        "1101051949123100",  # 16 digits
        "E12345678",
        "",
        "张三",
        12.5,
    ],
)
def test_ff1_id_number_values_that_do_not_fit_become_none(value: object) -> None:
    assert ff1("id_number").tokenise_many([value, None]) == [None, None]


def test_ff1_reverse_rejects_non_tokens() -> None:
    with pytest.raises(TokenError):
        ff1("id_number").reverse("110105491231002")  # tokens are never 15 digits
    with pytest.raises(TokenError):
        detokenise("12345", MASTER, 1, OWNER, APP, format="mobile", dataset=DS, column=COL)
    with pytest.raises(TokenError):
        detokenise("12345", MASTER, 1, OWNER, APP, format="bogus",  # type: ignore[arg-type]
            dataset=DS, column=COL)


# --- FF1: mobiles and digits --------------------------------------------------------


MOBILE = re.compile(r"1[3-9][0-9]{9}")
MOBILE_TOKEN = re.compile(r"2[3-9][0-9]{9}")


@settings(max_examples=200, deadline=None)
@given(value=st.from_regex(MOBILE, fullmatch=True))
def test_ff1_mobile_keeps_length_and_network_digit_outside_the_numbering_plan(value: str) -> None:
    tokenizer = ff1("mobile")
    token = tokenizer(value)
    assert token is not None
    assert MOBILE_TOKEN.fullmatch(token)
    assert token[1] == value[1]
    # not a mobile (ours or the normaliser's plan) and not a landline with area code
    assert not is_mainland_mobile(token) and not MAINLAND_MOBILE.fullmatch(token)
    assert not is_landline(token) and not is_landline("0" + token)
    assert tokenizer.reverse(token) == value


@pytest.mark.parametrize("token", ["13812345678", "21812345678", "2381234567", "23812345678x"])
def test_ff1_mobile_reverse_refuses_unmarked_values(token: str) -> None:
    with pytest.raises(TokenError):
        ff1("mobile").reverse(token)


def test_ff1_mobile_forms_and_misfits() -> None:
    tokenizer = ff1("mobile")
    token = tokenizer("13812345678")
    assert token != "13812345678"
    assert tokenizer("+86 138-1234-5678") == token
    assert tokenizer(13812345678) == token
    assert tokenizer.tokenise_many(["12812345678", "010-12345678", "1381234567", None]) == [
        None,
        None,
        None,
        None,
    ]
    assert token is not None
    assert detokenise(token, MASTER, 1, OWNER, APP, format="mobile",
        dataset=DS, column=COL) == "13812345678"
    assert token != ff1("mobile", owner="卫健委")("13812345678")
    assert token != ff1("mobile", recipient=OTHER_APP)("13812345678")


@pytest.mark.parametrize("value", ["000000", "123456", "6222020200112233445", "0" * 40 + "7"])
def test_ff1_digits_round_trip_keeps_length(value: str) -> None:
    token = ff1("digits")(value)
    assert token is not None
    assert len(token) == len(value)
    assert token.isdigit()
    assert detokenise(token, MASTER, 1, OWNER, APP, format="digits",
        dataset=DS, column=COL) == value


@pytest.mark.parametrize("value", ["12345", "12a456", "", "１２３"])
def test_ff1_digits_misfits(value: str) -> None:
    assert ff1("digits")(value) is None


def test_ff1_bad_key_or_format() -> None:
    with pytest.raises(KeyMaterialError):
        Ff1Tokenizer(bytes(16), "mobile")
    with pytest.raises(TokenError):
        Ff1Tokenizer(bytes(32), "plate")  # type: ignore[arg-type]
