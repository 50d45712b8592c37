"""Pinning k-anonymous rows with filters: the app files a row query whose own filters fix
the quasi-identifiers (building, unit, age) to one resident's values. Local suppression
may hide those cells in the answer, but the app knows them from its filters, so the one
row left is that resident's, with every attribute it carries.

Mechanisms that stop it:
- the class of a released row is taken over every released column that can single a
  person out, with the columns the filters or the scope fix to one value treated as
  known; and the whole answer, the class "matches this query", must hold k distinct
  persons, or no row is released;
- k counts distinct persons (the privacy unit), not rows;
- a policy combining k with per-person columns (pseudonyms, tokens, masks) is refused.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gateway.demo.community import Community
from tests.attacks.privacy_world import (
    HEPING,
    SOURCES,
    make_source,
    register,
    residents_document,
    truth,
)
from tests.conftest import Gateway

HOME_VISIT = "public-service.elderly-care.home-visit"
K = 3


@pytest.fixture(params=SOURCES)
def source(request: pytest.FixtureRequest, small_community: Community, tmp_path: Path) -> str:
    return make_source(request, small_community, tmp_path)


def k_rule(**columns: Any) -> dict[str, Any]:
    rule: dict[str, Any] = copy.deepcopy(residents_document()["policy"]["purposes"][0])
    rule["columns"] = {
        "building": {"treatment": "keep"},
        "unit": {"treatment": "keep"},
        "age": {"treatment": "keep"},
        "gender": {"treatment": "keep"},
        "lives_alone": {"treatment": "keep"},
        **columns,
    }
    rule["k_anonymity"] = K
    rule["withheld"] = []
    return rule


def test_k_with_a_pseudonym_is_refused(gateway: Gateway, source: str) -> None:
    r = register(gateway, source, [k_rule(resident_id={"treatment": "pseudonymise"})])
    assert r.status_code == 422 and "resident_id" in r.json()["detail"]


def test_filters_cannot_pin_a_class_below_k(gateway: Gateway, source: str) -> None:
    r = register(gateway, source, [k_rule()])
    assert r.status_code == 201, r.text
    dataset = r.json()["id"]
    spec = {
        "select": ["building", "unit", "age", "gender", "lives_alone"],
        "filters": [
            {"column": "building", "op": "=", "value": {"param": "b"}},
            {"column": "unit", "op": "=", "value": {"param": "u"}},
            {"column": "age", "op": "between", "value": [{"param": "a"}, {"param": "a"}]},
        ],
        "params": {
            "b": {"type": "integer", "default": 1},
            "u": {"type": "integer", "default": 1},
            "a": {"type": "integer", "default": 80},
        },
    }
    qid = gateway.approved_query(HEPING, dataset, HOME_VISIT, spec)
    people = truth(
        source,
        "SELECT building, unit, age, COUNT(DISTINCT resident_id) FROM residents "
        "WHERE community = 'heping' AND age >= 70 GROUP BY building, unit, age",
    )
    lone = [p for p in people if p[3] < K]
    crowd = [p for p in people if p[3] >= K]
    assert lone, "the demo data should hold residents alone in their building, unit and age"
    for b, u, a, _ in lone:
        body = gateway.run(HEPING, qid, {"b": b, "u": u, "a": a}).json()
        # The attacker knows building, unit and age from its own filters; fewer than k
        # persons match, so nothing about them is released.
        assert body["rows"] == [] and body["row_count"] == 0
        # Not even how many cells would have been hidden: that count is the number of
        # matching persons times the unpinned columns. The answer is exactly that of a
        # query matching no one, in the body and in the receipt's entry.
        assert body["suppressed_cells"] == 0
        entry = json.loads(body["receipt"]["entry"])
        assert entry.get("suppressed_cells", 0) == 0 and entry.get("subject_count", 0) == 0
    for b, u, a, n in crowd:
        body = gateway.run(HEPING, qid, {"b": b, "u": u, "a": a}).json()
        assert len(body["rows"]) == n
        # Pinned columns are not "suppressed": the app knows them, the answer says so.
        assert all(row[:3] == [b, u, a] for row in body["rows"])


def test_released_classes_hold_k_persons(gateway: Gateway, source: str) -> None:
    r = register(gateway, source, [k_rule()])
    dataset = r.json()["id"]
    spec = {"select": ["building", "unit", "age", "gender", "lives_alone"]}
    qid = gateway.approved_query(HEPING, dataset, HOME_VISIT, spec)
    body = gateway.run(HEPING, qid).json()
    assert body["rows"] and body["suppressed_cells"] > 0
    classes = Counter(tuple(row[:4]) for row in body["rows"])
    # Each resident has one row here, so rows count persons; the all-hidden class hides
    # its members among every resident of the answer (at least k).
    assert all(n >= K for key, n in classes.items() if key != (None, None, None, None))
    assert len(body["rows"]) >= K
