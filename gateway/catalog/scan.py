"""Sampling a dataset for personal information its classification does not admit.

Departments declare each column's classification; the scan samples values
(at most ``SAMPLE`` rows, with the statement timeout) and runs the Chinese PII
detector over text columns, using column names as a hint as well. A finding
names the column, what was found and how often, and what to reconsider, never a
value.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from gateway.catalog.engines import execute
from gateway.queries.binding import DatasetView
from gateway.queries.planner import table_of

SAMPLE = 200
IDENTIFYING = {
    "CN_RESIDENT_ID",
    "CN_MOBILE",
    "CN_LANDLINE",
    "BANK_CARD",
    "CN_USCC",
    "CN_PASSPORT",
    "CN_TRAVEL_PERMIT",
    "EMAIL",
    "CN_PLATE",
}
_NAME_HINTS = re.compile(
    r"(id_?card|id_?no|id_?number|resident_id|sfz|shenfen|mobile|phone|tel|e?mail|name|"
    r"xingming|address|addr|bank|card_no|plate|passport)",
    re.IGNORECASE,
)


@dataclass
class ColumnFinding:
    column: str
    classification: str
    sampled: int
    entities: dict[str, int] = field(default_factory=dict)
    severity: str = "ok"  # ok | info | warn
    message: str = ""


def _judge(finding: ColumnFinding, name_hint: bool) -> None:
    declared = finding.classification
    if finding.sampled == 0:
        if name_hint and declared in ("attribute", "quasi_identifier"):
            finding.severity = "warn"
            finding.message = "the column's name suggests personal information; no values sampled"
        return
    top, hits = max(finding.entities.items(), key=lambda kv: kv[1], default=("", 0))
    share = hits / finding.sampled
    if declared == "free_text":
        if hits:
            finding.severity = "info"
            finding.message = (
                f"{share:.0%} of sampled texts contain personal information ({top}); "
                "release it only with redact_pii"
            )
        return
    if declared == "direct_identifier":
        return
    if share >= 0.5 and top in IDENTIFYING:
        finding.severity = "warn"
        finding.message = f"{share:.0%} of sampled values are {top}: classify as direct_identifier"
    elif share >= 0.5:
        finding.severity = "warn"
        finding.message = f"{share:.0%} of sampled values look like {top}: reconsider the class"
    elif share >= 0.05:
        finding.severity = "warn"
        finding.message = (
            f"{share:.0%} of sampled values contain {top}: if this is free text, classify it "
            "as free_text"
        )
    elif name_hint and declared == "attribute":
        finding.severity = "warn"
        finding.message = "the column's name suggests personal information"


def scan_dataset(engine: Engine, view: DatasetView, timeout: float) -> list[ColumnFinding]:
    from anonymizers.pii import scan_text  # loads the detector on first use

    t = table_of(view)
    text_columns = [c for c in view.columns.values() if c.storage == "string"]
    findings = {c.name: ColumnFinding(c.name, c.classification, 0) for c in view.columns.values()}
    if text_columns:
        statement = select(*[t.c[c.name] for c in text_columns]).limit(SAMPLE)
        result = execute(engine, statement, timeout, SAMPLE)
        for position, column in enumerate(text_columns):
            counts: Counter[str] = Counter()
            sampled = 0
            for row in result.rows:
                value: Any = row[position]
                if value is None or not str(value).strip():
                    continue
                sampled += 1
                counts.update({f.entity for f in scan_text(str(value))})
            findings[column.name].sampled = sampled
            findings[column.name].entities = dict(counts)
    for name, finding in findings.items():
        _judge(finding, bool(_NAME_HINTS.search(name)))
    return list(findings.values())
