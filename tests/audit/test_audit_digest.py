"""The result digest: RFC 8785 numbers, one text for every release kind, recomputable."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.digest import _value, jcs_number, result_digest, result_digest_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # ECMAScript Number.prototype.toString, as RFC 8785 Appendix B lists them.
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.5, "-1.5"),
        (0.1, "0.1"),
        (1e16, "10000000000000000"),
        (1e21, "1e+21"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (1e-7, "1e-7"),
        (123456789012345680000.0, "123456789012345680000"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (333333333.3333333, "333333333.3333333"),
    ],
)
def test_numbers_are_written_as_ecmascript_writes_them(value: float, text: str) -> None:
    assert jcs_number(value) == text


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        jcs_number(bad)


def test_text_is_compact_utf8_json_of_columns_and_rows() -> None:
    text = result_digest_text(
        ["区", "n", "mean"], [["和平", 12, 3.25], [None, True, 2.0], ['a"\\\n\u2028', -3, 0.5]]
    )
    assert text == (
        '[["区","n","mean"],[["和平",12,3.25],[null,true,2],["a\\"\\\\\\n\u2028",-3,0.5]]]'
    )
    assert json.loads(text) == [
        ["区", "n", "mean"],
        [["和平", 12, 3.25], [None, True, 2], ['a"\\\n\u2028', -3, 0.5]],
    ]


def test_digest_survives_a_json_round_trip_of_the_response() -> None:
    """What a recipient recomputes from the parsed HTTP response equals what was logged."""
    columns, rows = ["grp", "n", "total"], [[1, 104, 2718.0], [2, 97, 1e-7], [3, 0, 12.5]]
    logged = result_digest(columns, rows)
    received = json.loads(json.dumps({"columns": columns, "rows": rows}))
    assert result_digest(received["columns"], received["rows"]) == logged
    assert logged == hashlib.sha256(result_digest_text(columns, rows).encode()).hexdigest()
    assert result_digest(columns, [[1, 104, 2718.0], [2, 97, 1e-7], [3, 1, 12.5]]) != logged


def test_integer_rows_keep_the_digest_row_releases_always_had() -> None:
    """For strings, integers and nulls the canonical text is the old compact JSON."""
    columns = ["age", "name"]
    rows: list[list[object]] = [[81, "张*"], [None, "李*"]]
    old = json.dumps([columns, rows], ensure_ascii=False, separators=(",", ":"))
    assert result_digest(columns, rows) == hashlib.sha256(old.encode()).hexdigest()


def test_values_without_a_json_form_are_refused() -> None:
    with pytest.raises(TypeError):
        result_digest(["x"], [[object()]])


def test_the_recipe_in_the_docs_computes_the_same_digest() -> None:
    """docs/audit.md tells third parties how to recompute the digest: it must be right."""
    import random
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "audit.md").read_text(encoding="utf-8")
    section = doc[doc.index("## The result digest") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    scope: dict[str, object] = {}
    exec(compile(code.group(1), "docs/audit.md", "exec"), scope)
    recipe = scope["result_digest"]
    assert callable(recipe)
    rng = random.Random(7)
    values: list[object] = [0.0, -0.0, 1e-5, 1e-6, 1e-7, 1.5e-7, 1e21, 1e22, 1e16, 2718.0, 0.1]
    values += [rng.uniform(-1e6, 1e6) for _ in range(200)]
    values += [10 ** rng.uniform(-12, 25) * rng.choice([1, -1]) for _ in range(300)]
    values += [12, -3, None, True, '和平 "q"\n']
    rows = [values[i : i + 7] for i in range(0, len(values), 7)]
    response = json.loads(json.dumps({"columns": ["a", "区"], "rows": rows}))
    assert recipe(response) == result_digest(response["columns"], response["rows"])
    for value in values:
        assert recipe({"columns": [], "rows": [[value]]}) == result_digest([], [[value]]), value


_PLAIN_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"])),  # any text UTF-8 can hold
)


@settings(max_examples=300, deadline=None)
@given(
    columns=st.lists(st.text(max_size=8), max_size=5),
    rows=st.lists(st.lists(_PLAIN_VALUES, max_size=5), max_size=6),
)
def test_the_fast_text_of_plain_rows_is_the_canonical_text(
    columns: list[str], rows: list[list[object]]
) -> None:
    # Rows of strings, integers, booleans and nulls take the standard library's JSON; it
    # must write exactly what the value-by-value canonical writer writes.
    assert result_digest_text(columns, rows) == _value([columns, rows])
    with_float = [*rows, [0.5]]
    assert result_digest_text(columns, with_float) == _value([columns, with_float])
