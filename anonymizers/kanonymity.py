"""Small-cell suppression for grouped results and k-anonymity for row releases.

Aggregates: `suppress_small_groups` removes every group counting fewer than k
persons (mode "suppress", what Snowflake's aggregation policies do), or folds
them into one "other" row (mode "merge"). Row-level releases:
`enforce_k_anonymity` makes every equivalence class over the declared
quasi-identifiers hold at least k rows by local suppression (QI cells replaced
by None).

Both return a report of what was suppressed. The reports count persons and
rows in suppressed cells, which is exactly what suppression hides: they are
for the audit log and the owning department, not for the recipient.

Limits worth knowing:
- Merging sums only additive columns (the count and the columns named in
  `sum_indexes`: counts and sums). A mean, median, rate or noisy statistic of
  the merged groups cannot be computed from the groups' values, so those
  columns are None in the "other" row.
- With ``complementary=True`` further groups are hidden (secondary
  suppression, `anonymizers.secondary`) until no hidden group can be
  recomputed from the table's margins or totals; without it suppression is
  primary only and a lone hidden cell falls to subtraction from a total.
- k-anonymity counts distinct persons when `persons` gives each row's privacy
  unit (one person with three rows is one member of a class, not three).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Final, Literal, get_args

from anonymizers.errors import SuppressionError
from anonymizers.secondary import complementary_suppression

__all__ = [
    "DEFAULT_OTHER_LABEL",
    "SMALL_CELL_MODES",
    "KAnonymityReport",
    "SmallCellMode",
    "SmallCellReport",
    "enforce_k_anonymity",
    "suppress_small_groups",
]

SmallCellMode = Literal["suppress", "merge"]
SMALL_CELL_MODES: Final[tuple[SmallCellMode, ...]] = get_args(SmallCellMode)
DEFAULT_OTHER_LABEL: Final = "other"

Row = list[object]


@dataclass(frozen=True)
class SmallCellReport:
    """What `suppress_small_groups` did. Not for the recipient (see module doc)."""

    k: int
    mode: SmallCellMode
    groups: int  # rows (groups) in the input
    groups_suppressed: int  # groups below k, dropped or merged
    persons_suppressed: float  # sum of their counts (unreadable counts add 0)
    suppressed_rows: tuple[int, ...]  # their positions in the input
    other_row: bool  # an "other" row was appended
    other_row_suppressed: bool  # merged groups still counted fewer than k: dropped too
    groups_suppressed_secondary: int = 0  # of groups_suppressed: hidden to protect the others

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class KAnonymityReport:
    """What `enforce_k_anonymity` did. Not for the recipient (see module doc).

    Classes are counted over the QI values; the class whose QIs are all None
    (fully suppressed rows, or rows with nothing recorded) is not counted as
    below k, since it links to nobody.
    """

    k: int
    rows: int
    rows_touched: int  # rows with at least one cell suppressed
    cells_suppressed: int  # non-None QI cells set to None
    classes_below_k_before: int
    classes_below_k_after: int  # 0 by construction; reported as a check
    fully_suppressed_rows: int  # rows whose QIs are all None afterwards
    cells_suppressed_by_column: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise SuppressionError("k must be an integer >= 1")


def _check_indexes(
    what: str, indexes: Sequence[int], rows: Sequence[Sequence[object]]
) -> tuple[int, ...]:
    """Column positions, each within every row (any position fits no rows)."""
    width = min((len(row) for row in rows), default=None)
    checked = tuple(indexes)
    for index in checked:
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise SuppressionError(f"{what} must be non-negative column positions")
        if width is not None and index >= width:
            raise SuppressionError(f"{what} must be column positions within every row")
    if len(set(checked)) != len(checked):
        raise SuppressionError(f"{what} must not repeat a column")
    return checked


def _is_small(count: object, k: int) -> bool:
    # An unreadable count (None, text, bool) could hide anything: treat as small.
    if isinstance(count, bool) or not isinstance(count, int | float):
        return True
    return bool(count < k)


def suppress_small_groups(
    rows: Sequence[Sequence[object]],
    count_index: int,
    k: int,
    mode: SmallCellMode = "suppress",
    *,
    group_indexes: Sequence[int] = (),
    sum_indexes: Sequence[int] = (),
    other_label: str = DEFAULT_OTHER_LABEL,
    complementary: bool = False,
) -> tuple[list[Row], SmallCellReport]:
    """Remove or merge the groups of an aggregate table counting fewer than k persons.

    `rows` are the result rows, `count_index` the column holding each group's
    number of persons. Rows keep their order; a group with a missing or
    non-numeric count is treated as small.

    mode "suppress": small groups are dropped.
    mode "merge": small groups are replaced by one row appended at the end,
    with `other_label` in the `group_indexes` columns (required), the sum of
    the count column and of the `sum_indexes` columns (None if any merged
    value is missing or not a number), and None everywhere else: a mean or
    rate of the merged groups cannot be derived from theirs. If the merged
    row itself counts fewer than k, it is dropped too.

    Returns (new rows, report). Raises SuppressionError for k < 1, an unknown
    mode or column positions outside the rows (no message holds a value).
    """
    _check_k(k)
    if mode not in SMALL_CELL_MODES:
        raise SuppressionError(f"mode must be one of {list(SMALL_CELL_MODES)}")
    _check_indexes("count_index", (count_index,), rows)
    groups = _check_indexes("group_indexes", group_indexes, rows)
    sums = _check_indexes("sum_indexes", sum_indexes, rows)
    if len({count_index, *groups, *sums}) != 1 + len(groups) + len(sums):
        raise SuppressionError("count, group and sum columns must be distinct")
    if mode == "merge" and not groups:
        raise SuppressionError('mode "merge" needs the group columns (group_indexes)')

    primary = [p for p, row in enumerate(rows) if _is_small(row[count_index], k)]
    hidden = set(primary)
    if complementary and groups:
        sizes = [_size(row[count_index]) for row in rows]
        keys = [tuple(row[i] for i in groups) for row in rows]
        try:
            hidden = complementary_suppression(keys, sizes, primary, mode == "merge")
        except TypeError:
            raise SuppressionError("group values must be hashable") from None
    small = sorted(hidden)
    kept: list[Row] = [list(row) for p, row in enumerate(rows) if p not in hidden]

    persons: float = 0  # stays an int when the counts are
    for position in small:
        count = rows[position][count_index]
        if not isinstance(count, bool) and isinstance(count, int | float):
            persons += count

    other_row = other_suppressed = False
    if mode == "merge" and small:
        merged = _merge([rows[p] for p in small], count_index, groups, sums, other_label)
        if _is_small(merged[count_index], k):
            other_suppressed = True
        else:
            kept.append(merged)
            other_row = True

    report = SmallCellReport(
        k=k,
        mode=mode,
        groups=len(rows),
        groups_suppressed=len(small),
        persons_suppressed=persons,
        suppressed_rows=tuple(small),
        other_row=other_row,
        other_row_suppressed=other_suppressed,
        groups_suppressed_secondary=len(small) - len(primary),
    )
    return kept, report


def _size(count: object) -> float:
    if isinstance(count, bool) or not isinstance(count, int | float):
        return 0
    return count


def _merge(
    rows: list[Sequence[object]],
    count_index: int,
    groups: tuple[int, ...],
    sums: tuple[int, ...],
    other_label: str,
) -> Row:
    merged: Row = [None] * len(rows[0])
    for index in groups:
        merged[index] = other_label
    for index in (count_index, *sums):
        values = [row[index] for row in rows]
        readable = all(
            not isinstance(value, bool) and isinstance(value, int | float) for value in values
        )
        merged[index] = sum(values) if readable else None  # type: ignore[arg-type]
    return merged


def enforce_k_anonymity(
    rows: Sequence[Sequence[object]],
    qi_indexes: Sequence[int],
    k: int,
    persons: Sequence[Hashable] | None = None,
) -> tuple[list[Row], KAnonymityReport]:
    """Locally suppress quasi-identifier cells until every class holds >= k persons.

    A class is the set of rows sharing the same values in the `qi_indexes`
    columns (None is a value like any other, so suppressed cells form classes
    of their own). Its size is the number of distinct `persons` (each row's
    privacy unit) among its rows; without `persons` every row is its own
    person. Rows already in classes of k or more are never changed.
    For rows in smaller classes:

    1. greedily, one QI at a time: for each QI column, find the rows that
       would reach a class of >= k persons if that single cell were set to
       None; set it for those rows in the column that rescues the most (ties:
       fewer cells changed, then the earlier column); repeat while any column
       rescues a row. Each row loses at most one cell in this stage;
    2. every row still in a class below k has all its QI cells set to None.

    Afterwards every class except the all-None one holds at least k persons.
    Returns (copied rows, report). Raises SuppressionError for k < 1, QI
    positions outside the rows, unhashable QI values or a `persons` list
    whose length differs from the rows'.
    """
    _check_k(k)
    out = [list(row) for row in rows]
    qi = _check_indexes("qi_indexes", qi_indexes, rows)
    if persons is not None and len(persons) != len(rows):
        raise SuppressionError("persons must give one privacy unit per row")
    unit: list[Hashable] = list(persons) if persons is not None else list(range(len(rows)))
    nothing: tuple[object, ...] = (None,) * len(qi)
    keys: list[tuple[object, ...]] = [tuple(row[i] for i in qi) for row in out]
    members: dict[tuple[object, ...], set[Hashable]] = defaultdict(set)
    try:
        for i, key in enumerate(keys):
            members[key].add(unit[i])
    except TypeError:
        raise SuppressionError("quasi-identifier and person values must be hashable") from None

    def below_k(classes: dict[tuple[object, ...], set[Hashable]]) -> int:
        return sum(1 for key, who in classes.items() if key != nothing and len(who) < k)

    before = below_k(members)
    pending = [i for i, key in enumerate(keys) if key != nothing and len(members[key]) < k]
    waiting = set(pending)
    fixed: dict[tuple[object, ...], set[Hashable]] = defaultdict(set)
    for i, key in enumerate(keys):
        if i not in waiting:
            fixed[key].add(unit[i])
    by_column: Counter[int] = Counter()
    touched: set[int] = set()

    def suppressed(key: tuple[object, ...], j: int) -> tuple[object, ...]:
        return key if key[j] is None else (*key[:j], None, *key[j + 1 :])

    # Stage 1: one QI at a time.
    while pending:
        best: tuple[int, int, int, list[int]] | None = None  # (-rescued, changed, j, rows)
        for j in range(len(qi)):
            candidates: dict[tuple[object, ...], set[Hashable]] = defaultdict(set)
            for i in pending:
                candidates[suppressed(keys[i], j)].add(unit[i])
            rescued = [
                i
                for i in pending
                if (key := suppressed(keys[i], j)) != nothing
                and len(fixed[key] | candidates[key]) >= k
            ]
            if not rescued:
                continue
            changed = sum(1 for i in rescued if keys[i][j] is not None)
            option = (-len(rescued), changed, j, rescued)
            if best is None or option[:3] < best[:3]:
                best = option
        if best is None:
            break
        _, _, j, rescued = best
        for i in rescued:
            if keys[i][j] is not None:
                out[i][qi[j]] = None
                by_column[qi[j]] += 1
                touched.add(i)
            keys[i] = suppressed(keys[i], j)
            fixed[keys[i]].add(unit[i])
        done = set(rescued)
        pending = [i for i in pending if i not in done]

    # Stage 2: whatever is left loses every QI.
    for i in pending:
        for j, index in enumerate(qi):
            if keys[i][j] is not None:
                out[i][index] = None
                by_column[index] += 1
                touched.add(i)
        keys[i] = nothing

    after: dict[tuple[object, ...], set[Hashable]] = defaultdict(set)
    for i, key in enumerate(keys):
        after[key].add(unit[i])
    report = KAnonymityReport(
        k=k,
        rows=len(out),
        rows_touched=len(touched),
        cells_suppressed=sum(by_column.values()),
        classes_below_k_before=before,
        classes_below_k_after=below_k(after),
        fully_suppressed_rows=sum(1 for key in keys if key == nothing),
        cells_suppressed_by_column=dict(sorted(by_column.items())),
    )
    return out, report
