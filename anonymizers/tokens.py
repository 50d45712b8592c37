"""Reversible tokens: only the owning department can turn them back into values.

Keys. Every token key is derived per (owner, recipient, dataset, column, key
version): HKDF info
"cdg/v{version}/token/{owner}/{recipient}/{dataset}/{column}/{algorithm}",
where the owner is the department whose data it is, the recipient the app the
release goes to, the dataset the owner's dataset id and the column the
dataset column the token was made from. Two apps therefore receive unrelated
tokens for the same person and cannot join their releases on them; the owner,
who knows which app it sent a release to, derives the same key again to
reverse a token an app hands back (the reversal request names that app, the
dataset and the column). Binding the dataset and column means a token
reverses only under the dataset and column that produced it, so the record of
a reversal cannot name another dataset or column than the value came from:
an AES-SIV token named under another one fails authentication; an FF1 token
gives a well-formed value that is not the original (see below). Tokens carry no recipient tag: a tag
would tell any holder which app a token came from, and it is not needed,
since the owner names the app. Reversal stays the owner's privilege,
exercised through the gateway's audited endpoint.

Two kinds:

- AES-SIV (RFC 5297), deterministic authenticated encryption: the same value
  always gives the same token for one recipient, so a recipient can still
  count and join within its own data, and a token decrypts only under the
  key it was made with; anything else (another owner, recipient or version,
  a changed character) fails authentication. Token: f"t{version}_" +
  urlsafe base64 (no padding) of the SIV output, so the key version travels
  with it. The plaintext is padded to a fixed length bucket (32, 64, 128 or
  256 bytes, then whole multiples of 256: ISO/IEC 7816-4 padding, a 0x80
  byte then zeros) so that the token's length tells nothing about the
  value's length: every identifier up to 30 bytes (ID and mobile numbers,
  names, most addresses' first line) gives a token of the same length.
- FF1 (NIST SP 800-38G, `anonymizers.fpe`) for values that must keep their
  shape. FF1 is not authenticated and has no room for a version label: the
  key version comes from the release's receipt, and reversing with the wrong
  key (naming the wrong recipient, dataset, column or version) yields a wrong
  but well-formed value. The markings below are applied after encryption,
  so they tell a token from a real value but cannot tell which key made it:
  a wrong key is not detected.

FF1 tokens keep the format's length and alphabet but are marked so that no
token can be mistaken for a real identifier (values are canonicalised with
`normalise_identifier` first):

- "mobile": 1[3-9] + 9 digits. The second (network) digit is kept; FF1 over
  the last 9 digits, tweaked by the kept digit. Marking: the leading 1 is
  replaced by 2, so every token matches 2[3-9][0-9]{9}. China's numbering
  plan has no 11-digit number starting with 2 (mobiles start with 1,
  long-distance landlines with the trunk prefix 0, local numbers have 7 or
  8 digits), so a token is never a dialable mainland number.
- "id_number": 18-character resident ID (GB 11643). The birth date, the
  3-digit sequence and the offset of the given check character from the
  correct one (0 for a valid ID) are encoded as one number in a mixed-radix
  domain, offset * 73,049,000 + day_index(birth date) * 1000 + sequence,
  with day_index counting days from 1900-01-01 to 2099-12-31 (73,049 days),
  encrypted with FF1 over 9 decimal digits and cycle-walked back into the
  domain of 803,539,000 (1.24 encryptions on average). The 6-digit region
  code is kept and is the FF1 tweak, so equal dates and sequences in two
  regions do not give related tokens. The 9 encrypted digits fill the year,
  day and sequence positions. Marking, twice: the birth month is always
  "00" (no calendar has it), and the check character is always the one
  after the correct GB 11643 character (in the order 1 0 X 9 8 ... 2), so
  the token fails both the date and the checksum test of any validator,
  while the original's check offset, kept under encryption, still reverses
  exactly (also for a mistyped ID). What a token does not keep: the birth
  date and the sequence's parity (gender); never derive an age or a gender
  from a token. Alternatives rejected: keeping the date and encrypting only
  the sequence (1,000 values per region and day: trivially brute-forced and
  it leaves the birth date in clear), or FF1 over the 11 digits after the
  region (valid-looking IDs that collide with real people). Legacy 15-digit
  IDs are first upgraded to the 18-character form (insert "19", add the
  check character), which is what reversal returns. Birth dates outside
  1900-2099 cannot be tokenised.
- "digits": any string of at least 6 ASCII digits, FF1 over all of them
  (SP 800-38G Rev. 1 requires a domain of at least 10^6). Not marked: every
  digit string of the length is a possible input, so no output can be set
  aside as a marker without changing the length. Do not use it for
  identifiers that have a validator of their own (bank card numbers: use
  AES-SIV); it is meant for in-house numbers.

Values that do not fit the requested format become None, like a suppressed
cell: a tokeniser that raised would abort a release, and one that passed the
value through would leak it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Final, Literal, get_args

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from anonymizers._columns import map_distinct
from anonymizers.errors import InvalidTokenError, KeyMaterialError, TokenError
from anonymizers.fpe import FF1
from anonymizers.keys import derive_key
from anonymizers.normalise import MAINLAND_MOBILE, normalise_identifier

__all__ = [
    "FF1_KEY_BYTES",
    "SIV_BUCKETS",
    "SIV_KEY_BYTES",
    "TOKEN_FORMATS",
    "TOKEN_KEY_PURPOSE",
    "Ff1Tokenizer",
    "SivTokenizer",
    "TokenFormat",
    "detokenise",
    "ff1_token_key",
    "id_check_char",
    "siv_token_key",
]

TOKEN_KEY_PURPOSE: Final = "token"  # noqa: S105 -- a key-derivation label, not a secret
SIV_KEY_BYTES: Final = 64  # AES-256-SIV (two 256-bit keys)
FF1_KEY_BYTES: Final = 32  # AES-256

TokenFormat = Literal["id_number", "mobile", "digits"]
TOKEN_FORMATS: Final[tuple[TokenFormat, ...]] = get_args(TokenFormat)

# First plaintext byte of a SIV token: the token format, so it can evolve,
# and never-empty plaintext for AES-SIV. 0x02: padded to a length bucket.
_SIV_FORMAT: Final = b"\x02"
_SIV_PREFIX: Final = re.compile(r"t([1-9][0-9]*)_", re.ASCII)
# Plaintext lengths (format byte and padding included) a SIV token can have;
# longer values are padded to a multiple of the last.
SIV_BUCKETS: Final = (32, 64, 128, 256)
_SIV_PAD: Final = b"\x80"

_ID_CHECK_CHARS: Final = "10X98765432"
_ID_CHECK_INDEX: Final = {char: i for i, char in enumerate(_ID_CHECK_CHARS)}
_ID_18: Final = re.compile(r"[0-9]{17}[0-9X]")
_ID_15: Final = re.compile(r"[0-9]{15}")
_ID_FIRST_DAY: Final = dt.date(1900, 1, 1)
_ID_DAYS: Final = dt.date(2100, 1, 1).toordinal() - _ID_FIRST_DAY.toordinal()
_ID_SEQUENCES: Final = 1000
_ID_DOMAIN: Final = _ID_DAYS * _ID_SEQUENCES
# Check offsets (0..10) ride along under encryption, so every offset reverses.
_ID_TOKEN_DOMAIN: Final = len(_ID_CHECK_CHARS) * _ID_DOMAIN
_ID_FF1_DIGITS: Final = 9  # 10**9 >= _ID_TOKEN_DOMAIN
_ID_MARKED_MONTH: Final = "00"  # the marker: no calendar has a month 00
_ID_TOKEN: Final = re.compile(r"[0-9]{10}00[0-9]{5}[0-9X]")
_MOBILE_FF1_DIGITS: Final = 9
_MOBILE_TOKEN: Final = re.compile(r"2[3-9][0-9]{9}")
_MOBILE_MARKED_LEAD: Final = "2"  # the marker: no mainland number is 2 + 10 digits
_DIGITS_MIN: Final = 6
_DIGITS: Final = re.compile(r"[0-9]+")


def siv_token_key(
    master: bytes, owner: str, recipient: str, version: int, *, dataset: str, column: str
) -> bytes:
    """AES-SIV key of the owner's tokens of one dataset column for one recipient:
    HKDF info "cdg/v{version}/token/{owner}/{recipient}/{dataset}/{column}/aes-siv"."""
    return derive_key(
        master,
        TOKEN_KEY_PURPOSE,
        owner,
        recipient,
        dataset,
        column,
        "aes-siv",
        version=version,
        length=SIV_KEY_BYTES,
    )


def ff1_token_key(
    master: bytes, owner: str, recipient: str, version: int, *, dataset: str, column: str
) -> bytes:
    """FF1 key of the owner's tokens of one dataset column for one recipient:
    HKDF info "cdg/v{version}/token/{owner}/{recipient}/{dataset}/{column}/ff1"."""
    return derive_key(
        master,
        TOKEN_KEY_PURPOSE,
        owner,
        recipient,
        dataset,
        column,
        "ff1",
        version=version,
        length=FF1_KEY_BYTES,
    )


def _pad(plain: bytes) -> bytes:
    """ISO/IEC 7816-4 padding up to the smallest bucket that holds it."""
    needed = len(plain) + len(_SIV_PAD)
    size = next((b for b in SIV_BUCKETS if b >= needed), None)
    if size is None:
        step = SIV_BUCKETS[-1]
        size = -(-needed // step) * step
    return plain + _SIV_PAD + bytes(size - needed)


def _unpad(padded: bytes) -> bytes | None:
    body = padded.rstrip(b"\x00")
    return body[: -len(_SIV_PAD)] if body.endswith(_SIV_PAD) else None


def id_check_char(first17: str) -> str:
    """GB 11643 check character of the first 17 digits of a resident ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise TokenError("expected 17 ASCII digits")
    # The weights 7 9 10 5 ... 2 are 2**17 ... 2**1 mod 11, and 13 = 2 mod 11,
    # so sum(digit * weight) = 2 * int(first17, 13) (mod 11): one C call.
    return _ID_CHECK_CHARS[2 * int(first17, 13) % 11]


