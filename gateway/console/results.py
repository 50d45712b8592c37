"""A run's result as a person reads it: cells with their treatment, DP intervals and
warnings, suppression notes, and the CSV file (UTF-8 with BOM, for spreadsheet programs).
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass
from typing import Any

from gateway.queries.schemas import RunResult

# A DP value is called noise-dominated when its interval's half-width is at least the
# value's own size: the sign, let alone the magnitude, cannot be trusted.
NOISE_DOMINATES = 1.0


@dataclass(frozen=True)
class Cell:
    text: str
    interval: tuple[float, float] | None = None
    noisy: bool = False  # noise dominates the value
    suppressed: bool = False  # withheld (k-anonymity) and shown empty


@dataclass(frozen=True)
class ResultView:
    columns: list[str]
    treatments: list[str]
    rows: list[list[Cell]]
    noisy_cells: int
    suppressed_cells: int
    truncated: bool
    dp: bool
    csv_href: str


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 1e12 else f"{value:.3g}"
    return str(value)


def _noisy(value: Any, interval: tuple[float, float]) -> bool:
    if not isinstance(value, int | float):
        return False
    half = (interval[1] - interval[0]) / 2
    return half >= NOISE_DOMINATES * abs(value)


def view(result: RunResult) -> ResultView:
    intervals = result.dp.intervals if result.dp is not None else []
    rows: list[list[Cell]] = []
    noisy = 0
    for r, row in enumerate(result.rows):
        cells = []
        for c, value in enumerate(row):
            bounds = intervals[r][c] if r < len(intervals) and c < len(intervals[r]) else None
            if bounds is not None:
                interval = (float(bounds[0]), float(bounds[1]))
                is_noisy = _noisy(value, interval)
                noisy += is_noisy
                cells.append(Cell(_text(value), interval, is_noisy))
            else:
                cells.append(Cell(_text(value), suppressed=value is None))
        rows.append(cells)
    return ResultView(
        columns=list(result.columns),
        treatments=[result.treatments.get(c, "") for c in result.columns],
        rows=rows,
        noisy_cells=noisy,
        suppressed_cells=result.suppressed_cells,
        truncated=result.truncated,
        dp=result.dp is not None,
        csv_href=csv_data_url(result),
    )


def csv_bytes(result: RunResult) -> bytes:
    """The released table as CSV, UTF-8 with a byte-order mark (Excel reads the Chinese).

    Cells a spreadsheet would run as a formula are prefixed with an apostrophe.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([_csv_cell(v) for v in row])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_data_url(result: RunResult) -> str:
    """The CSV as a ``data:`` link: downloading it sends nothing to the server and runs
    nothing again (no second run, no copy of the rows kept anywhere)."""
    return "data:text/csv;charset=utf-8;base64," + base64.b64encode(csv_bytes(result)).decode()
