"""Bar charts drawn on the server as SVG: no script, no library, nothing from a CDN.

``stacked_bars`` draws one bar per day, stacked by series (apps, datasets), with a
y axis of round numbers, day labels, a legend, and a ``<title>`` on every segment so a
pointer shows "series, day: count". Every piece of text (series names are department-
and app-chosen) is XML-escaped here; the result is ``Markup`` so templates insert it
as is. The SVG scales to its container (``viewBox``, width 100%) so it reads on a phone.
The page shows the same numbers as a table for screen readers and for copying.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from markupsafe import Markup

# Colour-blind-safe palette (Okabe–Ito), then grey for "others".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
OTHERS_COLOUR = "#999999"


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int]  # one count per day, in the order of the chart's days


def top_series(
    counts: Mapping[str, Sequence[int]], *, keep: int, others: str, labels: Mapping[str, str]
) -> list[Series]:
    """The ``keep`` largest series by total, then the rest summed as ``others``."""
    ranked = sorted(counts.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    out = [Series(labels.get(k, k), list(v)) for k, v in ranked[:keep] if sum(v) > 0]
    rest = [v for _, v in ranked[keep:] if sum(v) > 0]
    if rest:
        out.append(Series(others, [sum(col) for col in zip(*rest, strict=True)]))
    return out


def nice_max(value: int) -> tuple[int, int]:
    """(axis top, tick step): a round top at or above ``value`` with 2–5 round steps."""
    if value <= 0:
        return 1, 1
    exponent = 10 ** math.floor(math.log10(value))
    for step_factor in (0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10):
        step = max(1, int(exponent * step_factor))
        top = step * math.ceil(value / step)
        if top // step <= 5:
            return top, step
    return value, value  # not reached: factor 10 always fits


def _text(
    x: float, y: float, text: str, *, anchor: str = "middle", size: int = 11, cls: str = ""
) -> str:
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{klass}>'
        f"{escape(text)}</text>"
    )


def _finish(parts: list[str]) -> Markup:
    parts.append("</svg>")
    # Safe: every text and attribute value above went through ``escape`` or is a number.
    return Markup("".join(parts))  # noqa: S704


def stacked_bars(
    days: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    empty: str,
    width: int = 960,
    height: int = 240,
    colours: Sequence[str] = PALETTE,
    others: str | None = None,
) -> Markup:
    """An SVG stacked bar chart of ``series`` over ``days`` (labels as shown, e.g. "12-04").

    ``title`` names the chart for assistive technology; ``empty`` is shown when every
    count is zero. A series labelled ``others`` is drawn grey.
    """
    for s in series:
        if len(s.values) != len(days):
            raise ValueError("every series needs one value per day")
        if any(v < 0 for v in s.values):
            raise ValueError("counts are never negative")
    totals = [sum(s.values[i] for s in series) for i in range(len(days))]
    legend_rows = math.ceil(len(series) / 3) if series else 0
    top_pad, left, right, bottom = 12, 44, 8, 34 + 18 * legend_rows
    plot_w = width - left - right
    plot_h = height - top_pad - bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" class="chart" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    if not days or max(totals, default=0) == 0:
        parts.append(_text(width / 2, height / 2, empty, size=14, cls="chart-empty"))
        return _finish(parts)
    axis_top, step = nice_max(max(totals))
    scale = plot_h / axis_top
    base = top_pad + plot_h
    for tick in range(0, axis_top + 1, step):
        y = base - tick * scale
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#dddddd" stroke-width="1"/>'
        )
        parts.append(_text(left - 6, y + 4, f"{tick:,}", anchor="end", size=10))
    slot = plot_w / len(days)
    bar_w = max(2.0, slot * 0.7)
    label_every = max(1, math.ceil(len(days) / 12))  # at most ~12 day labels
    colour_of = {}
    palette = iter(colours)
    for s in series:
        colour_of[s.label] = OTHERS_COLOUR if s.label == others else next(palette, OTHERS_COLOUR)
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        y = base
        for s in series:
            value = s.values[i]
            if value == 0:
                continue
            h = value * scale
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{colour_of[s.label]}"><title>{escape(s.label)} · {escape(day)}: '
                f"{value:,}</title></rect>"
            )
        last = i == len(days) - 1
        if (i % label_every == 0 and len(days) - 1 - i >= label_every) or last:
            parts.append(_text(left + i * slot + slot / 2, base + 14, day, size=10))
    for n, s in enumerate(series):
        col, row = n % 3, n // 3
        lx = left + col * (plot_w / 3)
        ly = base + 30 + row * 18
        parts.append(
            f'<rect x="{lx:.1f}" y="{ly - 9:.1f}" width="10" height="10" '
            f'fill="{colour_of[s.label]}"/>'
        )
        label = s.label if len(s.label) <= 24 else s.label[:23] + "…"
        parts.append(_text(lx + 14, ly, f"{label} ({sum(s.values):,})", anchor="start"))
    return _finish(parts)