def _check_version(version: int) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise KeyMaterialError("key version must be an integer >= 1")


class SivTokenizer:
    """Deterministic AES-SIV tokens: callable value -> f"t{version}_..." (None -> None).

    The value is rendered with str() and, unless `normalise` is False,
    canonicalised with normalise_identifier (so "138 1234 5678" and
    "13812345678" get one token, and reversal gives the canonical form).
    """

    __slots__ = ("_normalise", "_prefix", "_siv", "version")

    def __init__(self, key: bytes, version: int, *, normalise: bool = True) -> None:
        if not isinstance(key, bytes) or len(key) != SIV_KEY_BYTES:
            raise KeyMaterialError(f"AES-SIV token key must be {SIV_KEY_BYTES} bytes")
        _check_version(version)
        self._siv = AESSIV(key)
        self._prefix = f"t{version}_"
        self._normalise = normalise
        self.version = version

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self._prefix!r})"

    def __call__(self, value: object) -> str | None:
        if value is None:
            return None
        text = str(value)
        if self._normalise:
            text = normalise_identifier(text)
        sealed = self._siv.encrypt(_pad(_SIV_FORMAT + text.encode("utf-8")), None)
        return self._prefix + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def tokenise_many(self, values: Sequence[object]) -> list[str | None]:
        """Tokenise a column, encrypting each distinct value once."""
        return map_distinct(values, lambda distinct: [self(value) for value in distinct])

    def reverse(self, token: str) -> str:
        """The value a token was made from.

        Raises TokenError for a malformed token or one labelled with another
        key version, and InvalidTokenError (also InvalidTag) when it fails
        authentication: another owner's or version's key, or altered.
        """
        if not isinstance(token, str):
            raise TokenError("a token must be a string")
        match = _SIV_PREFIX.match(token)
        if match is None:
            raise TokenError("not an AES-SIV token")
        if int(match.group(1)) != self.version:
            raise TokenError("token was made with another key version")
        body = token[match.end() :]
        try:
            sealed = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise TokenError("malformed token") from None
        try:
            plain = self._siv.decrypt(sealed, None)
        except (InvalidTag, ValueError):
            # ValueError: too short to hold the SIV tag.
            raise InvalidTokenError(
                "token failed authentication: wrong owner or key version, or altered"
            ) from None
        unpadded = _unpad(plain)
        if unpadded is None or not unpadded.startswith(_SIV_FORMAT):
            raise TokenError("unknown token format")
        try:
            return unpadded[len(_SIV_FORMAT) :].decode("utf-8")
        except UnicodeDecodeError:  # pragma: no cover - authenticated, so ours
            raise TokenError("malformed token") from None


