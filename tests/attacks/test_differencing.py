"""Differencing with parameters: an exact aggregate run with min_age 78 and then 79,
subtracted, isolates the residents aged exactly 78 (one resident, below any threshold),
and with a sum over a sensitive column it gave that resident's disability level.

Mechanisms that stop it, each named where it acts below:
- sensitive columns never enter an exact aggregate (policy check at registration,
  decide at filing): disability_level is available only through DP;
- exact aggregates filter through parameters only over value sets the policy declares
  (allowed_values), checked at filing on the example values and at every run on the
  bound values; a parameter on an undeclared column is refused at filing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.demo.community import Community
from tests.attacks.privacy_world import (
    HEPING,
    PLANNING,
    SOURCES,
    file,
    make_source,
    planning_rule,
    register,
    residents_document,
)
from tests.conftest import Gateway, audit_snapshot


@pytest.fixture(params=SOURCES)
def source(request: pytest.FixtureRequest, small_community: Community, tmp_path: Path) -> str:
    return make_source(request, small_community, tmp_path)


def by_age(param: str = "min_age", column: str = "age") -> dict[str, Any]:
    return {
        "aggregates": [{"fn": "count", "as": "n"}, {"fn": "sum", "column": "age", "as": "s"}],
        "filters": [{"column": column, "op": ">=", "value": {"param": param}}],
        "group_by": ["building"],
        "params": {param: {"type": "integer"}},
    }


def test_a_sensitive_column_cannot_enter_an_exact_aggregate(gateway: Gateway, source: str) -> None:
    # Mechanism: policy check refuses a document listing a sensitive column for an
    # exact aggregate, so no exact sum, group or filter over it can ever be approved.
    leaky = planning_rule(sensitive=True)
    leaky["columns"]["disability_level"] = {"treatment": "keep"}
    rules = residents_document()["policy"]["purposes"]
    r = register(gateway, source, [rules[0], leaky])
    assert r.status_code == 422
    assert "disability_level" in r.json()["detail"] and "差分隐私" in r.json()["detail"]
    # The demo policy does not list it: filing a sum over it is denied with a reason code.
    r = register(gateway, source)
    assert r.status_code == 201, r.text
    dataset = r.json()["id"]
    spec = {"aggregates": [{"fn": "sum", "column": "disability_level", "as": "s"}]}
    r = file(gateway, dataset, PLANNING, spec)
    assert r.status_code == 403 and r.json()["detail"]


def test_min_age_78_then_79_is_refused(gateway: Gateway, source: str) -> None:
    r = register(gateway, source)
    assert r.status_code == 201, r.text
    dataset = r.json()["id"]
    # Mechanism: the example value is checked against allowed_values at filing.
    r = file(gateway, dataset, PLANNING, by_age(), example_params={"min_age": 78})
    assert r.status_code == 403 and r.json()["reason"] == "filter_value_not_allowed"
    r = file(gateway, dataset, PLANNING, by_age(), example_params={"min_age": 70})
    assert r.status_code == 201, r.text
    qid = r.json()["id"]
    r = gateway.post("civil-affairs", f"/v1/query-requests/{qid}/approve", {})
    assert r.status_code == 200, r.text

    before = len(audit_snapshot(gateway))
    answers: dict[int, Any] = {}
    for min_age in (78, 79, 70, 80):
        r = gateway.run(HEPING, qid, {"min_age": min_age})
        answers[min_age] = r
    # Mechanism: every run's bound values are checked; 78 and 79 are not declared.
    for min_age in (78, 79):
        assert answers[min_age].status_code == 403
        assert answers[min_age].json()["reason"] == "filter_value_not_allowed"
        assert "rows" not in answers[min_age].json()
    # The declared cut points run; their difference is the 70-79 band the policy releases.
    assert answers[70].status_code == 200 and answers[80].status_code == 200
    # Refusals are on the record too (one entry per run).
    assert len(audit_snapshot(gateway)) == before + 4


def test_a_parameter_on_an_undeclared_column_is_refused(gateway: Gateway, source: str) -> None:
    r = register(gateway, source)
    dataset = r.json()["id"]
    # Mechanism: decide refuses a parameterised filter on an exact aggregate unless the
    # column has declared values (or the row scope pins it to one value).
    spec = by_age("b", "building")
    r = file(gateway, dataset, PLANNING, spec, example_params={"b": 3})
    assert r.status_code == 403 and r.json()["reason"] == "filter_values_undeclared"
    # community is pinned by the row scope: any filter on it selects all or nothing.
    pinned = {
        "aggregates": [{"fn": "count", "as": "n"}],
        "filters": [{"column": "community", "op": "=", "value": {"param": "c"}}],
        "params": {"c": {"type": "string"}},
    }
    r = file(gateway, dataset, PLANNING, pinned, example_params={"c": "heping"})
    assert r.status_code == 201, r.text
