"""Turning source rows into what may leave the gateway.

Row releases: each column passes through the treatment the Decision names.
Aggregate releases: groups with fewer than k distinct persons are suppressed
and the hidden person count is dropped.
"""

from __future__ import annotations

import decimal
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from anonymizers import OperatorContext, build_operator
from gateway.catalog.engines import SourceResult
from gateway.queries.planner import PERSONS, SUBJECT
from policies import Decision


@dataclass(frozen=True)
class Release:
    columns: list[str]
    rows: list[list[Any]]
    treatments: dict[str, str]
    suppressed_groups: int
    truncated: bool
    subjects: list[Any]  # privacy-unit values of released rows: indexed, never returned

    def digest(self) -> str:
        """SHA-256 of the released JSON: the audit entry's fingerprint of the answer."""
        payload = json.dumps([self.columns, self.rows], ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    return value


def release_rows(
    result: SourceResult, decision: Decision, context: OperatorContext, limit: int
) -> Release:
    truncated = len(result.rows) > limit
    rows = result.rows[:limit]
    subject_at = result.columns.index(SUBJECT)
    columns = [c for c in result.columns if c != SUBJECT]
    vectors: list[list[Any]] = []
    for position, name in enumerate(result.columns):
        if position == subject_at:
            continue
        rule = decision.columns[name]
        values: Sequence[Any] = [_plain(r[position]) for r in rows]
        if rule.treatment != "keep":
            values = build_operator(rule.treatment, rule.params, context).apply(values)
        vectors.append(list(values))
    return Release(
        columns=columns,
        rows=[list(r) for r in zip(*vectors, strict=True)] if vectors else [],
        treatments={name: decision.columns[name].treatment for name in columns},
        suppressed_groups=0,
        truncated=truncated,
        subjects=[r[subject_at] for r in rows],
    )


def release_aggregates(result: SourceResult, decision: Decision, limit: int) -> Release:
    persons_at = result.columns.index(PERSONS)
    columns = [c for c in result.columns if c != PERSONS]
    kept: list[list[Any]] = []
    suppressed = 0
    for row in result.rows[:limit]:
        if int(row[persons_at] or 0) < decision.min_group_size:
            suppressed += 1
            continue
        kept.append([_plain(v) for i, v in enumerate(row) if i != persons_at])
    return Release(
        columns=columns,
        rows=kept,
        treatments={name: "aggregate" for name in columns},
        suppressed_groups=suppressed,
        truncated=len(result.rows) > limit,
        subjects=[],
    )
