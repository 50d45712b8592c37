"""Signed checkpoints: C2SP signed-note / tlog-checkpoint format, Ed25519."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from audit import (
    Checkpoint,
    CheckpointError,
    CheckpointSigner,
    leaf_hash,
    open_checkpoint,
    parse_verifier_key,
    verifier_key,
)

# golang.org/x/mod/sumdb/note test vector: a key pair and a note signed by Go.
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
GO_NOTE = f"{GO_TEXT}\n— PeterNeumann {GO_SIG}\n"

# More verifier keys from Go and transparency-dev tests; the last one's
# base64 contains '+', which a naive split would cut.
OTHER_GO_KEYS = [
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",
    "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6",
]

ORIGIN = "cdg.example/audit-log"
ROOT = leaf_hash(b"some root")


def _go_private_key() -> Ed25519PrivateKey:
    blob = base64.b64decode(GO_SIGNER_KEY.split("+", 4)[4])
    assert blob[0] == 0x01
    return Ed25519PrivateKey.from_private_bytes(blob[1:])


def _signer(name: str = ORIGIN, seed: int = 1) -> CheckpointSigner:
    return CheckpointSigner(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def _sign_raw(signer_key: Ed25519PrivateKey, name: str, key_id: bytes, text: str) -> str:
    """Sign arbitrary note text, bypassing Checkpoint's own validation."""
    sig = signer_key.sign(text.encode())
    return f"{text}\n— {name} {base64.b64encode(key_id + sig).decode()}\n"


# Interoperability with Go's implementation.


def test_go_verifier_key_is_reproduced() -> None:
    public_key = _go_private_key().public_key()
    assert verifier_key("PeterNeumann", public_key) == GO_VERIFIER_KEY
    signer = CheckpointSigner("PeterNeumann", _go_private_key())
    assert signer.key_id.hex() == "c74f20a3"
    assert signer.verifier_key == GO_VERIFIER_KEY


def test_go_signature_line_is_reproduced() -> None:
    # Ed25519 is deterministic, so our key id || signature over Go's text must
    # equal Go's signature blob byte for byte.
    signer = CheckpointSigner("PeterNeumann", _go_private_key())
    blob = signer.key_id + _go_private_key().sign(GO_TEXT.encode())
    assert base64.b64encode(blob).decode() == GO_SIG


def test_go_note_verifies_but_is_not_a_checkpoint() -> None:
    # The signature checks out; only then is the two-line body refused.
    with pytest.raises(CheckpointError, match="need origin, size and root"):
        open_checkpoint(GO_NOTE, [GO_VERIFIER_KEY])
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(GO_NOTE.replace("answer", "Answer"), [GO_VERIFIER_KEY])


@pytest.mark.parametrize("vkey", [GO_VERIFIER_KEY, *OTHER_GO_KEYS])
def test_go_verifier_keys_parse_and_roundtrip(vkey: str) -> None:
    name, key_id, public_key = parse_verifier_key(vkey)
    assert vkey.startswith(f"{name}+{key_id.hex()}+")
    assert verifier_key(name, public_key) == vkey


# Our own checkpoints.


def test_body_format() -> None:
    cp = Checkpoint(ORIGIN, 20852163, ROOT)
    assert cp.body() == f"{ORIGIN}\n20852163\n{base64.b64encode(ROOT).decode()}\n".encode()
    assert Checkpoint(ORIGIN, 0, ROOT).body().split(b"\n")[1] == b"0"


def test_key_id_per_spec() -> None:
    signer = _signer()
    raw = signer.public_key.public_bytes_raw()
    expected = hashlib.sha256(ORIGIN.encode() + b"\n" + b"\x01" + raw).digest()[:4]
    assert signer.key_id == expected
    vkey = signer.verifier_key
    assert re.fullmatch(rf"{re.escape(ORIGIN)}\+[0-9a-f]{{8}}\+[A-Za-z0-9+/]+=*", vkey)
    assert vkey.split("+")[1] == expected.hex()
    assert base64.b64decode(vkey.split("+", 2)[2]) == b"\x01" + raw


