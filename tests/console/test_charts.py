"""Server-side SVG charts: well-formed, escaped, honest about their numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from gateway.console.charts import OTHERS_COLOUR, Series, nice_max, stacked_bars, top_series

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_segments_carry_their_counts_and_stack_to_the_days_total() -> None:
    days = ["12-01", "12-02", "12-03"]
    svg = parse(
        stacked_bars(
            days,
            [Series("和平社区", [3, 0, 5]), Series("建设物业", [1, 2, 0])],
            title="按应用的每日访问",
            empty="无数据",
        )
    )
    assert svg.find(f"{SVG}title").text == "按应用的每日访问"  # type: ignore[union-attr]
    segments = [r for r in svg.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    tips = sorted(r.find(f"{SVG}title").text for r in segments)  # type: ignore[union-attr,type-var]
    assert tips == sorted(
        ["和平社区 · 12-01: 3", "和平社区 · 12-03: 5", "建设物业 · 12-01: 1", "建设物业 · 12-02: 2"]
    )
    # Heights are proportional: day 12-01 (3+1) and day 12-03 (5) against the axis top.
    by_day: dict[str, float] = {}
    for r in segments:
        day = r.find(f"{SVG}title").text.split(" · ")[1].split(":")[0]  # type: ignore[union-attr]
        by_day[day] = by_day.get(day, 0.0) + float(r.get("height", "0"))
    assert by_day["12-01"] / by_day["12-03"] == pytest.approx(4 / 5, rel=0.02)
    legend = [t.text for t in svg.iter(f"{SVG}text") if t.text and "(" in t.text]
    assert legend == ["和平社区 (8)", "建设物业 (3)"]


def test_every_label_is_escaped() -> None:
    evil = '<script>alert(1)</script>&"'
    markup = str(stacked_bars(["<b>"], [Series(evil, [1])], title=evil, empty=evil))
    assert "<script" not in markup and "<b>" not in markup
    svg = parse(markup)  # still well-formed XML
    assert any(t.text and t.text.startswith("<script>") for t in svg.iter(f"{SVG}text"))


def test_an_empty_chart_says_so() -> None:
    svg = parse(stacked_bars(["12-01"], [Series("a", [0])], title="t", empty="这段时间没有记录"))
    assert [t.text for t in svg.iter(f"{SVG}text")] == ["这段时间没有记录"]
    svg = parse(stacked_bars([], [], title="t", empty="none"))
    assert [t.text for t in svg.iter(f"{SVG}text")] == ["none"]


def test_bad_series_are_refused() -> None:
    with pytest.raises(ValueError, match="one value per day"):
        stacked_bars(["a", "b"], [Series("x", [1])], title="t", empty="e")
    with pytest.raises(ValueError, match="negative"):
        stacked_bars(["a"], [Series("x", [-1])], title="t", empty="e")


@pytest.mark.parametrize(
    ("value", "top", "step"),
    [(0, 1, 1), (1, 1, 1), (3, 3, 1), (7, 8, 2), (10, 10, 2), (37, 40, 10), (999, 1000, 200)],
)
def test_axis_tops_are_round(value: int, top: int, step: int) -> None:
    assert nice_max(value) == (top, step)
    assert top >= value and top % step == 0 and top // step <= 5


def test_top_series_keeps_the_largest_and_sums_the_rest() -> None:
    counts = {"a": [1, 1], "b": [5, 0], "c": [0, 1], "d": [0, 0], "e": [2, 2]}
    out = top_series(counts, keep=2, others="其他", labels={"b": "乙"})
    assert [(s.label, list(s.values)) for s in out] == [
        ("乙", [5, 0]),
        ("e", [2, 2]),
        ("其他", [1, 2]),
    ]
    svg = parse(stacked_bars(["1", "2"], out, title="t", empty="e", others="其他"))
    fills = {
        r.find(f"{SVG}title").text.split(" · ")[0]: r.get("fill")  # type: ignore[union-attr]
        for r in svg.iter(f"{SVG}rect")
        if r.find(f"{SVG}title") is not None
    }
    assert fills["其他"] == OTHERS_COLOUR and fills["乙"] != OTHERS_COLOUR
