"""Turning source rows into what may leave the gateway.

Row releases: each column passes through the treatment the Decision names.
Row releases may also be made k-anonymous, counting distinct persons, over every
released column that can single one out. Aggregate releases: groups with fewer
than k distinct persons are suppressed (or merged into an "other" row), further
groups are hidden so that none can be recomputed from margins (secondary
suppression), and the hidden person count is dropped. How many groups were
hidden is not reported either: the count would tell an empty cell from one
holding one to k-1 persons.

Every released value (a row's column, an aggregate's group key) is first held to its
column's declared type (``conformance``): one that does not conform is released as
null and counted in ``withheld_values``, over the rows actually released. The count
never tells of a value the recipient cannot see: a column under a constant treatment
(redact, nullify) is not checked, and a withheld quasi-identifier is a value of its own
for k-anonymity, counted only where it is released (shared by k persons).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from anonymizers import OperatorContext, build_operator
from anonymizers.kanonymity import enforce_k_anonymity, suppress_small_groups
from anonymizers.operators import CONSTANT_TREATMENTS, narrows_birth_date, without_birth_year
from audit.digest import result_digest
from gateway.queries.conformance import WITHHELD, conform_all, count_withheld
from gateway.queries.conformance import plain as _plain
from gateway.queries.source_result import SourceResult
from gateway.queries.spec import QuerySpec
from policies import Decision


@dataclass(frozen=True)
class Release:
    columns: list[str]
    rows: list[list[Any]]
    treatments: dict[str, str]
    truncated: bool
    subjects: list[Any]  # privacy-unit values of released rows: never returned
    # ID numbers of the residents in released rows, for the access log's index (row releases).
    residents: list[Any] = field(default_factory=list)
    suppressed_cells: int = 0  # quasi-identifier cells withheld to reach k-anonymity
    withheld_values: int = 0  # stored values not of their column's declared type: null

    def digest(self) -> str:
        """The audit entry's fingerprint of the answer (one definition: ``audit.digest``)."""
        return result_digest(self.columns, self.rows)


def release_rows(
    result: SourceResult,
    decision: Decision,
    context: OperatorContext,
    limit: int,
    quasi_identifiers: Collection[str] = (),
    class_columns: Collection[str] | None = None,
    resident_column: bool = False,
    constrained: Collection[str] = (),
    declared: Mapping[str, str] | None = None,
) -> Release:
    """``class_columns``: what k-anonymity groups by (default: the quasi-identifiers).

    ``resident_column``: the planner put the residents' ID numbers before the privacy unit.
    ``constrained``: columns the query's filters or the row scope restrict; a restricted
    quasi-identifier (an age filter, say) narrows a birth date as a released one does.
    ``declared``: each column's declared type (``conformance``); None holds nothing to one.
    """
    truncated = len(result.rows) > limit
    rows = result.rows[:limit]
    # The planner puts the privacy unit last: found by position, whatever the names are.
    subject_at = len(result.columns) - 1
    resident_at = subject_at - 1 if resident_column else subject_at
    columns = list(result.columns[:resident_at])
    # An ID mask's birth year is withdrawn when another released column narrows it.
    narrowing = {
        name
        for name in columns
        if narrows_birth_date(
            decision.columns[name].treatment,
            decision.columns[name].params,
            name in quasi_identifiers,
        )
    } | {name for name in constrained if name in quasi_identifiers}
    # What k-anonymity groups by: a withheld value there is a class value of its own.
    in_class = quasi_identifiers if class_columns is None else class_columns
    qi = [i for i, name in enumerate(columns) if name in in_class]
    k = decision.k_anonymity
    k_anonymous = k is not None and bool(qi)
    types = declared or {}
    vectors: list[list[Any]] = []
    withheld = 0
    for position, name in enumerate(columns):
        rule = decision.columns[name]
        # Under a constant treatment the release is the same whatever was stored: nothing
        # is read of the value, not even whether it is of its type (a count of withheld
        # values would tell that much of a value the recipient cannot see).
        constant = rule.treatment in CONSTANT_TREATMENTS
        held = [] if constant else conform_all([r[position] for r in rows], types.get(name))
        # A withheld value is null before any treatment: no operator sees what was stored.
        values: Sequence[Any] = (
            [None] * len(rows) if constant else [None if v is WITHHELD else _plain(v) for v in held]
        )
        if rule.treatment != "keep":
            params = (
                without_birth_year(rule.treatment, rule.params)
                if narrowing - {name}
                else rule.params
            )
            # Each column's own context: token keys are bound to the column.
            column_context = replace(context, column=name)
            values = build_operator(rule.treatment, params, column_context).apply(values)
        vector = list(values)
        if not constant:
            if k_anonymous and position in qi:
                # Kept as the marker through k-anonymity: a class of its own, so a withheld
                # cell is released (and counted) only where k persons share it; one that
                # k-anonymity hides is a suppressed cell like any other.
                for i, v in enumerate(held):
                    if v is WITHHELD:
                        vector[i] = WITHHELD
            else:
                withheld += sum(1 for v in held if v is WITHHELD)
        vectors.append(vector)
    released = [list(r) for r in zip(*vectors, strict=True)] if vectors else []
    subjects = [r[subject_at] for r in rows]
    residents = [r[resident_at] for r in rows]
    suppressed_cells = 0
    if k is not None and k_anonymous:
        # Locally suppress the cells that can single a person out (after their treatments)
        # until every combination of them is shared by at least k distinct persons.
        released, report = enforce_k_anonymity(released, qi, k, persons=subjects)
        suppressed_cells = report.cells_suppressed
        # The markers k-anonymity left are released as null, and counted.
        for row in released:
            for i in qi:
                if row[i] is WITHHELD:
                    row[i] = None
                    withheld += 1
    if k is not None and len(set(subjects)) < k:
        # The filters and the scope are known to the recipient: every released row lies
        # in the class "matches this query", which must itself hold k persons. The answer
        # is then exactly that of a query matching no one: a count of withheld cells
        # would tell how many persons matched.
        released, subjects, residents, suppressed_cells = [], [], [], 0
        withheld = 0  # like suppressed_cells: a count would tell how many matched
    return Release(
        columns=columns,
        rows=released,
        treatments={name: decision.columns[name].treatment for name in columns},
        truncated=truncated,
        subjects=subjects,
        residents=residents,
        suppressed_cells=suppressed_cells,
        withheld_values=withheld,
    )