class Ff1Tokenizer:
    """Format-preserving tokens for one `format` (see the module docstring).

    `tokenise_many` maps a column (values that do not fit the format -> None);
    `reverse` maps one token back and raises TokenError when it does not fit
    the format.
    """

    __slots__ = ("_ff1", "format")

    def __init__(self, key: bytes, format: TokenFormat) -> None:
        if not isinstance(key, bytes) or len(key) != FF1_KEY_BYTES:
            raise KeyMaterialError(f"FF1 token key must be {FF1_KEY_BYTES} bytes")
        if format not in TOKEN_FORMATS:
            raise TokenError(f"unknown token format; expected one of {list(TOKEN_FORMATS)}")
        self._ff1 = FF1(key, radix=10)
        self.format: TokenFormat = format

    def __repr__(self) -> str:
        return f"{type(self).__name__}(format={self.format!r})"

    def __call__(self, value: object) -> str | None:
        return self.tokenise_many([value])[0]

    def tokenise_many(self, values: Sequence[object]) -> list[str | None]:
        return map_distinct(values, self._tokenise_distinct)

    def reverse(self, token: str) -> str:
        if not isinstance(token, str):
            raise TokenError("a token must be a string")
        result = self._crypt([token], decrypt=True)[0]
        if result is None:
            raise TokenError(f"not an FF1 {self.format} token")
        return result

    def reverse_many(self, tokens: Sequence[object]) -> list[str | None]:
        """Reverse a column of tokens; anything that is not a token -> None."""
        return map_distinct(tokens, lambda distinct: self._crypt(distinct, decrypt=True))

    def _tokenise_distinct(self, values: list[object]) -> list[str | None]:
        return self._crypt(values, decrypt=False)

    def _crypt(self, values: Sequence[object], *, decrypt: bool) -> list[str | None]:
        parse: Callable[[str], _Parsed | None]
        if self.format == "id_number":
            parse = _parse_id_token if decrypt else _parse_id
        elif self.format == "mobile":
            parse = _parse_mobile_token if decrypt else _parse_mobile
        else:
            parse = _parse_digits
        results: list[str | None] = [None] * len(values)
        # Batch by (tweak, length, domain): one FF1 pass per group.
        groups: dict[tuple[bytes, int, int], list[tuple[int, _Parsed]]] = {}
        for position, value in enumerate(values):
            if value is None:
                continue
            parsed = parse(normalise_identifier(str(value)))
            if parsed is not None:
                groups.setdefault(parsed.group, []).append((position, parsed))
        for (tweak, length, domain), members in groups.items():
            numbers = [parsed.number for _, parsed in members]
            crypted = _cycle_walk(self._ff1, numbers, length, tweak, domain, decrypt=decrypt)
            for (position, parsed), number in zip(members, crypted, strict=True):
                results[position] = parsed.render(number)
        return results


