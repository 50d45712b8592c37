"""Privacy budgets through the gateway: reservations, refusals, stored answers, races."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import Gateway, make_settings, open_gateway
from tests.gateway.budget.dp_setup import DATASET, POLICY, rows, write

ROOT = Path(__file__).resolve().parents[3]
PURPOSE = "public-service.statistics"
SUM_BY_GROUP = {
    "aggregates": [{"fn": "count", "as": "n"}, {"fn": "sum", "column": "value", "as": "total"}],
    "group_by": ["grp"],
    "filters": [{"column": "age", "op": "<=", "value": {"param": "max_age"}}],
    "params": {"max_age": {"type": "integer", "default": 200}},
}


def dp_policy(**dp: Any) -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    policy["purposes"][0]["dp"].update(dp)
    return policy


def setup(gw: Gateway, source: str, policy: dict[str, Any]) -> str:
    assert (
        gw.post("civil-affairs", "/v1/sources", {"name": "visits-db", "url": source}).status_code
        == 201
    )
    r = gw.post("civil-affairs", "/v1/datasets", {**DATASET, "policy": policy})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture
def visits(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'visits.db'}"
    data = rows(people=300)
    data.append({"person": "eldest", "community": "heping", "age": 105, "grp": 2, "value": 90})
    write(url, data)
    return url


def ledger(gw: Gateway) -> list[dict[str, Any]]:
    return list(gw.get("heping-committee", "/v1/budgets").json())


def test_budget_is_reserved_refused_without_spending_and_reports_what_is_left(
    gateway: Gateway, visits: str
) -> None:
    dataset = setup(gateway, visits, dp_policy(epsilon_per_run=1.0, epsilon_per_window=2.5))
    qid = gateway.approved_query("heping-committee", dataset, PURPOSE, SUM_BY_GROUP)
    first = gateway.run("heping-committee", qid, {"max_age": 200}).json()
    assert first["dp"]["epsilon"] == 1.0 and first["dp"]["budget_remaining"] == 1.5
    assert gateway.run("heping-committee", qid, {"max_age": 201}).status_code == 200
    refused = gateway.run("heping-committee", qid, {"max_age": 202})
    assert refused.status_code == 403 and refused.json()["reason"] == "budget_exhausted"
    assert ledger(gateway)[0]["spent"] == 2.0  # the refusal spent nothing
    smaller = gateway.approved_query(
        "heping-committee", dataset, PURPOSE, {**SUM_BY_GROUP, "epsilon": 0.5}
    )
    later = gateway.run("heping-committee", smaller, {"max_age": 203})
    assert later.status_code == 200 and later.json()["dp"]["budget_remaining"] == 0.0
    department = gateway.get("civil-affairs", "/v1/budgets").json()
    assert [(b["app"], b["spent"]) for b in department] == [("heping-committee", 2.5)]
    assert gateway.get("guangming-eldercare", "/v1/budgets").json() == []
    log = gateway.get("district-auditor", "/v1/audit/summary", params={"by": "app"}).json()
    assert next(r for r in log if r["key"] == "heping-committee")["privacy_spent"] == 2.5


def test_identical_runs_get_the_stored_answer_and_spend_nothing(
    gateway: Gateway, visits: str
) -> None:
    dataset = setup(gateway, visits, dp_policy())
    qid = gateway.approved_query("heping-committee", dataset, PURPOSE, SUM_BY_GROUP)
    answers = [gateway.run("heping-committee", qid, {"max_age": 150}).json() for _ in range(5)]
    assert all(a["rows"] == answers[0]["rows"] for a in answers)
    assert [a["dp"]["cached"] for a in answers] == [False, True, True, True, True]
    assert ledger(gateway)[0]["spent"] == 1.0
    fresh = gateway.run("heping-committee", qid, {"max_age": 151}).json()
    assert not fresh["dp"]["cached"] and ledger(gateway)[0]["spent"] == 2.0
    # Only the runs that were counted say when: a stored answer used up no run.
    entries = gateway.get("district-auditor", "/v1/audit/entries", params={"limit": 1000}).json()
    runs = [
        e["entry"]
        for e in sorted(entries, key=lambda e: int(e["index"]))
        if e["entry"]["event"] == "query.run" and e["entry"].get("approved_query") == qid
    ]
    assert ["counted_at" in e for e in runs] == [True, False, False, False, False, True]
    assert all(e["counted_at"] <= e["time"] for e in runs if "counted_at" in e)


def test_stored_answers_use_up_no_runs_of_the_query(gateway: Gateway, visits: str) -> None:
    dataset = setup(gateway, visits, dp_policy())
    qid = gateway.approved_query(
        "heping-committee", dataset, PURPOSE, SUM_BY_GROUP, {"max_runs": 2}
    )
    first = gateway.run("heping-committee", qid, {"max_age": 150})
    repeats = [gateway.run("heping-committee", qid, {"max_age": 150}) for _ in range(3)]
    assert first.status_code == 200 and not first.json()["dp"]["cached"]
    assert [r.status_code for r in repeats] == [200, 200, 200]
    assert all(r.json()["dp"]["cached"] for r in repeats)
    # The repeats took nothing: one run of two is left for a fresh answer, then none.
    second = gateway.run("heping-committee", qid, {"max_age": 151})
    assert second.status_code == 200 and not second.json()["dp"]["cached"]
    third = gateway.run("heping-committee", qid, {"max_age": 152})
    assert third.status_code == 403 and third.json()["reason"] == "run_quota_used"
    assert ledger(gateway)[0]["spent"] == 2.0  # the refused run spent nothing
    runs = gateway.get("civil-affairs", f"/v1/query-requests/{qid}").json()["runs_used"]
    assert runs == 2


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"aggregates": [{"fn": "sum", "column": "age", "as": "s"}]}, "bounds_missing"),
        ({"group_by": ["age"]}, "undeclared_group_keys"),
        ({"epsilon": 5.0}, "epsilon_too_high"),
    ],
)
def test_requests_asking_for_more_than_the_policy_allows_are_refused(
    gateway: Gateway, visits: str, change: dict[str, Any], code: str
) -> None:
    dataset = setup(gateway, visits, dp_policy())
    r = gateway.post(
        "heping-committee",
        "/v1/query-requests",
        {
            "dataset": dataset,
            "purpose": PURPOSE,
            "justification": "x",
            "spec": {**SUM_BY_GROUP, **change},
        },
    )
    assert r.status_code == 403 and r.json()["reason"] == code
    assert ledger(gateway) == []


def test_differencing_two_scopes_one_resident_apart_reveals_only_noise(
    gateway: Gateway, visits: str
) -> None:
    dataset = setup(gateway, visits, dp_policy(epsilon_per_run=1.0))
    spec = {
        **SUM_BY_GROUP,
        "group_by": [],
        "aggregates": [{"fn": "sum", "column": "value", "as": "total"}],
    }
    qid = gateway.approved_query("heping-committee", dataset, PURPOSE, spec)
    with_eldest = gateway.run("heping-committee", qid, {"max_age": 105}).json()
    without = gateway.run("heping-committee", qid, {"max_age": 104}).json()
    scale = with_eldest["dp"]["scales"]["total"]
    contribution = 90  # the eldest resident's one value
    sensitivity = 3 * 100  # L rows, each clamped to [0, 100]
    difference = with_eldest["rows"][0][0] - without["rows"][0][0]
    print(
        f"noisy totals {with_eldest['rows'][0][0]} and {without['rows'][0][0]}, "
        f"difference {difference}, noise scale {scale}, the resident's value {contribution}"
    )
    # Half the budget per measure (sum + the count every release carries): scale = Δ / (ε/2).
    assert scale == sensitivity / 0.5
    low, high = with_eldest["dp"]["intervals"][0][0]
    assert high - low > 2 * sensitivity  # the answer cannot pin down one person's rows
    # Asking again returns the same noise: averaging repeated answers gains nothing.
    assert (
        gateway.run("heping-committee", qid, {"max_age": 105}).json()["rows"] == with_eldest["rows"]
    )
    # And a scope holding only that resident is refused by the threshold rule.
    tiny = gateway.approved_query(
        "heping-committee",
        dataset,
        PURPOSE,
        {
            "aggregates": [{"fn": "count", "as": "n"}],
            "filters": [{"column": "age", "op": ">=", "value": 105}],
        },
    )
    refused = gateway.run("heping-committee", tiny)
    assert refused.status_code == 403 and refused.json()["reason"] == "scope_too_small"


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_four_processes_fifty_runs_each_spend_exactly_the_budget(
    store: str, request: pytest.FixtureRequest, tmp_path: Path, visits: str
) -> None:
    store_url = (
        str(request.getfixturevalue("pg_url"))
        if store == "postgres"
        else f"sqlite:///{tmp_path / 'store.db'}"
    )
    gw = open_gateway(make_settings(tmp_path / "home", store_url))
    try:
        dataset = setup(gw, visits, dp_policy(epsilon_per_run=0.1, epsilon_per_window=3.7))
        qid = gw.approved_query("heping-committee", dataset, PURPOSE, SUM_BY_GROUP)
    finally:
        gw.client.close()
        gw.ctx.close()
    env = {
        **os.environ,
        "CDG_HOME": str(tmp_path / "home"),
        "CDG_DATABASE_URL": store_url,
        "PYTHONPATH": str(ROOT),
        "CDG_STORE_POOL_SIZE": "4",  # 4 processes stay well under the server's connection limit
    }
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.gateway.budget.race_worker",
                qid,
                "heping-committee",
                str(n),
                "50",
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    outcomes: Counter[str] = Counter()
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0
        outcomes.update(out.split())
    assert outcomes == {"ok": 37, "refused:budget_exhausted": 163}
    engine = sa.create_engine(store_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        spent = conn.execute(sa.text("SELECT spent_micro FROM budget_datasets")).scalar_one()
        spends = conn.execute(sa.text("SELECT SUM(cost_micro) FROM budget_spends")).scalar_one()
        costs = conn.execute(sa.text("SELECT SUM(cost_micro) FROM dp_releases")).scalar_one()
        logged = conn.execute(
            sa.text("SELECT SUM(privacy_cost) FROM audit_entries WHERE event = 'query.run'")
        ).scalar_one()
    engine.dispose()
    assert spent == spends == costs == 37 * 100_000
    assert abs(float(logged) - 3.7) < 1e-9


def test_an_in_list_in_another_order_or_with_repeats_is_the_same_release(
    gateway: Gateway, visits: str
) -> None:
    spec = {
        **SUM_BY_GROUP,
        "filters": [{"column": "grp", "op": "in", "value": {"param": "groups"}}],
        "params": {"groups": {"type": "integer", "many": True, "default": [0, 1]}},
    }
    dataset = setup(gateway, visits, dp_policy())
    qid = gateway.approved_query("heping-committee", dataset, PURPOSE, spec)
    lists = [[0, 1], [1, 0], [1, 0, 1], [0, 0, 1]]
    answers = [gateway.run("heping-committee", qid, {"groups": g}).json() for g in lists]
    assert [a["dp"]["cached"] for a in answers] == [False, True, True, True]
    assert all(a["rows"] == answers[0]["rows"] for a in answers)
    assert ledger(gateway)[0]["spent"] == 1.0  # one charge for one set of groups
    other = gateway.run("heping-committee", qid, {"groups": [0, 2]}).json()
    assert not other["dp"]["cached"] and ledger(gateway)[0]["spent"] == 2.0
