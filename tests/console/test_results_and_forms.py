"""Pure parts of the console: the query form's spec, the result view, the CSV file."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from gateway.console.query_form import FormData, run_params, spec_from_form
from gateway.console.results import csv_bytes, view
from gateway.queries.schemas import DPInfo, ReceiptOut, RunResult
from gateway.queries.spec import QuerySpec

TYPES = {"age": "integer", "building": "integer", "name": "string", "born": "date"}


def form(**fields: Any) -> FormData:
    items: list[tuple[str, str]] = []
    for key, value in fields.items():
        for v in value if isinstance(value, list) else [value]:
            items.append((key, str(v)))
    return FormData.of(items)


def test_rows_form_builds_a_valid_spec_with_asked_values() -> None:
    spec, problems = spec_from_form(
        form(
            kind="rows",
            select=["name", "age", "unknown"],
            filter_column_0="age",
            filter_op_0="between",
            filter_value_0="70, 90",
            filter_ask_0="1",
            filter_column_1="building",
            filter_op_1="in",
            filter_value_1="1，2",
            order_by="age",
            order_desc="1",
            limit="50",
        ),
        TYPES,
    )
    assert problems == []
    assert spec["select"] == ["name", "age"]  # a column not offered is dropped
    assert spec["filters"][0]["value"] == [{"param": "age_from"}, {"param": "age_to"}]
    assert spec["params"]["age_from"] == {"type": "integer", "default": 70}
    assert spec["filters"][1]["value"] == [1, 2]
    assert spec["order_by"] == [{"column": "age", "desc": True}]
    QuerySpec.model_validate(spec)


def test_aggregate_form_and_its_problems() -> None:
    spec, problems = spec_from_form(
        form(
            kind="aggregate",
            group_by="building",
            agg_fn_0="count",
            agg_fn_1="mean",
            agg_column_1="age",
            agg_as_1="mean_age",
        ),
        TYPES,
    )
    assert problems == []
    assert spec["aggregates"] == [
        {"fn": "count", "as": "count"},
        {"fn": "mean", "as": "mean_age", "column": "age"},
    ]
    _, problems = spec_from_form(form(kind="aggregate"), TYPES)
    assert problems == ["Add at least one measure (count, persons, sum or mean)."]
    _, problems = spec_from_form(
        form(
            kind="rows", select="age", filter_column_0="age", filter_op_0="=", filter_value_0="old"
        ),
        TYPES,
    )
    assert problems == ["A filter value does not fit its column's type."]
    _, problems = spec_from_form(
        form(kind="rows", select="age", filter_column_0="age", filter_op_0="=", filter_ask_0="1"),
        TYPES,
    )
    assert problems == ["Give an example value for each value asked at run time."]
    _, problems = spec_from_form(form(kind="rows", select="age", order_by="building"), TYPES)
    assert problems == ["order_by may only name output columns"]  # QuerySpec's own check


def test_run_parameters_are_typed() -> None:
    values, bad = run_params(
        form(param_a="75", param_b="", param_c="1,2", param_d="x"),
        {
            "a": {"type": "integer"},
            "b": {"type": "integer"},
            "c": {"type": "integer", "many": True},
            "d": {"type": "number"},
        },
    )
    assert values == {"a": 75, "c": [1, 2]} and bad == ["d"]


def result(rows: list[list[Any]], intervals: list[list[list[float] | None]] | None) -> RunResult:
    receipt = ReceiptOut(
        entry_index=1,
        leaf_hash="00",
        recorded_at=datetime.now(UTC),
        tree_size=1,
        inclusion_proof=[],
        checkpoint="",
        entry="{}",
    )
    dp = None
    if intervals is not None:
        dp = DPInfo(
            epsilon=0.5,
            delta=0,
            mechanism="laplace",
            confidence=0.95,
            scales={},
            intervals=intervals,
            cached=False,
            window_start="2026-12-01",
            budget_total=5,
            budget_spent=0.5,
            budget_remaining=4.5,
            budget_lifetime_remaining=19.5,
            budget_dataset_remaining=49.5,
            budget_available=4.5,
        )
    return RunResult(
        query_id="qr",
        kind="aggregate",
        purpose="p",
        policy_version="v",
        columns=["group", "n"],
        rows=rows,
        row_count=len(rows),
        treatments={"group": "aggregate", "n": "dp"},
        truncated=False,
        retention="",
        receipt=receipt,
        dp=dp,
    )


def test_noise_dominated_values_are_flagged() -> None:
    shown = view(result([["a", 5], ["b", 400]], [[None, [-31.0, 41.0]], [None, [364.0, 436.0]]]))
    assert shown.noisy_cells == 1
    assert shown.rows[0][1].noisy and not shown.rows[1][1].noisy
    assert shown.rows[0][1].interval == (-31.0, 41.0)


def test_withheld_cells_show_as_suppressed() -> None:
    shown = view(result([[None, 3]], None))
    assert shown.rows[0][0].suppressed and not shown.dp


def test_csv_has_a_bom_keeps_chinese_and_defuses_formulas() -> None:
    data = csv_bytes(result([["和平社区", 12], ['=HYPERLINK("x")', -3]], None))
    assert data.startswith(b"\xef\xbb\xbf")
    text = data[3:].decode("utf-8")
    assert text.splitlines() == ["group,n", "和平社区,12", '\'=HYPERLINK(""x"")",-3'] or (
        "'=HYPERLINK" in text and ",-3" in text
    )
    href = view(result([["和平", 1]], None)).csv_href
    assert base64.b64decode(href.split(",", 1)[1]) == csv_bytes(result([["和平", 1]], None))
