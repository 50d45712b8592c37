"""canonical_json: exact bytes, stability, and refusal of ambiguous values."""

from __future__ import annotations

import json
from collections import OrderedDict
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit import canonical_json

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=25,
)
ENTRIES = st.dictionaries(st.text(), JSON_VALUES, max_size=8)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({}, b"{}"),
        ({"b": 1, "a": 2}, b'{"a":2,"b":1}'),
        ({"a": [True, False, None, 0, -7]}, b'{"a":[true,false,null,0,-7]}'),
        ({"name": "张三"}, '{"name":"张三"}'.encode()),
        ({"k": 'quote " and \\ back'}, b'{"k":"quote \\" and \\\\ back"}'),
        ({"k": "line\nbreak\x00"}, b'{"k":"line\\nbreak\\u0000"}'),
        ({"z": {"y": {"x": []}}, "a": ""}, b'{"a":"","z":{"y":{"x":[]}}}'),
        ({"big": 2**70}, b'{"big":1180591620717411303424}'),
        ({"é": 1, "e": 2, "中": 3}, '{"e":2,"é":1,"中":3}'.encode()),
    ],
)
def test_exact_bytes(entry: dict[str, Any], expected: bytes) -> None:
    assert canonical_json(entry) == expected


def test_bool_and_int_stay_distinct() -> None:
    assert canonical_json({"a": True}) == b'{"a":true}'
    assert canonical_json({"a": 1}) == b'{"a":1}'


def test_str_enums_serialise_as_their_value() -> None:
    class Kind(StrEnum):
        ROWS = "rows"

    assert canonical_json({Kind.ROWS: Kind.ROWS}) == b'{"rows":"rows"}'


def test_any_mapping_is_accepted_and_order_ignored() -> None:
    ordered = OrderedDict([("b", 1), ("a", OrderedDict([("d", 1), ("c", 2)]))])
    assert canonical_json(ordered) == b'{"a":{"c":2,"d":1},"b":1}'


@pytest.mark.parametrize(
    "entry",
    [
        {"a": 1.0},
        {"a": float("nan")},
        {"a": float("inf")},
        {"a": [1, 2, 0.5]},
        {"a": {"b": {"c": [1e10]}}},
        {"a": -0.0},
    ],
)
def test_floats_are_refused_anywhere(entry: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="float"):
        canonical_json(entry)


@pytest.mark.parametrize(
    "entry",
    [
        {1: "a"},
        {"a": {None: 1}},
        {"a": [{(1, 2): 3}]},
        {"a": {True: 1}},
    ],
)
def test_non_string_keys_are_refused(entry: dict[Any, Any]) -> None:
    with pytest.raises(TypeError, match="keys must be str"):
        canonical_json(entry)


@pytest.mark.parametrize(
    "value",
    [(1, 2), {1, 2}, b"bytes", Decimal("1.5"), object(), 1j, frozenset()],
)
def test_other_types_are_refused(value: object) -> None:
    with pytest.raises(TypeError, match="not allowed"):
        canonical_json({"a": value})


def test_error_names_the_path() -> None:
    with pytest.raises(TypeError, match=r"\$\.outer\[1\]\.inner"):
        canonical_json({"outer": [0, {"inner": 0.1}]})


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(TypeError, match="mapping"):
        canonical_json([1, 2])  # type: ignore[arg-type]


def test_lone_surrogate_is_refused() -> None:
    with pytest.raises(ValueError, match="Unicode"):
        canonical_json({"a": "\ud800"})


@given(ENTRIES)
def test_roundtrip_and_idempotence(entry: dict[str, Any]) -> None:
    data = canonical_json(entry)
    assert json.loads(data) == entry
    assert canonical_json(json.loads(data)) == data


@given(ENTRIES, st.randoms())
def test_key_insertion_order_does_not_matter(entry: dict[str, Any], rnd: Any) -> None:
    items = list(entry.items())
    rnd.shuffle(items)
    assert canonical_json(dict(items)) == canonical_json(entry)


@given(ENTRIES)
def test_output_is_compact_utf8(entry: dict[str, Any]) -> None:
    text = canonical_json(entry).decode("utf-8")
    # No insignificant whitespace: re-dumping compactly changes nothing.
    assert text == json.dumps(
        json.loads(text), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )


def _reference(entry: dict[str, Any]) -> bytes:
    """What canonical JSON is defined as: json.dumps with these options, UTF-8."""
    return json.dumps(
        entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def test_every_character_below_u3000_and_the_edges_encode_as_json_dumps_does() -> None:
    # The fast encoder must escape exactly what json.dumps escapes (control characters,
    # quote, backslash) and nothing else (U+007F, U+2028, U+2029, astral characters).
    extra = ["\u2028", "\u2029", "\ufeff", "\ue000", "\uffff", "\U0001f600", "\U0010ffff"]
    for char in [chr(i) for i in range(0x3000)] + extra:
        entry = {"k" + char: "v" + char + '\\"', char: [char, 1, True, None, -5]}
        assert canonical_json(entry) == _reference(entry), repr(char)


@pytest.mark.parametrize("value", [2**63 - 1, 2**63, 2**64, -(2**63), -(2**63) - 1, 10**40])
def test_integers_past_64_bits_encode_as_json_dumps_does(value: int) -> None:
    assert canonical_json({"n": value}) == _reference({"n": value})


def test_keys_sort_by_code_point_like_python() -> None:
    entry = dict.fromkeys(["\ue000", "\U0001f600", "a", "Z", "é", "\uffff"], 1)
    assert canonical_json(entry) == _reference(entry)


@given(ENTRIES)
def test_any_entry_encodes_as_json_dumps_does(entry: dict[str, Any]) -> None:
    try:
        expected = _reference(entry)
    except UnicodeEncodeError:
        with pytest.raises(ValueError, match="not valid Unicode"):
            canonical_json(entry)
        return
    assert canonical_json(entry) == expected
