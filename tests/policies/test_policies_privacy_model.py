"""The privacy model in the policy: sensitive columns only through DP, declared filter
values on exact aggregates, no per-person columns next to k-anonymity.

Two tables: ``check_policy`` problems of documents, and ``decide`` on query shapes.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from policies import (
    Decision,
    Denial,
    PrincipalFacts,
    QueryShape,
    ScopeFilter,
    UsagePolicy,
    check_filter_values,
    check_policy,
    decide,
)

CLASSES = {
    "resident_id": "direct_identifier",
    "name": "direct_identifier",
    "mobile": "direct_identifier",
    "notes": "free_text",
    "age": "quasi_identifier",
    "building": "quasi_identifier",
    "gender": "quasi_identifier",
    "community": "attribute",
    "lives_alone": "attribute",
    "disability_level": "sensitive",
}
EXACT: dict[str, Any] = {
    "purpose": "planning",
    "legal_basis": "planning",
    "grantees": [{"role": "committee"}],
    "access": "aggregate",
    "columns": {"building": {}, "age": {}, "gender": {}, "community": {}},
    "row_scope": [{"column": "community", "op": "=", "principal": "domain"}],
    "allowed_values": {"age": [60, 70, 80]},
}
DP: dict[str, Any] = {
    **EXACT,
    "purpose": "health",
    "sensitive": True,
    "columns": {"building": {}, "disability_level": {}},
    "allowed_values": {},
    "dp": {
        "epsilon_per_run": 0.5,
        "epsilon_per_window": 5,
        "bounds": {"disability_level": {"lower": 0, "upper": 4}},
        "group_keys": {"building": [1, 2, 3]},
    },
}
ROWS: dict[str, Any] = {
    "purpose": "visits",
    "legal_basis": "statutory duty",
    "grantees": [{"role": "committee"}],
    "access": "rows",
    "columns": {"resident_id": {"treatment": "pseudonymise"}, "age": {}, "building": {}},
}
K_ROWS: dict[str, Any] = {
    **ROWS,
    "purpose": "research",
    "columns": {"age": {"treatment": "generalise", "params": {"kind": "age_band"}}, "gender": {}},
    "k_anonymity": 5,
}


def changed(rule: dict[str, Any], **edits: Any) -> dict[str, Any]:
    out = copy.deepcopy(rule)
    out.update(edits)
    return out


def columns_plus(rule: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**rule["columns"], **extra}


# (name, purpose rule, a fragment the problem must contain; None = no problem)
DOCUMENTS: list[tuple[str, dict[str, Any], str | None]] = [
    ("exact aggregate without sensitive columns", EXACT, None),
    (
        "a sensitive measure in an exact aggregate",
        changed(EXACT, sensitive=True, columns=columns_plus(EXACT, disability_level={})),
        "only be aggregated with differential privacy",
    ),
    (
        "a row scope on a sensitive column of an exact aggregate",
        changed(
            EXACT,
            sensitive=True,
            row_scope=[{"column": "disability_level", "op": ">=", "value": 1}],
        ),
        "敏感字段“disability_level”只能用于差分隐私统计",
    ),
    ("a sensitive column in a DP aggregate", DP, None),
    (
        "sensitive rows without a named legal basis",
        changed(ROWS, sensitive=True, columns=columns_plus(ROWS, disability_level={})),
        "sensitive_columns names it with its legal basis",
    ),
    (
        "sensitive rows with a named legal basis",
        changed(
            ROWS,
            sensitive=True,
            columns=columns_plus(ROWS, disability_level={}),
            sensitive_columns={"disability_level": {"legal_basis": "disability support duty"}},
        ),
        None,
    ),
    ("k-anonymity over generalised columns", K_ROWS, None),
    (
        "k-anonymity next to a pseudonym",
        changed(K_ROWS, columns=columns_plus(K_ROWS, resident_id={"treatment": "pseudonymise"})),
        "k_anonymity cannot hold while column resident_id",
    ),
    (
        "k-anonymity next to a token",
        changed(K_ROWS, columns=columns_plus(K_ROWS, mobile={"treatment": "tokenise"})),
        "column mobile is released per person",
    ),
    (
        "k-anonymity next to a masked name",
        changed(K_ROWS, columns=columns_plus(K_ROWS, name={"treatment": "mask", "params": {}})),
        "与 k-匿名矛盾",
    ),
    (
        "k-anonymity next to free text",
        changed(K_ROWS, columns=columns_plus(K_ROWS, notes={"treatment": "redact_pii"})),
        "column notes is released per person",
    ),
    (
        "k-anonymity with a generalised identifier",
        changed(
            K_ROWS,
            columns=columns_plus(K_ROWS, name={"treatment": "redact", "params": {"constant": "*"}}),
        ),
        None,
    ),
    (
        "allowed values for a column the purpose does not list",
        changed(EXACT, allowed_values={"lives_alone": [0, 1]}),
        "allowed_values names column lives_alone",
    ),
]


@pytest.mark.parametrize(("rule", "fragment"), [pytest.param(*d[1:], id=d[0]) for d in DOCUMENTS])
def test_policy_check(rule: dict[str, Any], fragment: str | None) -> None:
    policy = UsagePolicy.model_validate({"purposes": [rule]})
    problems = check_policy(policy, [*CLASSES, "notes"], CLASSES)
    if fragment is None:
        assert problems == []
    else:
        assert any(fragment in p for p in problems), problems
        assert all(" / " in p for p in problems if fragment in p)  # English and Chinese


def test_documents_refuse_inconsistent_fields() -> None:
    with pytest.raises(ValueError, match="row releases only"):
        UsagePolicy.model_validate(
            {"purposes": [changed(EXACT, sensitive_columns={"age": {"legal_basis": "x"}})]}
        )
    with pytest.raises(ValueError, match="distinct values"):
        UsagePolicy.model_validate({"purposes": [changed(EXACT, allowed_values={"age": []})]})


POLICY = UsagePolicy.model_validate(
    {
        "purposes": [
            EXACT,
            changed(EXACT, purpose="planning.auto", approval="automatic"),
            # Stored before the rule (check_policy refuses it now): decide refuses anyway.
            changed(
                EXACT,
                purpose="legacy",
                sensitive=True,
                columns=columns_plus(EXACT, disability_level={}),
            ),
            changed(
                DP,
                columns={"building": {}, "disability_level": {}, "age": {}},
                sensitive=True,
            ),
            changed(
                ROWS,
                sensitive=True,
                columns=columns_plus(ROWS, disability_level={}),
                sensitive_columns={"disability_level": {"legal_basis": "duty"}},
            ),
            changed(ROWS, purpose="visits-plain"),
        ]
    }
)
WHO = PrincipalFacts("app", "app", "committee", "heping")


def agg(**shape: Any) -> QueryShape:
    """An exact-aggregate shape grouped by building, with the given extras."""
    return QueryShape(kind="aggregate", grouped=("building",), **shape)


# (name, purpose, shape, expected code; None = allowed)
SHAPES: list[tuple[str, str, QueryShape, str | None]] = [
    ("plain exact aggregate", "planning", agg(), None),
    (
        "exact sum over a sensitive column",
        "legacy",
        agg(aggregated=("disability_level",), sensitive=("disability_level",)),
        "sensitive_needs_dp",
    ),
    (
        "exact filter on a sensitive column",
        "legacy",
        agg(filtered=("disability_level",), sensitive=("disability_level",)),
        "sensitive_needs_dp",
    ),
    (
        "DP over a sensitive column",
        "health",
        agg(sensitive=("disability_level",)),
        None,
    ),
    (
        "a free parameter on an exact aggregate",
        "planning",
        agg(filtered=("gender",), parameterised=("gender",)),
        "filter_values_undeclared",
    ),
    (
        "a parameter over declared values",
        "planning",
        agg(filtered=("age",), parameterised=("age",)),
        None,
    ),
    (
        "a parameter on a column the scope pins",
        "planning",
        agg(filtered=("community",), parameterised=("community",)),
        None,
    ),
    (
        "a literal reviewed at manual approval",
        "planning",
        agg(filtered=("gender",)),
        None,
    ),
    (
        "a literal under automatic approval",
        "planning.auto",
        agg(filtered=("gender",)),
        "filter_values_undeclared",
    ),
    (
        "named sensitive column in rows",
        "visits",
        QueryShape(kind="rows", selected=("disability_level",), sensitive=("disability_level",)),
        None,
    ),
    (
        "unnamed sensitive column in rows",
        "visits-plain",
        QueryShape(kind="rows", selected=("age",), filtered=("age",), sensitive=("age",)),
        "sensitive_not_named",
    ),
]


@pytest.mark.parametrize(
    ("purpose", "shape", "code"), [pytest.param(*s[1:], id=s[0]) for s in SHAPES]
)
def test_decide(purpose: str, shape: QueryShape, code: str | None) -> None:
    result = decide(WHO, POLICY, "v", purpose, shape)
    if code is None:
        assert isinstance(result, Decision), result
    else:
        assert isinstance(result, Denial) and result.code == code
        assert result.message_zh and result.message_en


# (name, purpose, values per column, parameterised columns, expected code)
VALUES: list[tuple[str, str, dict[str, list[object]], set[str], str | None]] = [
    ("a declared cut point", "planning", {"age": [70]}, {"age"}, None),
    ("the same cut point as a float", "planning", {"age": [70.0]}, {"age"}, None),
    ("min_age 78: not declared", "planning", {"age": [78]}, {"age"}, "filter_value_not_allowed"),
    ("one bad value in a list", "planning", {"age": [60, 79]}, {"age"}, "filter_value_not_allowed"),
    ("the scope pins community", "planning", {"community": ["youyi"]}, {"community"}, None),
    ("undeclared parameter", "planning", {"gender": ["f"]}, {"gender"}, "filter_values_undeclared"),
    ("a DP purpose is charged instead", "health", {"age": [78]}, {"age"}, None),
]


@pytest.mark.parametrize(
    ("purpose", "values", "parameterised", "code"),
    [pytest.param(*v[1:], id=v[0]) for v in VALUES],
)
def test_filter_values_at_run_time(
    purpose: str, values: dict[str, list[object]], parameterised: set[str], code: str | None
) -> None:
    decision = decide(WHO, POLICY, "v", purpose, agg())
    assert isinstance(decision, Decision)
    result = check_filter_values(decision, values, parameterised)
    assert (result.code if result is not None else None) == code


def test_dates_compare_with_their_iso_text() -> None:
    policy = UsagePolicy.model_validate(
        {"purposes": [changed(EXACT, allowed_values={"age": ["2025-01-01"]})]}
    )
    decision = decide(WHO, policy, "v", "planning", agg())
    assert isinstance(decision, Decision)
    assert decision.row_scope == (ScopeFilter("community", "=", "heping"),)
    assert check_filter_values(decision, {"age": [date(2025, 1, 1)]}, {"age"}) is None
