import hashlib
import hmac

import pytest

from anonymizers import KeyMaterialError, derive_key

MASTER = bytes(range(32))


def rfc5869_hkdf_sha256(ikm: bytes, info: bytes, length: int) -> bytes:
    """Independent HKDF (RFC 5869) with an absent salt, to pin the info format."""
    prk = hmac.new(b"\x00" * 32, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


@pytest.mark.parametrize(
    ("context", "version", "length", "info"),
    [
        (("pseudonym", "民政局", "elder-care"), 1, 32, "cdg/v1/pseudonym/民政局/elder-care"),
        (("audit",), 7, 32, "cdg/v7/audit"),
        (("token", "x"), 2, 16, "cdg/v2/token/x"),
        (("token", "x"), 2, 64, "cdg/v2/token/x"),
    ],
)
def test_derive_key_is_hkdf_sha256_with_documented_info(
    context: tuple[str, ...], version: int, length: int, info: str
) -> None:
    key = derive_key(MASTER, *context, version=version, length=length)
    assert len(key) == length
    assert key == rfc5869_hkdf_sha256(MASTER, info.encode("utf-8"), length)


def test_derive_key_is_deterministic_and_separates_context_and_version() -> None:
    base = derive_key(MASTER, "pseudonym", "civil", "app", version=1)
    assert base == derive_key(MASTER, "pseudonym", "civil", "app", version=1)
    others = {
        derive_key(MASTER, "pseudonym", "civil", "other-app", version=1),
        derive_key(MASTER, "pseudonym", "health", "app", version=1),
        derive_key(MASTER, "pseudonym", "civil", "app", version=2),
        derive_key(bytes(reversed(MASTER)), "pseudonym", "civil", "app", version=1),
    }
    assert base not in others
    assert len(others) == 4


@pytest.mark.parametrize(
    ("master", "context", "kwargs"),
    [
        (b"\x01" * 31, ("pseudonym",), {"version": 1}),
        (b"", ("pseudonym",), {"version": 1}),
        (MASTER, ("pseudonym",), {"version": 0}),
        (MASTER, ("pseudonym",), {"version": -1}),
        (MASTER, ("pseudonym",), {"version": True}),
        (MASTER, (), {"version": 1}),
        (MASTER, ("pseudonym", ""), {"version": 1}),
        (MASTER, ("pseudonym", "a/b"), {"version": 1}),
        (MASTER, ("/",), {"version": 1}),
        (MASTER, ("pseudonym",), {"version": 1, "length": 0}),
        (MASTER, ("pseudonym",), {"version": 1, "length": 255 * 32 + 1}),
    ],
    ids=[
        "short-master",
        "empty-master",
        "version-0",
        "version-negative",
        "version-bool",
        "no-context",
        "empty-part",
        "slash-in-part",
        "slash-only",
        "length-0",
        "length-too-long",
    ],
)
def test_derive_key_rejects_bad_input(
    master: bytes, context: tuple[str, ...], kwargs: dict[str, int]
) -> None:
    with pytest.raises(ValueError) as info:
        derive_key(master, *context, **kwargs)
    assert isinstance(info.value, KeyMaterialError)


def test_derive_key_error_does_not_echo_context() -> None:
    with pytest.raises(KeyMaterialError) as info:
        derive_key(MASTER, "pseudonym", "张三/13812345678", version=1)
    assert "13812345678" not in str(info.value)