def test_sign_produces_a_signed_note() -> None:
    signer = _signer()
    cp = Checkpoint(ORIGIN, 42, ROOT)
    note = signer.sign(cp)
    body, sig_line = note.split("\n\n")
    assert (body + "\n").encode() == cp.body()
    assert sig_line.startswith(f"— {ORIGIN} ") and sig_line.endswith("\n")
    blob = base64.b64decode(sig_line.removesuffix("\n").split(" ")[2])
    assert blob[:4] == signer.key_id and len(blob) == 4 + 64
    signer.public_key.verify(blob[4:], cp.body())


def test_roundtrip() -> None:
    signer = _signer()
    cp = Checkpoint(ORIGIN, 7, ROOT)
    assert open_checkpoint(signer.sign(cp), [signer.verifier_key]) == cp
    assert open_checkpoint(signer.sign(cp), [signer.verifier_key], origin=ORIGIN) == cp


@given(
    origin=st.text(
        alphabet=st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1
    ),
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
)
def test_roundtrip_property(origin: str, size: int, root: bytes) -> None:
    signer = _signer()
    cp = Checkpoint(origin, size, root)
    assert open_checkpoint(signer.sign(cp), [signer.verifier_key]) == cp


def test_several_trusted_and_foreign_signatures() -> None:
    log, witness, stranger = _signer(seed=1), _signer("witness.example", 2), _signer("x", 3)
    cp = Checkpoint(ORIGIN, 9, ROOT)
    # A cosigned note: the log's signature plus a witness's and a stranger's.
    note = log.sign(cp) + witness.sign(cp).split("\n\n")[1] + stranger.sign(cp).split("\n\n")[1]
    assert open_checkpoint(note, [log.verifier_key]) == cp
    assert open_checkpoint(note, [witness.verifier_key]) == cp
    assert open_checkpoint(note, [log.verifier_key, witness.verifier_key]) == cp
    # Signature lines repeated by the same key are tolerated, not double-counted.
    sig = log.sign(cp).split("\n\n")[1]
    assert open_checkpoint(log.sign(cp) + sig, [log.verifier_key]) == cp


@pytest.mark.parametrize(
    "tamper",
    [
        lambda n: n.replace("\n7\n", "\n8\n"),  # size
        lambda n: n.replace(ORIGIN + "\n", "cdg.example/other-log\n", 1),  # origin
        lambda n: n.replace(
            base64.b64encode(ROOT).decode(), base64.b64encode(leaf_hash(b"x")).decode()
        ),  # root
    ],
    ids=["size", "origin", "root"],
)
def test_tampered_body_is_rejected(tamper: object) -> None:
    signer = _signer()
    note = signer.sign(Checkpoint(ORIGIN, 7, ROOT))
    forged = tamper(note)  # type: ignore[operator]
    assert forged != note
    with pytest.raises(CheckpointError, match="altered or forged"):
        open_checkpoint(forged, [signer.verifier_key])