def release_aggregates(
    result: SourceResult,
    decision: Decision,
    limit: int,
    spec: QuerySpec,
    declared: Mapping[str, str] | None = None,
) -> Release:
    """Groups under k persons are dropped, or merged into one "other" row (policy).

    Columns are found by their place in the planner's layout (group keys, the spec's
    aggregates, the person count last), never by a name the app chose."""
    names = [*spec.group_by, *(a.alias for a in spec.aggregates)]
    if len(result.columns) != len(names) + 1:
        raise ValueError("the statement's columns are not the planned ones")
    persons_at = len(names)
    group_by = range(len(spec.group_by))
    additive = [
        len(spec.group_by) + i
        for i, a in enumerate(spec.aggregates)
        if a.fn in ("count", "persons", "sum")
    ]
    rows = [[_plain(v) for v in row] for row in result.rows[:limit]]
    for i, key in enumerate(spec.group_by):
        # A group key not of its declared type is held as WITHHELD (one value, so such
        # groups still group as null does) through suppression, then released as null.
        held = conform_all([r[i] for r in result.rows[:limit]], (declared or {}).get(key))
        for row, value in zip(rows, held, strict=True):
            row[i] = value if value is WITHHELD else _plain(value)
    # Without group keys there is nothing to merge into an "other" row.
    merge = decision.small_groups == "merge" and bool(group_by)
    mode: Literal["suppress", "merge"] = "merge" if merge else "suppress"
    kept, _ = suppress_small_groups(
        rows,
        persons_at,
        decision.min_group_size,
        mode,
        group_indexes=list(group_by),
        sum_indexes=additive,
        complementary=True,  # no hidden group may be recomputed from margins or totals
    )
    released = [[v for i, v in enumerate(row) if i != persons_at] for row in kept]
    return Release(
        columns=names,
        rows=released,
        treatments={name: "aggregate" for name in names},
        truncated=len(result.rows) > limit,
        subjects=[],
        # Counted over the groups released: hidden groups are not told of.
        withheld_values=count_withheld(released),
    )
