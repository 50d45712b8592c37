"""``decide``: pure, deny-by-default, and always explained.

Combination: among the policy's purposes that cover the requested purpose, the
most specific one whose grantees include the principal (role and domain) is
the grant. Everything else is checked against that single grant; the first
violation is the denial. No grant, no access.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from policies.document import (
    ColumnRule,
    DifferentialPrivacy,
    PurposeRule,
    Scalar,
    ScopeCondition,
    UsagePolicy,
)
from policies.purposes import covers


@dataclass(frozen=True)
class PrincipalFacts:
    name: str
    kind: str
    role: str
    domain: str


@dataclass(frozen=True)
class QueryShape:
    """The columns a query touches, by how it touches them."""

    kind: Literal["rows", "aggregate"]
    selected: tuple[str, ...] = ()
    aggregated: tuple[str, ...] = ()
    filtered: tuple[str, ...] = ()
    grouped: tuple[str, ...] = ()
    ordered: tuple[str, ...] = ()
    summed: tuple[str, ...] = ()  # columns under sum or mean (need DP bounds)
    epsilon: float | None = None  # what the query asks to spend, if it says
    parameterised: tuple[str, ...] = ()  # columns compared with a run-time parameter
    sensitive: tuple[str, ...] = ()  # touched columns the dataset classes sensitive


@dataclass(frozen=True)
class Circumstances:
    """Facts about the moment of a decision, gathered by the caller (decide does no I/O).

    ``granted`` is what the casbin engine answered: the purpose node whose grant lets this
    principal through, or None. ``runs_today`` counts the app's runs under the purpose today.
    """

    granted: str | None
    now: datetime
    runs_today: int = 0
    known_purpose: bool = True


@dataclass(frozen=True)
class ScopeFilter:
    column: str
    op: str
    value: Scalar | list[Scalar]


@dataclass(frozen=True)
class Decision:
    purpose: str
    legal_basis: str
    access: Literal["rows", "aggregate"]
    columns: dict[str, ColumnRule]
    row_scope: tuple[ScopeFilter, ...]
    min_group_size: int
    max_rows: int | None
    approval: Literal["manual", "automatic"]
    policy_version: str
    retention: str = ""
    k_anonymity: int | None = None
    max_runs_per_day: int | None = None
    small_groups: str = "suppress"
    dp: DifferentialPrivacy | None = None
    epsilon: float | None = None  # what one run spends, when dp is set
    allowed_values: dict[str, list[Scalar]] = field(default_factory=dict)
    allowed: Literal[True] = field(default=True, init=False)


@dataclass(frozen=True)
class Denial:
    code: str
    message_en: str
    message_zh: str
    policy_version: str
    allowed: Literal[False] = field(default=False, init=False)

    @property
    def reason(self) -> str:
        return f"{self.message_zh} / {self.message_en}"


def _grantee_matches(rule: PurposeRule, who: PrincipalFacts) -> bool:
    return any(
        g.role == who.role and ("*" in g.domains or who.domain in g.domains) for g in rule.grantees
    )


def _resolve_scope(cond: ScopeCondition, who: PrincipalFacts) -> ScopeFilter:
    value = who.domain if cond.principal == "domain" else cond.value
    assert value is not None  # the document validator guarantees one of them
    return ScopeFilter(cond.column, cond.op, value)


def _deny(code: str, en: str, zh: str, version: str) -> Denial:
    return Denial(code=code, message_en=en, message_zh=zh, policy_version=version)


def decide(
    who: PrincipalFacts,
    policy: UsagePolicy,
    version: str,
    purpose: str,
    query: QueryShape,
    circumstances: Circumstances | None = None,
) -> Decision | Denial:
    """Without ``circumstances`` the grant is read from the document alone (tools, tests)."""
    if circumstances is not None and not circumstances.known_purpose:
        return _deny(
            "unknown_purpose",
            f"'{purpose}' is not a purpose in the purpose hierarchy",
            f"“{purpose}”不在用途层级中",
            version,
        )
    candidates = [r for r in policy.purposes if covers(r.purpose, purpose)]
    if not candidates:
        return _deny(
            "purpose_not_granted",
            f"the dataset's policy does not allow the purpose '{purpose}'",
            f"该数据集的使用策略不允许用途“{purpose}”",
            version,
        )
    granted = [r for r in candidates if _grantee_matches(r, who)]
    if not granted:
        return _deny(
            "role_not_granted",
            f"role '{who.role}' in '{who.domain}' is not granted the purpose '{purpose}'",
            f"“{who.domain}”的角色“{who.role}”未获授权用于“{purpose}”",
            version,
        )
    rule = max(granted, key=lambda r: r.purpose.count("."))
    if circumstances is not None:
        refused = _check_circumstances(rule, circumstances, version)
        if refused is not None:
            return refused
    if query.kind == "rows" and rule.access == "aggregate":
        return _deny(
            "aggregate_only",
            "this purpose allows aggregate results only",
            "该用途仅允许获取统计结果",
            version,
        )
    visible = rule.columns
    for name in (*query.selected, *query.aggregated):
        if name not in visible:
            return _deny(
                "column_withheld",
                f"column '{name}' is withheld for this purpose",
                f"该用途不提供字段“{name}”",
                version,
            )
    # Filtering, grouping or ordering on a treated column would reveal its raw values.
    for name in (*query.filtered, *query.grouped, *query.ordered):
        if name not in visible or visible[name].treatment != "keep":
            return _deny(
                "column_not_filterable",
                f"column '{name}' cannot be used to filter, group or order for this purpose",
                f"该用途不允许按字段“{name}”筛选、分组或排序",
                version,
            )
    refused = _check_sensitive(rule, query, version) or _check_exact_filters(rule, query, version)
    if refused is not None:
        return refused
    if rule.dp is not None:
        refused = _check_dp(rule.dp, query, version)
        if refused is not None:
            return refused
    released = query.selected if query.kind == "rows" else query.grouped
    return Decision(
        purpose=rule.purpose,
        legal_basis=rule.legal_basis,
        access=rule.access,
        columns={name: visible[name] for name in released},
        row_scope=tuple(_resolve_scope(c, who) for c in rule.row_scope),
        min_group_size=rule.min_group_size,
        max_rows=rule.max_rows,
        approval=rule.approval,
        policy_version=version,
        retention=policy.retention,
        k_anonymity=rule.k_anonymity,
        max_runs_per_day=rule.max_runs_per_day,
        small_groups=rule.small_groups,
        dp=rule.dp,
        epsilon=(query.epsilon or rule.dp.epsilon_per_run) if rule.dp is not None else None,
        allowed_values=rule.allowed_values,
    )


def _check_sensitive(rule: PurposeRule, query: QueryShape, version: str) -> Denial | None:
    """Sensitive values leave only through DP, or in rows the purpose names with a basis."""
    for name in query.sensitive:
        if rule.access == "aggregate" and rule.dp is None:
            return _deny(
                "sensitive_needs_dp",
                f"column '{name}' is sensitive: only differentially private aggregates may use it",
                f"字段“{name}”为敏感信息, 仅差分隐私统计可以使用",
                version,
            )
        if rule.access == "rows" and name not in rule.sensitive_columns:
            return _deny(
                "sensitive_not_named",
                f"column '{name}' is sensitive and this purpose names no legal basis for it",
                f"字段“{name}”为敏感信息, 该用途未写明其法律依据",
                version,
            )
    return None


def pinned_by_scope(rule_scope: tuple[ScopeFilter, ...] | list[ScopeCondition]) -> set[str]:
    """Columns the row scope fixes to one value: a filter on them selects all or nothing."""
    return {c.column for c in rule_scope if c.op == "="}


def _check_exact_filters(rule: PurposeRule, query: QueryShape, version: str) -> Denial | None:
    """Exact aggregates filter only over declared value sets (differencing needs free values).

    Two runs of an exact aggregate whose filters differ by one value (min_age 78, then 79)
    subtract to the persons in between, below any threshold. Parameters are free by
    design, so they need a declared set; literal values are reviewed at approval, unless
    the purpose approves automatically.
    """
    if rule.access != "aggregate" or rule.dp is not None:
        return None
    free = query.filtered if rule.approval == "automatic" else query.parameterised
    pinned = pinned_by_scope(rule.row_scope)
    for name in free:
        if name not in pinned and name not in rule.allowed_values:
            return _deny(
                "filter_values_undeclared",
                f"exact aggregates may filter '{name}' only over values the policy declares",
                f"精确统计只能按策略声明的取值筛选字段“{name}”",
                version,
            )
    return None


def _check_circumstances(rule: PurposeRule, facts: Circumstances, version: str) -> Denial | None:
    if facts.granted != rule.purpose:
        # The engine and the document disagree: a policy changed between the two reads.
        return _deny(
            "policy_changed",
            "the policy changed while deciding; try again",
            "使用策略刚刚发生变化，请重试",
            version,
        )
    if rule.not_before is not None and facts.now < rule.not_before:
        return _deny(
            "not_yet_valid",
            f"the grant for '{rule.purpose}' starts at {rule.not_before.isoformat()}",
            f"用途“{rule.purpose}”的授权自 {rule.not_before.isoformat()} 起生效",
            version,
        )
    if rule.not_after is not None and facts.now >= rule.not_after:
        return _deny(
            "grant_expired",
            f"the grant for '{rule.purpose}' ended at {rule.not_after.isoformat()}",
            f"用途“{rule.purpose}”的授权已于 {rule.not_after.isoformat()} 结束",
            version,
        )
    if rule.max_runs_per_day is not None and facts.runs_today >= rule.max_runs_per_day:
        return _deny(
            "daily_quota_used",
            f"this purpose allows {rule.max_runs_per_day} runs per day; they are used",
            f"该用途每日最多运行 {rule.max_runs_per_day} 次，今日已用完",
            version,
        )
    return None


def _check_dp(dp: DifferentialPrivacy, query: QueryShape, version: str) -> Denial | None:
    for name in query.summed:
        if name not in dp.bounds:
            return _deny(
                "bounds_missing",
                f"column '{name}' has no clamping bounds for noised sums and means",
                f"字段“{name}”未设定求和/均值的截断范围",
                version,
            )
    if dp.delta == 0:
        for name in query.grouped:
            if name not in dp.group_keys:
                return _deny(
                    "undeclared_group_keys",
                    f"grouping by '{name}' needs a declared key set (or a policy delta > 0)",
                    f"按字段“{name}”分组需要策略声明公开取值集合(或设置 delta > 0)",
                    version,
                )
    if query.epsilon is not None and query.epsilon > dp.epsilon_per_run:
        return _deny(
            "epsilon_too_high",
            f"the query asks for epsilon {query.epsilon}; this purpose allows {dp.epsilon_per_run}",
            f"查询申请的隐私预算 ε={query.epsilon} 超过该用途单次上限 {dp.epsilon_per_run}",
            version,
        )
    return None


def _comparable(value: object) -> tuple[str, object]:
    # One form per value: 70 and 70.0 are one number, a date equals its ISO text.
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    if isinstance(value, date):
        return ("text", value.isoformat())
    return ("text", str(value))


def check_filter_values(
    decision: Decision,
    values: Mapping[str, Sequence[object]],
    parameterised: Collection[str],
) -> Denial | None:
    """At filing and at every run: an exact aggregate's filters use declared values only.

    ``values`` holds, per filtered column, every value its filters compare with (literals
    and bound parameters); ``parameterised`` the columns compared with a parameter.
    """
    if decision.access != "aggregate" or decision.dp is not None:
        return None
    pinned = pinned_by_scope(decision.row_scope)
    version = decision.policy_version
    for name, used in values.items():
        if name in pinned:
            continue
        declared = decision.allowed_values.get(name)
        if declared is None:
            if name in parameterised or decision.approval == "automatic":
                return _deny(
                    "filter_values_undeclared",
                    f"exact aggregates may filter '{name}' only over values the policy declares",
                    f"精确统计只能按策略声明的取值筛选字段“{name}”",
                    version,
                )
            continue
        allowed = {_comparable(v) for v in declared}
        if any(_comparable(v) not in allowed for v in used):
            return _deny(
                "filter_value_not_allowed",
                f"a value compared with '{name}' is not among the values the policy declares",
                f"字段“{name}”的筛选取值不在策略声明的范围内",
                version,
            )
    return None