@pytest.mark.parametrize("bit", [0, 100, 300, 511])
def test_tampered_signature_is_rejected(bit: int) -> None:
    signer = _signer()
    note = signer.sign(Checkpoint(ORIGIN, 7, ROOT))
    body, line = note.split("\n\n")
    prefix, b64 = line.removesuffix("\n").rsplit(" ", 1)
    blob = bytearray(base64.b64decode(b64))
    blob[4 + bit // 8] ^= 1 << (bit % 8)
    forged = f"{body}\n\n{prefix} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(CheckpointError, match="altered or forged"):
        open_checkpoint(forged, [signer.verifier_key])


def test_failing_trusted_signature_rejects_even_if_another_verifies() -> None:
    log, witness = _signer(seed=1), _signer("witness.example", 2)
    cp = Checkpoint(ORIGIN, 9, ROOT)
    bad_witness_line = witness.sign(Checkpoint(ORIGIN, 10, ROOT)).split("\n\n")[1]
    note = log.sign(cp) + bad_witness_line
    with pytest.raises(CheckpointError, match=r"witness\.example"):
        open_checkpoint(note, [log.verifier_key, witness.verifier_key])


def test_unknown_key_is_rejected() -> None:
    note = _signer(seed=1).sign(Checkpoint(ORIGIN, 7, ROOT))
    other = _signer("someone.else", 2)
    with pytest.raises(CheckpointError, match=rf"no signature from a trusted key .*{ORIGIN}"):
        open_checkpoint(note, [other.verifier_key])
    with pytest.raises(CheckpointError, match="no signature from a trusted key"):
        open_checkpoint(note, [])


def test_same_name_different_key_is_unknown_not_forged() -> None:
    # Spec: signatures from keys sharing a name (but not id) with a trusted
    # key are ignored, so this is "untrusted", not "forged".
    note = _signer(seed=1).sign(Checkpoint(ORIGIN, 7, ROOT))
    impostor = _signer(seed=2)
    with pytest.raises(CheckpointError, match="no signature from a trusted key"):
        open_checkpoint(note, [impostor.verifier_key])


def test_wrong_origin_is_rejected() -> None:
    signer = _signer()
    note = signer.sign(Checkpoint(ORIGIN, 7, ROOT))
    with pytest.raises(CheckpointError, match=r"expected 'other\.log'"):
        open_checkpoint(note, [signer.verifier_key], origin="other.log")


def test_bare_string_of_keys_is_a_type_error() -> None:
    signer = _signer()
    note = signer.sign(Checkpoint(ORIGIN, 7, ROOT))
    with pytest.raises(TypeError):
        open_checkpoint(note, signer.verifier_key)


SIGNER_KEY = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
SIGNER = CheckpointSigner(ORIGIN, SIGNER_KEY)
ROOT_B64 = base64.b64encode(ROOT).decode()
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# 32 bytes leave 2 unused low bits before the '='; setting one gives a string
# that lenient decoders map to the same root. We must refuse it.
ROOT_B64_STRAY_BITS = ROOT_B64[:-2] + _ALPHABET[_ALPHABET.index(ROOT_B64[-2]) | 1] + "="


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{ORIGIN}\n7\n{ROOT_B64}\nextension\n", "extension lines"),
        (f"{ORIGIN}\n7\n", "need origin, size and root"),
        (f"\n7\n{ROOT_B64}\n", "empty origin"),
        (f"{ORIGIN}\n07\n{ROOT_B64}\n", "size"),
        (f"{ORIGIN}\n-1\n{ROOT_B64}\n", "size"),
        (f"{ORIGIN}\n+7\n{ROOT_B64}\n", "size"),
        (f"{ORIGIN}\n٧\n{ROOT_B64}\n", "size"),  # an Arabic-Indic digit
        (f"{ORIGIN}\n{2**64}\n{ROOT_B64}\n", "size"),
        (f"{ORIGIN}\n7\n{base64.b64encode(ROOT[:31]).decode()}\n", "root"),
        (f"{ORIGIN}\n7\n{ROOT_B64.rstrip('=')}\n", "root"),
        (f"{ORIGIN}\n7\n{ROOT.hex()}\n", "root"),
        (f"{ORIGIN}\n7\n{ROOT_B64_STRAY_BITS}\n", "root"),
    ],
)
def test_validly_signed_but_malformed_bodies(text: str, message: str) -> None:
    note = _sign_raw(SIGNER_KEY, ORIGIN, SIGNER.key_id, text)
    with pytest.raises(CheckpointError, match=message):
        open_checkpoint(note, [SIGNER.verifier_key])


GOOD_NOTE = SIGNER.sign(Checkpoint(ORIGIN, 7, ROOT))
GOOD_BODY, GOOD_LINE = GOOD_NOTE.split("\n\n")
GOOD_B64 = GOOD_LINE.removesuffix("\n").split(" ")[2]


