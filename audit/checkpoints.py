"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed notes, Ed25519.

A checkpoint commits the log to (origin, size, root). Auditors keep the
checkpoints they have seen; a consistency proof between two of them shows
the log only grew, and two signed checkpoints that admit no such proof are
evidence that the operator forked or rewrote the log.

Wire format (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note)::

    <origin>\\n<size>\\n<base64 root>\\n      the note text ("body")
    \\n                                      one blank line
    — <key name> <base64(key id || sig)>\\n  one line per signature

Verifier keys use the signed-note / Go ``sumdb/note`` text form
``<name>+<8 hex digits key id>+<base64(0x01 || 32-byte public key)>``,
so keys and notes interoperate with Go tooling and witnesses.

We write and accept exactly three body lines: extension lines are refused
rather than dropped, since silently ignoring signed text would let a reader
believe a note says less than it does.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.errors import CheckpointError
from audit.hashing import HASH_SIZE

__all__ = [
    "Checkpoint",
    "CheckpointSigner",
    "normalise_saved_note",
    "open_checkpoint",
    "parse_verifier_key",
    "split_note",
    "verifier_key",
]

ED25519_SIGNATURE_TYPE: Final = 0x01
"""Signature type byte the signed-note spec assigns to Ed25519."""

MAX_SIGNATURES: Final = 100
"""Signature lines read per note (the spec asks for at least 16): bounds work."""

_SIG_PREFIX: Final = "— "  # em dash U+2014, then a space
_SIZE_RE: Final = re.compile(r"0|[1-9][0-9]{0,19}")  # decimal, no leading zeros
_MAX_SIZE: Final = 2**64 - 1


@dataclass(frozen=True)
class Checkpoint:
    """The tree head a log commits to: its identity, size and root hash."""

    origin: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        # A checkpoint we could not serialise and parse back must not exist.
        if not self.origin or _has_control_chars(self.origin) or not _is_utf8(self.origin):
            raise ValueError("checkpoint origin must be non-empty, one line, no control chars")
        if isinstance(self.size, bool) or not 0 <= self.size <= _MAX_SIZE:
            raise ValueError("checkpoint size must be an integer in [0, 2**64)")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise ValueError(f"checkpoint root must be {HASH_SIZE} bytes")

    def body(self) -> bytes:
        """Return the note text: origin, size and base64 root, one per line."""
        root = base64.b64encode(self.root).decode("ascii")
        return f"{self.origin}\n{self.size}\n{root}\n".encode()


class CheckpointSigner:
    """Signs checkpoints as one named Ed25519 key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_key_name(name)
        self._name = name
        self._private_key = private_key
        self._public_key = private_key.public_key()
        self._key_id = _key_id(name, self._public_key)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        """SHA-256(name || 0x0A || 0x01 || public key)[:4], as the spec recommends."""
        return self._key_id

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._public_key

    @property
    def verifier_key(self) -> str:
        """The verifier key string auditors need to open this signer's notes."""
        return verifier_key(self._name, self._public_key)

    def sign(self, cp: Checkpoint) -> str:
        """Return the complete signed note: body, blank line, signature line."""
        return self.sign_note(cp.body().decode())

    def sign_note(self, text: str) -> str:
        """Sign any note text (lines ending in newline, none blank) as this key."""
        if not text.endswith("\n") or "\n\n" in text or _has_control_chars(text.replace("\n", "")):
            raise ValueError("note text must be non-blank lines, each ending in a newline")
        signature = self._private_key.sign(text.encode())
        blob = base64.b64encode(self._key_id + signature).decode("ascii")
        return f"{text}\n{_SIG_PREFIX}{self._name} {blob}\n"


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """Return ``name+<hex key id>+<base64(0x01 || public key)>``."""
    _check_key_name(name)
    key_data = bytes([ED25519_SIGNATURE_TYPE]) + public_key.public_bytes_raw()
    key_id = _key_id(name, public_key).hex()
    return f"{name}+{key_id}+{base64.b64encode(key_data).decode('ascii')}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """Parse a verifier key into (name, 4-byte key id, public key).

    The key id in the string must match the one computed from the name and
    key, so a mistyped or spliced key fails here, not at verification time.
    """
    # The name cannot contain '+', but the base64 part can: split twice only.
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("verifier key must look like name+keyid+base64key")
    name, id_hex, b64 = parts
    if not _is_valid_key_name(name):
        raise CheckpointError("verifier key has an invalid key name")
    if not re.fullmatch(r"[0-9a-fA-F]{8}", id_hex):
        raise CheckpointError("verifier key id must be 8 hex digits")
    key_data = _b64decode_canonical(b64)
    if key_data is None:
        raise CheckpointError(f"verifier key {name}: key data is not valid base64")
    if len(key_data) != 33 or key_data[0] != ED25519_SIGNATURE_TYPE:
        raise CheckpointError(f"verifier key {name}: not an Ed25519 (type 0x01) key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(key_data[1:])
    except ValueError:
        raise CheckpointError(f"verifier key {name}: invalid Ed25519 public key") from None
    key_id = bytes.fromhex(id_hex)
    if key_id != _key_id(name, public_key):
        raise CheckpointError(f"verifier key {name}: key id does not match the key")
    return name, key_id, public_key


def open_checkpoint(
    note: str, verifier_keys: Sequence[str], *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint note and return the checkpoint it carries.

    At least one signature must come from a key in ``verifier_keys`` and
    verify; a trusted key whose signature fails rejects the whole note;
    signatures by other keys are ignored (they may be witnesses' cosignatures
    or a rotated key). If ``origin`` is given the checkpoint must be for that
    log. Raises ``CheckpointError`` saying which of these went wrong.
    """
    if isinstance(verifier_keys, str):
        # A bare string is a Sequence[str] of characters: almost surely a bug.
        raise TypeError("verifier_keys must be a sequence of key strings, not one string")
    trusted: dict[tuple[str, bytes], Ed25519PublicKey] = {}
    for vkey in verifier_keys:
        name, key_id, key = parse_verifier_key(vkey)
        trusted[(name, key_id)] = key

    text, signatures = split_note(note)
    body = text.encode()
    verified: set[tuple[str, bytes]] = set()
    others: list[str] = []
    for name, key_id, signature in signatures:
        public_key = trusted.get((name, key_id))
        if public_key is None:
            # The spec requires ignoring unknown keys, even ones sharing a
            # name or id with a trusted key.
            others.append(name)
            continue
        if (name, key_id) in verified:
            continue
        try:
            public_key.verify(signature, body)
        except InvalidSignature:
            raise CheckpointError(
                f"signature by trusted key {name} ({key_id.hex()}) does not verify: "
                "the checkpoint was altered or forged"
            ) from None
        verified.add((name, key_id))
    if not verified:
        # Names come from an untrusted note: show a few, so the message stays short.
        names = sorted(set(others))
        seen = ", ".join(name[:64] for name in names[:5]) or "none"
        if len(names) > 5:
            seen += f" and {len(names) - 5} more"
        raise CheckpointError(f"checkpoint has no signature from a trusted key (signed by: {seen})")

    # Only now is the text trusted enough to read.
    cp = _parse_body(text)
    if origin is not None and cp.origin != origin:
        raise CheckpointError(f"checkpoint is for log {cp.origin!r}, expected {origin!r}")
    return cp


