"""Turning source rows into what may leave the gateway.

Row releases: each column passes through the treatment the Decision names.
Row releases may also be made k-anonymous, counting distinct persons, over every
released column that can single one out. Aggregate releases: groups with fewer
than k distinct persons are suppressed (or merged into an "other" row), further
groups are hidden so that none can be recomputed from margins (secondary
suppression), and the hidden person count is dropped.
"""

from __future__ import annotations

import decimal
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from anonymizers import OperatorContext, build_operator
from anonymizers.kanonymity import enforce_k_anonymity, suppress_small_groups
from anonymizers.operators import narrows_birth_date, without_birth_year
from audit.digest import result_digest
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
    suppressed_cells: int = 0  # quasi-identifier cells withheld to reach k-anonymity

    def digest(self) -> str:
        """The audit entry's fingerprint of the answer (one definition: ``audit.digest``)."""
        return result_digest(self.columns, self.rows)


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    return value


def release_rows(
    result: SourceResult,
    decision: Decision,
    context: OperatorContext,
    limit: int,
    quasi_identifiers: Collection[str] = (),
    class_columns: Collection[str] | None = None,
) -> Release:
    """``class_columns``: what k-anonymity groups by (default: the quasi-identifiers)."""
    truncated = len(result.rows) > limit
    rows = result.rows[:limit]
    subject_at = result.columns.index(SUBJECT)
    columns = [c for c in result.columns if c != SUBJECT]
    # An ID mask's birth year is withdrawn when another released column narrows it.
    narrowing = {
        name
        for name in columns
        if narrows_birth_date(
            decision.columns[name].treatment,
            decision.columns[name].params,
            name in quasi_identifiers,
        )
    }
    vectors: list[list[Any]] = []
    for position, name in enumerate(result.columns):
        if position == subject_at:
            continue
        rule = decision.columns[name]
        values: Sequence[Any] = [_plain(r[position]) for r in rows]
        if rule.treatment != "keep":
            params = (
                without_birth_year(rule.treatment, rule.params)
                if narrowing - {name}
                else rule.params
            )
            values = build_operator(rule.treatment, params, context).apply(values)
        vectors.append(list(values))
    released = [list(r) for r in zip(*vectors, strict=True)] if vectors else []
    subjects = [r[subject_at] for r in rows]
    suppressed_cells = 0
    if decision.k_anonymity is not None:
        # Locally suppress the cells that can single a person out (after their treatments)
        # until every combination of them is shared by at least k distinct persons.
        in_class = quasi_identifiers if class_columns is None else class_columns
        qi = [i for i, name in enumerate(columns) if name in in_class]
        if qi:
            released, report = enforce_k_anonymity(
                released, qi, decision.k_anonymity, persons=subjects
            )
            suppressed_cells = report.cells_suppressed
        if len(set(subjects)) < decision.k_anonymity:
            # The filters and the scope are known to the recipient: every released row lies
            # in the class "matches this query", which must itself hold k persons.
            released, subjects = [], []
    return Release(
        columns=columns,
        rows=released,
        treatments={name: decision.columns[name].treatment for name in columns},
        suppressed_groups=0,
        truncated=truncated,
        subjects=subjects,
        suppressed_cells=suppressed_cells,
    )


def release_aggregates(
    result: SourceResult,
    decision: Decision,
    limit: int,
    group_by: Sequence[str],
    additive: Sequence[str],
) -> Release:
    """Groups under k persons are dropped, or merged into one "other" row (policy)."""
    persons_at = result.columns.index(PERSONS)
    rows = [[_plain(v) for v in row] for row in result.rows[:limit]]
    # Without group keys there is nothing to merge into an "other" row.
    merge = decision.small_groups == "merge" and bool(group_by)
    mode: Literal["suppress", "merge"] = "merge" if merge else "suppress"
    kept, report = suppress_small_groups(
        rows,
        persons_at,
        decision.min_group_size,
        mode,
        group_indexes=[result.columns.index(k) for k in group_by],
        sum_indexes=[result.columns.index(a) for a in additive],
        complementary=True,  # no hidden group may be recomputed from margins or totals
    )
    return Release(
        columns=[c for c in result.columns if c != PERSONS],
        rows=[[v for i, v in enumerate(row) if i != persons_at] for row in kept],
        treatments={name: "aggregate" for name in result.columns if name != PERSONS},
        suppressed_groups=report.groups_suppressed,
        truncated=len(result.rows) > limit,
        subjects=[],
    )
