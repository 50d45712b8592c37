"""Canonical JSON for audit entries: the bytes that get hashed into the log.

A leaf hash commits to exact bytes, so the same entry must always serialise
to the same bytes, in every process and every Python version. We therefore
accept only types whose JSON text is unambiguous:

* ``str`` (any Unicode, written as UTF-8, not ``\\u`` escapes),
* ``int`` and ``bool``, ``None``,
* ``list`` and string-keyed mappings, nested freely.

Floats are refused: their text form depends on the printer (``1e16`` vs
``1E+16`` vs ``10000000000000000.0``) and NaN/Infinity are not JSON at all.
Store amounts as integers in a stated unit (for example epsilon in
micro-units) instead. Tuples, sets, bytes and other objects are refused too,
so nothing is silently coerced into something the verifier cannot rebuild.

Keys are sorted by Unicode code point (Python string order) and no
whitespace is emitted. This is close to, but not exactly, RFC 8785 (JCS),
which sorts by UTF-16 code units; the two differ only for keys that mix
astral-plane characters with characters in U+E000..U+FFFF.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec

__all__ = ["DuplicateKey", "canonical_json", "loads_strict"]

_ENCODE = msgspec.json.Encoder(order="sorted").encode


def canonical_json(entry: Mapping[str, object]) -> bytes:
    """Return the canonical UTF-8 JSON bytes of ``entry``.

    Raises ``TypeError`` for a float, a non-string key or any other
    unsupported value, naming where in the entry it was found, and
    ``ValueError`` for strings that cannot be encoded as UTF-8 (lone
    surrogates).
    """
    if not isinstance(entry, Mapping):
        raise TypeError(f"an audit entry must be a mapping, not {type(entry).__name__}")
    if type(entry) is dict and _is_plain(entry):
        plain: object = entry  # nothing to convert: encoded as it is
    else:
        try:
            plain = _plain(entry)
        except TypeError:
            plain = _check(entry, "$")  # the slow walk names where the bad value is
    try:
        # The same bytes as the json.dumps below (tested character by character), several
        # times faster; anything it refuses (a str or int subclass, a lone surrogate) takes
        # the path below, which decides what is written or raised.
        return _ENCODE(plain)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        pass
    text = json.dumps(
        plain,
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("audit entry contains a string that is not valid Unicode") from exc


_SCALARS = frozenset({str, int, bool, type(None)})


def _is_plain(value: dict[Any, Any] | list[Any]) -> bool:
    """Whether ``value`` holds only exact dicts with str keys, lists, str, int, bool and
    None: then it needs no copy (the writer's entries, on every append). Anything else,
    a float or a subclass included, answers False and takes ``_plain``, which decides."""
    scalars = _SCALARS
    items = value.values() if type(value) is dict else value
    if type(value) is dict:
        for key in value:
            if type(key) is not str:
                return False
    for item in items:
        kind = type(item)
        if kind in scalars:
            continue
        if (kind is dict or kind is list) and _is_plain(item):
            continue
        return False
    return True


def _plain(value: object) -> object:
    """The fast walk of ``_check``: the same rules, no location strings."""
    if isinstance(value, float):
        raise TypeError("float")
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("key")
            out[key] = _plain(item)
        return out
    if isinstance(value, list):
        return [_plain(item) for item in value]
    raise TypeError("type")


def _check(value: object, path: str) -> object:
    """Validate ``value`` and return it as plain dicts and lists.

    Converting mappings to ``dict`` matters: ``json.dumps`` only understands
    real dicts, and we must not let a custom mapping decide its own output.
    """
    # bool before int is irrelevant for validity (bool is an int) but floats
    # must be caught before anything numeric slips through.
    if isinstance(value, float):
        raise TypeError(f"{path}: floats are not allowed in audit entries; use an integer")
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: mapping keys must be str, not {type(key).__name__}")
            out[key] = _check(item, f"{path}.{key}")
        return out
    if isinstance(value, list):
        return [_check(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{path}: {type(value).__name__} is not allowed in audit entries")


class DuplicateKey(ValueError):
    """A JSON object names the same key twice."""


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                break
            seen.add(key)
        raise DuplicateKey(f"the key {json.dumps(key)} appears twice in one object")
    return out


def loads_strict(text: str | bytes) -> Any:
    """``json.loads`` refusing an object with a key given twice (``DuplicateKey``).

    Python keeps the last of two equal keys, another reader may keep the first: a checker
    reading files it did not write (exports, receipts, proofs) must not pick one silently,
    or a line could say one thing to it and another to a spreadsheet.
    """
    return json.loads(text, object_pairs_hook=_no_duplicates)
