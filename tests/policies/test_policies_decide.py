"""decide(): a table of (principal, purpose, query) -> Decision or Denial reason code."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies import (
    Decision,
    Denial,
    PrincipalFacts,
    QueryShape,
    UsagePolicy,
    decide,
    policy_version,
)

POLICY = UsagePolicy.model_validate(
    {
        "retention": "30 days",
        "purposes": [
            {
                "purpose": "elderly-care",
                "legal_basis": "statutory duty",
                "grantees": [{"role": "elder-care", "domains": ["heping", "guangming"]}],
                "access": "rows",
                "columns": {
                    "name": {"treatment": "mask", "params": {"kind": "name"}},
                    "age": {"treatment": "keep"},
                    "building": {"treatment": "keep"},
                },
                "row_scope": [{"column": "community", "op": "=", "principal": "domain"}],
            },
            {
                "purpose": "elderly-care.planning",
                "legal_basis": "planning",
                "grantees": [{"role": "committee"}],
                "access": "aggregate",
                "columns": {"building": {"treatment": "keep"}, "age": {"treatment": "keep"}},
                "min_group_size": 5,
            },
        ],
    }
)
VERSION = policy_version(POLICY)
CARE_HEPING = PrincipalFacts("a", "app", "elder-care", "heping")
CARE_YOUYI = PrincipalFacts("b", "app", "elder-care", "youyi")
COMMITTEE = PrincipalFacts("c", "app", "committee", "jianshe")
ROWS = QueryShape(kind="rows", selected=("name", "age"), filtered=("age",))
AGG = QueryShape(kind="aggregate", aggregated=("age",), grouped=("building",))

CASES = [
    # who, purpose, query, expected reason code (None = allowed)
    (CARE_HEPING, "elderly-care", ROWS, None),
    (CARE_HEPING, "elderly-care.home-visit", ROWS, None),  # parent grant covers the child
    (CARE_HEPING, "public-service", ROWS, "purpose_not_granted"),  # never the reverse
    (CARE_HEPING, "elderly-carex", ROWS, "purpose_not_granted"),  # a prefix is not a parent
    (CARE_HEPING, "marketing", ROWS, "purpose_not_granted"),  # deny by default
    (CARE_YOUYI, "elderly-care", ROWS, "role_not_granted"),  # domain not listed
    (COMMITTEE, "elderly-care", ROWS, "role_not_granted"),
    (COMMITTEE, "elderly-care.planning", AGG, None),
    (COMMITTEE, "elderly-care.planning", ROWS, "aggregate_only"),
    (CARE_HEPING, "elderly-care", QueryShape(kind="rows", selected=("mobile",)), "column_withheld"),
    (
        CARE_HEPING,
        "elderly-care",
        QueryShape(kind="rows", selected=("age",), filtered=("name",)),
        "column_not_filterable",
    ),  # filtering a masked column would reveal it
    (
        CARE_HEPING,
        "elderly-care",
        QueryShape(kind="rows", selected=("age",), ordered=("name",)),
        "column_not_filterable",
    ),
    (
        CARE_HEPING,
        "elderly-care",
        QueryShape(kind="rows", selected=("age",), filtered=("community",)),
        "column_not_filterable",
    ),  # the scope column is not visible, so not filterable
    (
        COMMITTEE,
        "elderly-care.planning",
        QueryShape(kind="aggregate", aggregated=("income",)),
        "column_withheld",
    ),
]


@pytest.mark.parametrize(("who", "purpose", "query", "code"), CASES)
def test_decision_table(
    who: PrincipalFacts, purpose: str, query: QueryShape, code: str | None
) -> None:
    result = decide(who, POLICY, VERSION, purpose, query)
    if code is None:
        assert isinstance(result, Decision), result
        assert result.policy_version == VERSION
    else:
        assert isinstance(result, Denial) and result.code == code
        assert result.message_en and result.message_zh and result.policy_version == VERSION


def test_decision_carries_scope_treatments_and_k() -> None:
    rows = decide(CARE_HEPING, POLICY, VERSION, "elderly-care.home-visit", ROWS)
    assert isinstance(rows, Decision)
    assert rows.columns["name"].treatment == "mask" and set(rows.columns) == {"name", "age"}
    assert [(s.column, s.op, s.value) for s in rows.row_scope] == [("community", "=", "heping")]
    agg = decide(COMMITTEE, POLICY, VERSION, "elderly-care.planning", AGG)
    assert (
        isinstance(agg, Decision) and agg.min_group_size == 5 and set(agg.columns) == {"building"}
    )


def test_most_specific_purpose_wins() -> None:
    who = PrincipalFacts("d", "app", "committee", "heping")
    result = decide(who, POLICY, VERSION, "elderly-care.planning.meals", AGG)
    assert isinstance(result, Decision) and result.purpose == "elderly-care.planning"


COLUMNS = ["name", "age", "building", "mobile", "community", "income"]


@given(
    kind=st.sampled_from(["rows", "aggregate"]),
    selected=st.lists(st.sampled_from(COLUMNS), max_size=4),
    filtered=st.lists(st.sampled_from(COLUMNS), max_size=3),
    who=st.sampled_from([CARE_HEPING, CARE_YOUYI, COMMITTEE]),
    purpose=st.sampled_from(["elderly-care", "elderly-care.planning", "other"]),
)
def test_no_generated_request_gets_a_column_outside_its_grant(
    kind: str, selected: list[str], filtered: list[str], who: PrincipalFacts, purpose: str
) -> None:
    shape = QueryShape(
        kind=kind,  # type: ignore[arg-type]
        selected=tuple(selected) if kind == "rows" else (),
        grouped=tuple(selected) if kind == "aggregate" else (),
        filtered=tuple(filtered),
    )
    result = decide(who, POLICY, VERSION, purpose, shape)
    if isinstance(result, Decision):
        rule = next(r for r in POLICY.purposes if r.purpose == result.purpose)
        assert set(result.columns) <= set(rule.columns)
        assert all(rule.columns[c].treatment == "keep" for c in filtered)
        assert any(g.role == who.role for g in rule.grantees)
        if kind == "rows":
            assert rule.access == "rows"


def test_policy_documents_reject_contradictions() -> None:
    from pydantic import ValidationError

    doc = POLICY.model_dump(mode="json")
    doc["purposes"].append(doc["purposes"][0])
    with pytest.raises(ValidationError):
        UsagePolicy.model_validate(doc)
    bad_scope = POLICY.model_dump(mode="json")
    bad_scope["purposes"][0]["row_scope"] = [
        {"column": "x", "op": "=", "value": 1, "principal": "domain"}
    ]
    with pytest.raises(ValidationError):
        UsagePolicy.model_validate(bad_scope)
