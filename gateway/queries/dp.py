"""Differentially private aggregates: one pushed-down statement, OpenDP noise.

What is protected: one resident, i.e. every row sharing a value of the dataset's
privacy-unit column. Accounting is pure ε-DP (basic composition): a run spends
the ε its Decision names, split evenly over the measures it releases.

The statement (one per run, executed by the department's database):

    SELECT keys, COUNT(*), COUNT(DISTINCT unit), SUM(clamped) ...
    FROM (SELECT keys, unit, CASE clamp(col) ...,
                 ROW_NUMBER() OVER (PARTITION BY unit ORDER BY unit) AS rn
          FROM table WHERE <row scope> AND <filters>) AS bounded
    WHERE rn <= L GROUP BY keys

A text privacy unit is trimmed and upper-cased first (unit above stands for
UPPER(TRIM(unit))), so one resident's ID written with a trailing space or a
lower-case x is still one person under the bound.

When the source guarantees one row per person (a primary-key or unique, non-null
privacy-unit column of a base table, checked at every run) and the unit is not
text (text is normalised, and unique spellings are not unique persons) the numbering is
skipped: every person already has at most 1 ≤ L rows, so the statement's results,
and hence the sensitivities below, are the same.

Sensitivity arguments (neighbouring datasets differ in all rows of one person;
L is the policy's contribution limit, G the number of released groups):

- The inner query keeps at most L rows of any person, after scope and filters,
  so a person touches at most min(L, G) groups. Which rows are kept is decided by
  ordering each person's rows by their own content, never by other people's rows.
- count (rows per group): the person's ≤ L rows change the vector of group counts
  by at most L in L1 norm.                                     Δ = L
- persons (distinct persons per group): the person changes each of at most
  min(L, G) groups by one.                                      Δ = min(L, G)
- sum(col): each of the person's ≤ L rows adds a value clamped to [lo, hi], so at
  most M = max(|lo|, |hi|) in absolute value; NULLs add nothing, and neither do
  stored values that are no number of the column's declared type (conformance.py). Δ = L·M
- mean(col): the values are clamped and centred on c = (lo + hi) / 2 before summing,
  so each row adds at most (hi − lo) / 2.                       Δ = L·(hi − lo)/2
  and the values present (non-NULL) are counted:                Δ = L
  mean = c + noisy centred sum / noisy count of values, clamped to [lo, hi]:
  post-processing.

Each measure is one vector over the groups, released with OpenDP's Laplace
mechanism at scale Δ/ε_m: discrete (integer) noise for counts and integer sums,
so no floating-point attack applies; float sums use OpenDP's float Laplace.

Groups: with declared public key sets every combination of keys is released,
with noise, whether or not it holds data. Without them (only where the policy
sets δ > 0) a group is released when its noisy count reaches a threshold τ
such that a group held by one person (true count at most L) passes with probability
at most δ/L; one person reaches at most L groups, so (ε, δ)-DP. Counts carry
discrete Laplace noise, P(Z = z) ∝ p^|z| with p = e^(−1/b), whose upper tail is
P(Z ≥ k) = p^k / (1 + p) for integers k ≥ 1: heavier than the continuous ½·e^(−k/b),
so τ = L + ⌈b·ln(L / (δ(1 + p)))⌉ (see ``threshold``).

Post-processing rules (cost nothing): a release whose total noisy count is below
the policy's k is refused, and intervals come from OpenDP's accuracy functions.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import opendp.prelude as dp_lib
from sqlalchemy import ColumnElement, Select, and_, case, func, select

from gateway.errors import Forbidden
from gateway.queries.binding import DatasetView
from gateway.queries.conformance import WITHHELD, conform, numeric_only, plain, raw
from gateway.queries.planner import table_of, where_clause
from gateway.queries.source_result import SourceResult
from gateway.queries.spec import QuerySpec
from policies import Decision, DifferentialPrivacy

dp_lib.enable_features("contrib")

MAX_GROUPS = 10_000
# Labels of the statement's own columns carry a reserved prefix and their position, and
# are never looked up: the columns are taken by position (group keys first, as filed).
_RN = "cdg_rn"
_UNIT = "cdg_unit"


@dataclass(frozen=True)
class Measure:
    """One noised vector: ``count``, ``persons`` or ``sum:<column>``."""

    name: str
    sensitivity: float
    integer: bool


@dataclass(frozen=True)
class DPPlan:
    statement: Select[Any]
    measures: list[Measure]
    groups: list[tuple[Any, ...]] | None  # declared key combinations, or None (threshold)
    epsilon_each: float
    key_types: tuple[str, ...] = ()  # each group key's declared type (``conformance``)


def measure_name(fn: str, column: str | None) -> str:
    if fn in ("count", "persons"):
        return fn
    return f"{'sum' if fn == 'sum' else 'msum'}:{column}"


def _centre(dp: DifferentialPrivacy, column: str, integer: bool) -> float:
    b = dp.bounds[column]
    centre = (b.lower + b.upper) / 2
    return int(centre) if integer else float(centre)


def _bound(dp: DifferentialPrivacy, column: str) -> float:
    b = dp.bounds[column]
    return float(max(abs(b.lower), abs(b.upper)))


def _is_integer_sum(view: DatasetView, dp: DifferentialPrivacy, column: str) -> bool:
    b = dp.bounds[column]
    return view.columns[column].type == "integer" and all(
        isinstance(v, int) and not isinstance(v, bool) for v in (b.lower, b.upper)
    )


def declared_groups(spec: QuerySpec, dp: DifferentialPrivacy) -> list[tuple[Any, ...]] | None:
    if not all(k in dp.group_keys for k in spec.group_by):
        return None
    sets = [dp.group_keys[k] for k in spec.group_by]
    if math.prod(len(s) for s in sets) > MAX_GROUPS:
        raise Forbidden("too many groups for one release", reason="too_many_groups")
    return list(itertools.product(*sets))


def measures_for(
    view: DatasetView, spec: QuerySpec, decision: Decision
) -> tuple[list[tuple[Any, ...]] | None, list[Measure], float]:
    """(declared groups, measures, ε of each measure), each measure's noise calibrated.

    Needs nothing of the source, so a run calls it before the source is touched: an ε
    the mechanism cannot take is refused without reading anything.
    """
    assert decision.dp is not None and decision.epsilon is not None
    dp = decision.dp
    limit = dp.contribution_limit
    groups = declared_groups(spec, dp)
    group_count = len(groups) if groups is not None else limit
    wanted = ["count"]  # always: the k rule, thresholds and means need it
    for agg in spec.aggregates:
        names = [measure_name(agg.fn, agg.column)]
        if agg.fn == "mean":
            names.append(f"nn:{agg.column}")  # means divide by the count of values present
        for name in names:
            if name not in wanted:
                wanted.append(name)
    measures = []
    for name in wanted:
        if name == "count":
            measures.append(Measure(name, limit, True))
        elif name == "persons":
            measures.append(Measure(name, min(limit, max(group_count, 1)), True))
        elif name.startswith("nn:"):
            measures.append(Measure(name, limit, True))  # ≤ L rows, each counted at most once
        else:
            kind, column = name.split(":", 1)
            b = dp.bounds[column]
            if kind == "sum":
                integer = _is_integer_sum(view, dp, column)
                reach = _bound(dp, column)
            else:  # centred values for means
                integer = _is_integer_sum(view, dp, column) and (b.upper - b.lower) % 2 == 0
                reach = (b.upper - b.lower) / 2
            measures.append(Measure(name, limit * (int(reach) if integer else reach), integer))
    epsilon_each = decision.epsilon / len(measures)
    for m in measures:
        calibrated(m, epsilon_each)
    return groups, measures, epsilon_each


def plan_dp(
    view: DatasetView,
    spec: QuerySpec,
    decision: Decision,
    params: Mapping[str, Any],
    unit_is_unique: bool = False,
) -> DPPlan:
    """``unit_is_unique``: the source guarantees one row per person (checked by the caller)."""
    assert decision.dp is not None
    dp = decision.dp
    limit = dp.contribution_limit
    groups, measures, epsilon_each = measures_for(view, spec, decision)

    t = table_of(view)
    unit, normalised = _person(view, t.c[view.privacy_unit])
    nkeys = len(spec.group_by)
    # Group keys are read as stored: the release holds them to their declared type.
    inner_cols: list[ColumnElement[Any]] = [
        raw(t.c[k], f"cdg_k{i}") for i, k in enumerate(spec.group_by)
    ]
    inner_cols.append(unit.label(_UNIT))
    value_at: dict[str, int] = {}  # measure name -> its clamped values' place in inner_cols
    for m in measures:
        if ":" in m.name and not m.name.startswith("nn:"):
            kind, column = m.name.split(":", 1)
            b = dp.bounds[column]
            # Only numbers of the declared type are summed: a text value a SQLite column
            # holds is left out like a NULL (else the clamp would read it as the upper bound).
            value = numeric_only(t.c[column], view.columns[column].type)
            clamped: ColumnElement[Any] = case(
                (value < b.lower, b.lower), (value > b.upper, b.upper), else_=value
            )
            if kind == "msum":
                clamped = clamped - _centre(dp, column, m.integer)
            value_at[m.name] = len(inner_cols)
            inner_cols.append(clamped.label(f"cdg_v{len(inner_cols)}"))
    # Which of a person's rows are kept must depend on that person's rows alone, or the
    # bound of L rows per person would not make the sensitivities above hold: order by
    # the row's own released content (ties are identical rows, so either one is fine).
    own_order = [*(t.c[k] for k in spec.group_by), *inner_cols[nkeys + 1 :]]
    rn = func.row_number().over(partition_by=unit, order_by=own_order or [unit]).label(_RN)
    conditions = where_clause(t, view, spec, decision, params)
    # A unique, non-null privacy unit already means one row per person (≤ L): the
    # per-person row numbering, the statement's dearest step, would change nothing.
    # Uniqueness holds for the stored spelling, not the normalised one: numbered then.
    bounded_rows = not unit_is_unique or normalised
    inner = select(*inner_cols, rn) if bounded_rows else select(*inner_cols)
    if conditions:
        inner = inner.where(and_(*conditions))
    bounded = inner.subquery("cdg_bounded")
    own = list(bounded.c)  # in inner_cols' order, then the row number when there is one
    keys, person = own[:nkeys], own[nkeys]
    outputs: list[ColumnElement[Any]] = []
    for position, m in enumerate(measures):
        if m.name == "count":
            expr: ColumnElement[Any] = func.count()
        elif m.name == "persons":
            expr = func.count(person.distinct())
        elif m.name.startswith("nn:"):
            expr = func.count(own[value_at["msum:" + m.name.split(":", 1)[1]]])
        else:
            expr = func.sum(own[value_at[m.name]])
        outputs.append(expr.label(f"cdg_m{position}"))
    statement = select(*keys, *outputs)
    if bounded_rows:
        statement = statement.where(own[len(inner_cols)] <= limit)
    if keys:
        statement = statement.group_by(*keys)
    key_types = tuple(view.columns[k].type for k in spec.group_by)
    return DPPlan(statement, measures, groups, epsilon_each, key_types)


def _person(view: DatasetView, column: ColumnElement[Any]) -> tuple[ColumnElement[Any], bool]:
    """The privacy unit as one person per value, and whether it was normalised.

    A text unit is trimmed and upper-cased, so " 11010519491231002x" and
    "11010519491231002X" are one person under the per-person bound, not two
    that could each contribute L rows."""
    info = view.columns.get(view.privacy_unit)
    if info is None or info.storage != "string":
        return column, False
    return func.upper(func.trim(column)), True


@functools.lru_cache(maxsize=256)
def _mechanism(integer: bool, scale: float) -> Any:
    if integer:
        space = dp_lib.vector_domain(dp_lib.atom_domain(T=int)), dp_lib.l1_distance(T=int)
    else:
        space = (
            dp_lib.vector_domain(dp_lib.atom_domain(T=float, nan=False)),
            dp_lib.l1_distance(T=float),
        )
    return dp_lib.m.make_laplace(*space, scale=scale)


def threshold(limit: int, scale: float, delta: float) -> float:
    """Smallest noisy count that a group of at most ``limit`` rows reaches w.p. ≤ δ/limit.

    Counts are integers with discrete Laplace noise of scale b: P(Z ≥ k) = p^k / (1 + p),
    p = e^(−1/b), for k ≥ 1. Solving p^k / (1 + p) ≤ δ/L gives k ≥ b·ln(L / (δ(1 + p))),
    rounded up to the next integer count (noisy counts are integers). The continuous
    Laplace tail ½·e^(−k/b) is lighter and would let such groups pass too often.
    """
    p = math.exp(-1.0 / scale)
    k = math.ceil(scale * math.log(limit / (delta * (1.0 + p))))
    return float(limit + max(k, 1))


def accuracy(integer: bool, scale: float, alpha: float) -> float:
    if integer:
        return float(dp_lib.discrete_laplacian_scale_to_accuracy(scale, alpha))
    return float(dp_lib.laplacian_scale_to_accuracy(scale, alpha))


def calibrated(measure: Measure, epsilon: float) -> Any:
    """The mechanism releasing ``measure`` under ε, confirmed by OpenDP's own privacy map.

    Refused (before any source is read: planning calls this for every measure) when the
    noise scale is not finite or the mechanism cannot be built or does not meet ε.
    """
    scale = measure.sensitivity / epsilon if epsilon > 0 else math.inf
    d_in: Any = int(measure.sensitivity) if measure.integer else float(measure.sensitivity)
    try:
        mechanism = _mechanism(measure.integer, scale) if math.isfinite(scale) else None
        spent = float(mechanism.map(d_in)) if mechanism is not None else math.inf
    except (dp_lib.OpenDPException, OverflowError, ValueError):
        mechanism, spent = None, math.inf
    if mechanism is None or not spent <= epsilon * (1 + 1e-9):
        raise Forbidden(
            "ε 过小或取值范围过大，无法校准噪声 / "
            "ε is too small for the measure's range: no noise mechanism can be calibrated",
            reason="epsilon_not_calibratable",
        )
    return mechanism


def noise(measure: Measure, values: Sequence[float], epsilon: float) -> tuple[list[float], float]:
    """Release ``values`` under ε; returns the noisy values and the scale used."""
    mechanism = calibrated(measure, epsilon)
    scale = measure.sensitivity / epsilon
    if not values:
        return [], scale
    data = [int(v) for v in values] if measure.integer else [float(v) for v in values]
    return [float(v) for v in mechanism(data)], scale


@dataclass(frozen=True)
class DPRelease:
    columns: list[str]
    rows: list[list[Any]]
    intervals: list[list[list[float] | None]]
    scales: dict[str, float]


def _conformed(values: Sequence[Any], types: Sequence[str]) -> tuple[Any, ...] | None:
    """A group's key held to the declared types (as JSON holds it), or None if a part
    of it is not of its type."""
    if not types:  # a plan made without them (none in the gateway's own runs)
        return tuple(values)
    key = tuple(conform(v, t) for v, t in zip(values, types, strict=True))
    return None if any(v is WITHHELD for v in key) else tuple(plain(v) for v in key)


def _key(values: Sequence[Any]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def release(plan: DPPlan, spec: QuerySpec, decision: Decision, result: SourceResult) -> DPRelease:
    assert decision.dp is not None
    dp = decision.dp
    nkeys = len(spec.group_by)
    # A group whose key is not of its column's declared type is never released: with
    # declared keys it matches none of them; without, it is left out before the noise,
    # as a filter on the key would leave it out (a person still reaches at most L groups).
    found = [(_conformed(row[:nkeys], plan.key_types), row[nkeys:]) for row in result.rows]
    by_key: dict[tuple[str, ...], list[Any]] = {}
    keys: list[tuple[Any, ...]] = []
    for key, values in found:
        if key is None:
            continue
        seen = by_key.get(_key(key))
        if seen is None:
            by_key[_key(key)] = list(values)
            keys.append(key)
        else:
            # Two stored keys that release as one (1.0 and 1.00 in a decimal column): one
            # group, its measures added, never two groups noised apart from one truth.
            by_key[_key(key)] = [(x or 0) + (y or 0) for x, y in zip(seen, values, strict=True)]
    groups = plan.groups if plan.groups is not None else keys
    truth: dict[str, list[float]] = {}
    for position, m in enumerate(plan.measures):
        truth[m.name] = [
            float(by_key[_key(g)][position] or 0) if _key(g) in by_key else 0.0 for g in groups
        ]
    noisy: dict[str, list[float]] = {}
    scales: dict[str, float] = {}
    for m in plan.measures:
        noisy[m.name], scales[m.name] = noise(m, truth[m.name], plan.epsilon_each)

    counts = noisy["count"]
    keep = list(range(len(groups)))
    if plan.groups is None:
        limit = dp.contribution_limit
        tau = threshold(limit, scales["count"], dp.delta)
        keep = [i for i in keep if counts[i] >= tau]
    if sum(max(counts[i], 0.0) for i in keep) < decision.min_group_size:
        raise Forbidden(
            "该查询范围过小，无法发布统计结果 / the query's scope is too small to release",
            reason="scope_too_small",
        )

    alpha = 1 - dp.confidence
    by_measure = {m.name: m for m in plan.measures}
    rows: list[list[Any]] = []
    intervals: list[list[list[float] | None]] = []
    for i in keep:
        row: list[Any] = list(groups[i])
        spans: list[list[float] | None] = [None] * nkeys
        for agg in spec.aggregates:
            if agg.fn in ("count", "persons"):
                m = by_measure[agg.fn]
                a = accuracy(m.integer, scales[m.name], alpha)
                row.append(int(noisy[m.name][i]))
                spans.append([noisy[m.name][i] - a, noisy[m.name][i] + a])
            elif agg.fn == "sum":
                m = by_measure[f"sum:{agg.column}"]
                a = accuracy(m.integer, scales[m.name], alpha)
                value = noisy[m.name][i]
                row.append(int(value) if m.integer else value)
                spans.append([value - a, value + a])
            else:
                value, span = _mean(by_measure, noisy, scales, str(agg.column), dp, i, alpha)
                row.append(value)
                spans.append(span)
        rows.append(row)
        intervals.append(spans)
    columns = [*spec.group_by, *(a.alias for a in spec.aggregates)]
    published = {a.alias: scales[measure_name(a.fn, a.column)] for a in spec.aggregates}
    return DPRelease(columns, rows, intervals, published)


def _mean(
    by_measure: Mapping[str, Measure],
    noisy: Mapping[str, list[float]],
    scales: Mapping[str, float],
    column: str,
    dp: DifferentialPrivacy,
    i: int,
    alpha: float,
) -> tuple[float, list[float]]:
    """Centre + noisy centred sum / noisy count of values present, clamped (union-bound CI)."""
    lo, hi = float(dp.bounds[column].lower), float(dp.bounds[column].upper)
    s_m, c_m = by_measure[f"msum:{column}"], by_measure[f"nn:{column}"]
    centre = (lo + hi) / 2
    s, c = noisy[s_m.name][i], noisy[c_m.name][i]
    value = min(max(centre + s / c, lo), hi) if c >= 1 else centre
    a_s = accuracy(s_m.integer, scales[s_m.name], alpha / 2)
    a_c = accuracy(c_m.integer, scales[c_m.name], alpha / 2)
    if c - a_c <= 0:
        return value, [lo, hi]
    ends = [centre + (s + ds) / (c + dc) for ds in (-a_s, a_s) for dc in (-a_c, a_c)]
    return value, [max(min(ends), lo), min(max(ends), hi)]