def _cycle_walk(
    ff1: FF1, numbers: list[int], length: int, tweak: bytes, domain: int, *, decrypt: bool
) -> list[int]:
    """FF1 restricted to [0, domain) by cycle walking: re-encrypt results that
    fall outside until they land inside (a permutation of the subdomain)."""
    crypt = ff1.decrypt_numbers if decrypt else ff1.encrypt_numbers
    out = crypt(numbers, length, tweak)
    pending = [i for i, number in enumerate(out) if number >= domain]
    while pending:
        again = crypt([out[i] for i in pending], length, tweak)
        for i, number in zip(pending, again, strict=True):
            out[i] = number
        pending = [i for i in pending if out[i] >= domain]
    return out


class _Parsed:
    """A value read for FF1: the number to encrypt, its group and how to
    render the result back into the format."""

    __slots__ = ("group", "number", "render")

    def __init__(
        self, group: tuple[bytes, int, int], number: int, render: Callable[[int], str]
    ) -> None:
        self.group = group
        self.number = number
        self.render = render


def _mobile(text: str, lead: str) -> _Parsed:
    network = text[1]
    group = (b"mobile" + network.encode("ascii"), _MOBILE_FF1_DIGITS, 10**_MOBILE_FF1_DIGITS)
    return _Parsed(group, int(text[2:]), lambda number: f"{lead}{network}{number:09d}")


