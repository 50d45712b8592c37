"""Averaging by repetition: run the same query many times and average the answers.

Mechanisms that stop it:
- exact aggregates are deterministic: every repeat returns the same numbers, so there is
  no noise to average away (and the values themselves are protected by thresholds,
  secondary suppression and declared filter values);
- a DP answer is stored with its release key: an identical run in the same window
  returns the stored answer with the same noise and spends no ε, so repeats add nothing.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from gateway.demo.catalog import DATASETS, QUERIES
from gateway.demo.community import Community
from tests.attacks.privacy_world import HEPING, PLANNING, SOURCES, make_source
from tests.conftest import Gateway

HEALTH = "public-service.elderly-care.health-follow-up"
ELDERCARE = "guangming-eldercare"


@pytest.fixture(params=SOURCES)
def source(request: pytest.FixtureRequest, small_community: Community, tmp_path: Path) -> str:
    return make_source(request, small_community, tmp_path)


def test_exact_answers_are_the_same_every_time(gateway: Gateway, source: str) -> None:
    dataset = gateway.register_demo_dataset("residents", source)
    # The demo's approved planning query runs; in this small community it hides every
    # building, so a per-gender count is repeated as well.
    _, _, purpose, _, spec, params = next(q for q in QUERIES if q[2] == PLANNING)
    demo = gateway.approved_query(HEPING, dataset, purpose, copy.deepcopy(spec))
    assert gateway.run(HEPING, demo, params).status_code == 200
    by_gender = {
        "aggregates": [{"fn": "count", "as": "n"}, {"fn": "mean", "column": "age", "as": "a"}],
        "group_by": ["gender"],
    }
    qid = gateway.approved_query(HEPING, dataset, PLANNING, by_gender)
    answers = [gateway.run(HEPING, qid).json() for _ in range(3)]
    assert all(a["rows"] == answers[0]["rows"] for a in answers)
    assert answers[0]["rows"]  # something was released to compare


def test_dp_repeats_return_the_stored_noise(gateway: Gateway, source: str) -> None:
    dataset = gateway.register_demo_dataset("checkups", source)
    _, _, purpose, _, spec, _ = next(q for q in QUERIES if q[2] == HEALTH)
    qid = gateway.approved_query(ELDERCARE, dataset, purpose, copy.deepcopy(spec))
    first = gateway.run(ELDERCARE, qid)
    assert first.status_code == 200, first.text
    repeats = [gateway.run(ELDERCARE, qid).json() for _ in range(3)]
    for again in repeats:
        assert again["rows"] == first.json()["rows"]  # the same noise, not fresh noise
        assert again["dp"]["cached"] is True and again["dp"]["epsilon"] == 0
    assert first.json()["dp"]["epsilon"] > 0


def test_the_demo_checkups_policy_is_dp_only() -> None:
    # Every purpose of the health data that lists a sensitive column noises its answers.
    checkups = next(d for d in DATASETS if d["name"] == "checkups")
    sensitive = {c["name"] for c in checkups["columns"] if c["classification"] == "sensitive"}
    for rule in checkups["policy"]["purposes"]:
        if sensitive & set(rule["columns"]):
            assert rule["access"] == "aggregate" and rule.get("dp")
