import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymizers import FF1, TokenError

K128 = "2B7E151628AED2A6ABF7158809CF4F3C"
K192 = K128 + "EF4359D8D580AA4F"
K256 = K192 + "7F036D6F04FC6A94"
TWEAK_10 = "39383736353433323130"
TWEAK_11 = "3737373770717273373737"

# NIST SP 800-38G sample values (FF1samples.pdf), samples 1-9.
NIST_SAMPLES = [
    (K128, "", 10, "0123456789", "2433477484"),
    (K128, TWEAK_10, 10, "0123456789", "6124200773"),
    (K128, TWEAK_11, 36, "0123456789abcdefghi", "a9tv40mll9kdu509eum"),
    (K192, "", 10, "0123456789", "2830668132"),
    (K192, TWEAK_10, 10, "0123456789", "2496655549"),
    (K192, TWEAK_11, 36, "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"),
    (K256, "", 10, "0123456789", "6657667009"),
    (K256, TWEAK_10, 10, "0123456789", "1001623463"),
    (K256, TWEAK_11, 36, "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"),
]


@pytest.mark.parametrize(
    ("key", "tweak", "radix", "plaintext", "ciphertext"),
    NIST_SAMPLES,
    ids=[f"sample-{i}" for i in range(1, 10)],
)
def test_nist_samples(key: str, tweak: str, radix: int, plaintext: str, ciphertext: str) -> None:
    ff1 = FF1(bytes.fromhex(key), radix)
    assert ff1.encrypt(plaintext, bytes.fromhex(tweak)) == ciphertext
    assert ff1.decrypt(ciphertext, bytes.fromhex(tweak)) == plaintext


def spec_ff1_encrypt(key: bytes, tweak: bytes, radix: int, numerals: list[int]) -> list[int]:
    """SP 800-38G Algorithm 7, transcribed step by step (slow, unbatched)."""

    def num(xs: list[int]) -> int:
        x = 0
        for digit in xs:
            x = x * radix + digit
        return x

    def string(m: int, x: int) -> list[int]:
        out = [0] * m
        for i in range(m - 1, -1, -1):
            x, out[i] = divmod(x, radix)
        return out

    def prf(block: bytes) -> bytes:
        encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
        return encryptor.update(block)[-16:]

    def ciph(block: bytes) -> bytes:
        encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        return encryptor.update(block)

    n, t = len(numerals), len(tweak)
    u = n // 2
    v = n - u
    a, b = numerals[:u], numerals[u:]
    beta = -(-((radix**v - 1).bit_length()) // 8)
    d = 4 * -(-beta // 4) + 4
    p = bytes([1, 2, 1]) + radix.to_bytes(3, "big") + bytes([10, u % 256])
    p += n.to_bytes(4, "big") + t.to_bytes(4, "big")
    for i in range(10):
        q = tweak + bytes((-t - beta - 1) % 16) + bytes([i]) + num(b).to_bytes(beta, "big")
        r = prf(p + q)
        s = r
        j = 1
        while len(s) < d:
            s += ciph(bytes(x ^ y for x, y in zip(r, j.to_bytes(16, "big"), strict=True)))
            j += 1
        y = int.from_bytes(s[:d], "big")
        m = u if i % 2 == 0 else v
        c = (num(a) + y) % radix**m
        a, b = b, string(m, c)
    return a + b


@settings(max_examples=60, deadline=None)
@given(
    key_length=st.sampled_from([16, 24, 32]),
    radix=st.sampled_from([2, 10, 16, 36, 300]),
    data=st.data(),
    tweak=st.binary(max_size=40),
)
def test_matches_literal_specification(
    key_length: int, radix: int, data: st.DataObject, tweak: bytes
) -> None:
    # covers one-block and multi-block Q, and S longer than one block
    min_length = {2: 20, 10: 6, 16: 5, 36: 4, 300: 3}[radix]
    numerals = data.draw(st.lists(st.integers(0, radix - 1), min_size=min_length, max_size=70))
    key = data.draw(st.binary(min_size=key_length, max_size=key_length))
    ff1 = FF1(key, radix, alphabet="".join(chr(0x4E00 + i) for i in range(radix)))
    text = "".join(chr(0x4E00 + x) for x in numerals)
    expected = "".join(chr(0x4E00 + x) for x in spec_ff1_encrypt(key, tweak, radix, numerals))
    assert ff1.encrypt(text, tweak) == expected
    assert ff1.decrypt(expected, tweak) == text


@pytest.mark.parametrize("length", [6, 8, 9, 18, 19, 20, 38, 39, 41, 42, 60])
@pytest.mark.parametrize("tweak_length", [0, 2, 6, 12, 13])
def test_every_batching_path_matches_the_specification(length: int, tweak_length: int) -> None:
    # b (bytes of NUM(B)) runs from 2 to 13 here: one 64-bit word, one block, several blocks
    key = bytes(range(32))
    tweak = bytes(range(100, 100 + tweak_length))
    ff1 = FF1(key)
    numbers = [int(str(7 * j + 1) * length) % 10**length for j in range(5)]
    expected = [
        int(
            "".join(map(str, spec_ff1_encrypt(key, tweak, 10, [int(c) for c in f"{x:0{length}d}"])))
        )
        for x in numbers
    ]
    assert ff1.encrypt_numbers(numbers, length, tweak) == expected
    assert ff1.decrypt_numbers(expected, length, tweak) == numbers


def test_batched_numbers_match_single_strings() -> None:
    ff1 = FF1(os.urandom(32))
    numbers = list(range(0, 10**9, 10**9 // 500))
    batch = ff1.encrypt_numbers(numbers, 9, b"mobile8")
    assert batch == [int(ff1.encrypt(f"{x:09d}", b"mobile8")) for x in numbers]
    assert len(set(batch)) == len(numbers)
    assert ff1.decrypt_numbers(batch, 9, b"mobile8") == numbers


def test_tweak_and_key_change_the_output() -> None:
    key = os.urandom(16)
    base = FF1(key).encrypt("0123456789")
    assert base != FF1(key).encrypt("0123456789", b"x")
    assert base != FF1(os.urandom(16)).encrypt("0123456789")


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"key": b"short"}, "0123456789"),
        ({"key": bytes(20)}, "0123456789"),
        ({"key": bytes(16), "radix": 1}, "0000000"),
        ({"key": bytes(16), "radix": 37}, "0123456789"),
        ({"key": bytes(16), "radix": 3, "alphabet": "aab"}, "abababababababababab"),
    ],
)
def test_bad_construction(kwargs: dict[str, object], text: str) -> None:
    with pytest.raises(TokenError):
        FF1(**kwargs).encrypt(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["12345", "1", "", "01234x6789"])
def test_bad_input(text: str) -> None:
    # below the 10^6 domain of SP 800-38G Rev. 1, or outside the alphabet
    with pytest.raises(TokenError) as info:
        FF1(bytes(16)).encrypt(text)
    assert len(text) < 3 or text not in str(info.value)


def test_numbers_out_of_range_and_long_tweak() -> None:
    ff1 = FF1(bytes(16))
    with pytest.raises(TokenError):
        ff1.encrypt_numbers([10**6], 6)
    with pytest.raises(TokenError):
        ff1.encrypt_numbers([True], 6)
    with pytest.raises(TokenError):
        ff1.encrypt("0123456789", bytes(256))
    assert ff1.encrypt_numbers([], 6) == []


def test_repr_hides_key() -> None:
    key = bytes(range(16))
    assert key.hex() not in repr(FF1(key))