def _parse_mobile(text: str) -> _Parsed | None:
    return _mobile(text, _MOBILE_MARKED_LEAD) if MAINLAND_MOBILE.fullmatch(text) else None


def _parse_mobile_token(text: str) -> _Parsed | None:
    return _mobile(text, "1") if _MOBILE_TOKEN.fullmatch(text) else None


def _parse_digits(text: str) -> _Parsed | None:
    if len(text) < _DIGITS_MIN or not _DIGITS.fullmatch(text):
        return None
    length = len(text)
    return _Parsed((b"digits", length, 10**length), int(text), lambda n: str(n).zfill(length))


def _parse_id(text: str) -> _Parsed | None:
    if _ID_15.fullmatch(text):
        body = text[:6] + "19" + text[6:]
        text = body + id_check_char(body)
    return _parse_id_value(text)


def _parse_id_value(text: str) -> _Parsed | None:
    """An ID value to tokenise: region, date, sequence and check offset."""
    if not _ID_18.fullmatch(text):
        return None
    region = text[:6]
    try:
        birth = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return None
    day = birth.toordinal() - _ID_FIRST_DAY.toordinal()
    if not 0 <= day < _ID_DAYS:
        return None
    # Offset of the given check character from the correct one (0 when valid).
    offset = (_ID_CHECK_INDEX[text[17]] - _ID_CHECK_INDEX[id_check_char(text[:17])]) % 11
    number = offset * _ID_DOMAIN + day * _ID_SEQUENCES + int(text[14:17])

    def render(crypted: int) -> str:
        digits = f"{crypted:09d}"
        body = f"{region}{digits[:4]}{_ID_MARKED_MONTH}{digits[4:]}"
        # The character after the correct one: wrong by construction.
        return body + _ID_CHECK_CHARS[(_ID_CHECK_INDEX[id_check_char(body)] + 1) % 11]

    return _Parsed(_id_group(region), number, render)


def _parse_id_token(text: str) -> _Parsed | None:
    """An ID token to reverse: marked month and check character, in the domain."""
    if not _ID_TOKEN.fullmatch(text):
        return None
    body = text[:17]
    if text[17] != _ID_CHECK_CHARS[(_ID_CHECK_INDEX[id_check_char(body)] + 1) % 11]:
        return None
    number = int(body[6:10] + body[12:17])
    if number >= _ID_TOKEN_DOMAIN:
        return None
    region = text[:6]

    def render(plain: int) -> str:
        offset, rest = divmod(plain, _ID_DOMAIN)
        day, sequence = divmod(rest, _ID_SEQUENCES)
        date_out = dt.date.fromordinal(_ID_FIRST_DAY.toordinal() + day)
        original = f"{region}{date_out:%Y%m%d}{sequence:03d}"
        return original + _ID_CHECK_CHARS[(_ID_CHECK_INDEX[id_check_char(original)] + offset) % 11]

    return _Parsed(_id_group(region), number, render)


def _id_group(region: str) -> tuple[bytes, int, int]:
    return (b"id" + region.encode("ascii"), _ID_FF1_DIGITS, _ID_TOKEN_DOMAIN)


def detokenise(
    token: str,
    master_key: bytes,
    version: int,
    owner: str,
    recipient: str,
    *,
    dataset: str,
    column: str,
    format: TokenFormat | None = None,
) -> str:
    """Reverse a token of `owner`'s `dataset` `column` released to `recipient` under `version`.

    With `format` None the token is an AES-SIV token (t{version}_...):
    raises TokenError when malformed or labelled with another version, and
    InvalidTokenError (also InvalidTag) when it fails authentication (another
    owner, recipient, dataset, column or version). With a format it is an FF1
    token of that format: raises TokenError when it does not carry the
    format's marking; a wrong owner, recipient, dataset, column or version
    gives a wrong value, not an error (FF1 is not authenticated).
    KeyMaterialError for an unusable master key, version or key context. No
    message contains the token.
    """
    if format is None:
        key = siv_token_key(master_key, owner, recipient, version, dataset=dataset, column=column)
        return SivTokenizer(key, version).reverse(token)
    key = ff1_token_key(master_key, owner, recipient, version, dataset=dataset, column=column)
    return Ff1Tokenizer(key, format).reverse(token)