@pytest.mark.parametrize(
    "note",
    [
        "",
        GOOD_BODY + "\n",  # no signatures at all
        GOOD_NOTE.removesuffix("\n"),  # no final newline
        GOOD_BODY + "\n" + GOOD_LINE,  # no blank line
        GOOD_NOTE + "\n",  # blank line after the signatures
        GOOD_BODY + "\n\n" + GOOD_LINE.replace("— ", "-- "),  # not an em dash
        GOOD_BODY + "\n\n" + GOOD_LINE.replace(GOOD_B64, "%%%"),  # not base64
        GOOD_BODY + "\n\n" + GOOD_LINE.replace(GOOD_B64, "AAAA"),  # too short
        GOOD_BODY + "\n\n" + GOOD_LINE.replace(ORIGIN, "a+b"),  # '+' in key name
        GOOD_BODY + "\n\n" + GOOD_LINE.replace(f"{ORIGIN} ", f"{ORIGIN}  "),  # two spaces
        GOOD_NOTE.replace("\n7\n", "\n7\r\n"),  # control character
        GOOD_NOTE + GOOD_LINE * 100,  # too many signatures
        GOOD_NOTE.replace(ORIGIN, ORIGIN + "\ud800", 1),  # not UTF-8
    ],
)
def test_malformed_notes(note: str) -> None:
    with pytest.raises(CheckpointError, match="malformed"):
        open_checkpoint(note, [SIGNER.verifier_key])


GO_PUB = base64.b64decode(GO_VERIFIER_KEY.split("+", 2)[2])[1:]


def _vkey(name: str, key_id: str, key_data: bytes) -> str:
    return f"{name}+{key_id}+{base64.b64encode(key_data).decode()}"


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "nameonly",
        "name+c74f20a3",
        _vkey("PeterNeumann", "c74f20a4", b"\x01" + GO_PUB),  # id does not match
        _vkey("PeterNeumanm", "c74f20a3", b"\x01" + GO_PUB),  # name does not match
        _vkey("PeterNeumann", "c74f20a", b"\x01" + GO_PUB),  # 7 hex digits
        _vkey("PeterNeumann", "c74f20a3x", b"\x01" + GO_PUB),  # 9 characters
        _vkey("PeterNeumann", "c74f20a3", b"\x01" + GO_PUB[:31]),  # short key
        _vkey("PeterNeumann", "c74f20a3", b"\x01" + GO_PUB + b"\x00"),  # long key
        _vkey("PeterNeumann", "c74f20a3", b"\x02" + GO_PUB),  # not Ed25519
        GO_VERIFIER_KEY.rstrip("W"),  # truncated base64
        GO_VERIFIER_KEY[:-1] + "X",  # one key byte changed: id no longer matches
        GO_VERIFIER_KEY + "=",  # extra padding
        "Peter Neumann" + GO_VERIFIER_KEY.removeprefix("PeterNeumann"),  # space
    ],
)
def test_bad_verifier_keys(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        parse_verifier_key(vkey)
    with pytest.raises(CheckpointError):
        open_checkpoint(GO_NOTE, [vkey])


@pytest.mark.parametrize(
    ("origin", "size", "root"),
    [
        ("", 1, ROOT),
        ("two\nlines", 1, ROOT),
        ("tab\there", 1, ROOT),
        (ORIGIN, -1, ROOT),
        (ORIGIN, 2**64, ROOT),
        (ORIGIN, True, ROOT),
        (ORIGIN, 1, ROOT[:31]),
        (ORIGIN, 1, "not bytes"),
    ],
)
def test_checkpoint_validates_its_fields(origin: str, size: int, root: bytes) -> None:
    with pytest.raises(ValueError):
        Checkpoint(origin, size, root)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b", "a\nb", "a\u3000b"])
def test_signer_rejects_invalid_key_names(name: str) -> None:
    with pytest.raises(ValueError, match="key name"):
        CheckpointSigner(name, SIGNER_KEY)