def normalise_saved_note(text: str) -> str:
    """A note as saved to a file: CRLF line ends and blank lines after the last
    signature line (editors, ``echo >>``, downloads) are undone. No signature
    covers either, so this changes nothing a verifier relies on."""
    text = text.replace("\r\n", "\n")
    return text.rstrip("\n") + "\n" if text.strip("\n") else text


def split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Split a signed note into its text and (key name, key id, signature) triples.

    Strict signed-note grammar: a blank line after the last signature line is
    malformed. Callers reading a note from a file an editor may have touched
    normalise it first (``normalise_saved_note``).
    """
    if not isinstance(note, str):
        raise CheckpointError("signed note must be text")
    if _has_control_chars(note.replace("\n", "")):
        raise CheckpointError("malformed note: control characters other than newline")
    if not _is_utf8(note):
        raise CheckpointError("malformed note: not valid UTF-8")
    # The text ends at the last blank line; signature lines are never empty.
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise CheckpointError("malformed note: no blank line before signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    lines = block[:-1].split("\n") if block else []
    if not lines:
        raise CheckpointError("malformed note: no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    signatures: list[tuple[str, bytes, bytes]] = []
    for number, line in enumerate(lines, start=1):
        name, _, b64 = line.removeprefix(_SIG_PREFIX).partition(" ")
        blob = _b64decode_canonical(b64)
        if (
            not line.startswith(_SIG_PREFIX)
            or not _is_valid_key_name(name)
            or blob is None
            or len(blob) < 5
        ):
            raise CheckpointError(f"malformed note: signature line {number} is invalid")
        signatures.append((name, blob[:4], blob[4:]))
    return text, signatures


def _parse_body(text: str) -> Checkpoint:
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("malformed checkpoint: need origin, size and root hash lines")
    if len(lines) > 3:
        raise CheckpointError("malformed checkpoint: extension lines are not supported")
    origin, size_text, root_text = lines
    if not origin:
        raise CheckpointError("malformed checkpoint: empty origin")
    if not _SIZE_RE.fullmatch(size_text) or int(size_text) > _MAX_SIZE:
        raise CheckpointError("malformed checkpoint: size is not a canonical decimal")
    root = _b64decode_canonical(root_text)
    if root is None or len(root) != HASH_SIZE:
        raise CheckpointError(f"malformed checkpoint: root is not a base64 {HASH_SIZE}-byte hash")
    return Checkpoint(origin=origin, size=int(size_text), root=root)


def _key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    material = name.encode() + b"\n" + bytes([ED25519_SIGNATURE_TYPE])
    return sha256(material + public_key.public_bytes_raw()).digest()[:4]


def _check_key_name(name: str) -> None:
    if not _is_valid_key_name(name):
        raise ValueError("key name must be non-empty, without spaces, '+' or control chars")


def _is_valid_key_name(name: str) -> bool:
    # Signed-note: non-empty, no Unicode spaces, no '+'. We also refuse control
    # characters, which the note format forbids anywhere.
    return (
        bool(name)
        and "+" not in name
        and not any(ch.isspace() for ch in name)
        and not _has_control_chars(name)
    )


_CONTROL_CHAR = re.compile("[\x00-\x1f]")


def _has_control_chars(text: str) -> bool:
    # Any code point below U+0020 (one regex scan: this runs for every checkpoint signed).
    return _CONTROL_CHAR.search(text) is not None


def _is_utf8(text: str) -> bool:
    # A Python str can hold lone surrogates, which have no UTF-8 encoding.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _b64decode_canonical(text: str) -> bytes | None:
    """Decode standard padded base64, or return None.

    Re-encoding must give the same text back, so no two strings decode to
    the same bytes (no stray bits in the padding, no missing padding).
    """
    if not text.isascii():
        return None
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error:
        return None
    return data if base64.b64encode(data).decode("ascii") == text else None
