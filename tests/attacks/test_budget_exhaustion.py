"""Budget attacks: an app (or several) trying to spend more ε on one dataset than its
policy allows, over HTTP as apps would.

Mechanisms named per test. Common to all: the gateway records every reservation as a
spend with its instant (``budget_spends``) and evaluates each cap as a sum over those
spends, under a lock on the dataset's counter row, before the source is read.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.auth.service import add_principal
from gateway.context import GatewayContext
from tests.conftest import Gateway, make_settings, open_gateway
from tests.gateway.budget.dp_setup import DATASET, POLICY, rows, write

STATISTICS = "public-service.statistics"
PLANNING = "public-service.community-planning"
APP = "heping-committee"
COUNT = {
    "aggregates": [{"fn": "count", "as": "n"}],
    "group_by": ["grp"],
    "filters": [{"column": "age", "op": "<=", "value": {"param": "max_age"}}],
    "params": {"max_age": {"type": "integer", "default": 200}},
}


def rule(purpose: str = STATISTICS, **dp: Any) -> dict[str, Any]:
    out = copy.deepcopy(POLICY["purposes"][0])
    out["purpose"] = purpose
    out["dp"].update(dp)
    return dict(out)


@pytest.fixture
def visits(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'visits.db'}"
    write(url, rows(people=300))
    return url


def register(gw: Gateway, source: str, purposes: list[dict[str, Any]]) -> str:
    r = gw.post("civil-affairs", "/v1/sources", {"name": "visits-db", "url": source})
    assert r.status_code == 201, r.text
    r = gw.post("civil-affairs", "/v1/datasets", {**DATASET, "policy": {"purposes": purposes}})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def replace_policy(gw: Gateway, dataset: str, purposes: list[dict[str, Any]]) -> None:
    r = gw.put(
        "civil-affairs", f"/v1/datasets/{dataset}/policy", {"policy": {"purposes": purposes}}
    )
    assert r.status_code == 200, r.text


def runs(gw: Gateway, app: str, query: str, first: int, count: int) -> list[Any]:
    """``count`` runs with distinct parameters: none is answered from a stored release."""
    return [gw.run(app, query, {"max_age": first + i}).json() for i in range(count)]


def refused(response: Any) -> str | None:
    """The refusal reason of a run's JSON body, or None when it was answered."""
    return None if "rows" in response else str(response["reason"])


def budget_of(gw: Gateway, who: str, app: str = APP) -> dict[str, Any]:
    return dict(next(b for b in gw.get(who, "/v1/budgets").json() if b["app"] == app))


def test_changing_the_window_setting_and_restarting_resets_nothing(
    tmp_path: Path, visits: str
) -> None:
    # Attack: spend a month's budget, then have the window setting changed (month → week →
    # day) and the gateway restarted on the same store, hoping for a fresh ledger each time.
    # Mechanism: windows are rolling sums over the recorded spends; the setting only
    # chooses the length summed, so today's spends count in every window.
    settings = make_settings(tmp_path / "home")
    gw = open_gateway(settings)
    dataset = register(gw, visits, [rule(epsilon_per_run=0.5, epsilon_per_window=1.0)])
    query = gw.approved_query(APP, dataset, STATISTICS, COUNT)
    first = runs(gw, APP, query, 200, 3)
    assert [refused(r) for r in first] == [None, None, "budget_exhausted"]
    spent = 1.0
    for n, window in enumerate(["week", "day"]):
        replace_policy(
            gw, dataset, [rule(epsilon_per_run=0.5, epsilon_per_window=1.0, window=window)]
        )
        gw.client.close()
        gw.ctx.close()
        ctx = GatewayContext.open(settings)  # a restarted gateway process, same store
        gw = Gateway(ctx=ctx, client=TestClient(create_app(ctx=ctx)), keys=gw.keys)
        again = runs(gw, APP, query, 300 + 10 * n, 2)
        assert [refused(r) for r in again] == ["budget_exhausted"] * 2
        seen = budget_of(gw, APP)
        assert (seen["window"], seen["spent"], seen["remaining"]) == (window, spent, 0.0)
    gw.client.close()
    gw.ctx.close()


def test_many_apps_cannot_exhaust_a_dataset_beyond_its_cap(gateway: Gateway, visits: str) -> None:
    # Attack: colluding apps (or one department's many apps) each spend their own budget on
    # the same residents, so the residents' total loss grows with the number of apps.
    # Mechanism: epsilon_dataset caps the sum over every app's spends on the dataset.
    dataset = register(
        gateway,
        visits,
        [
            rule(
                epsilon_per_run=0.5,
                epsilon_per_window=1.0,
                epsilon_lifetime=1.0,
                epsilon_dataset=2.5,
            )
        ],
    )
    apps = [f"heping-app{n}" for n in range(4)]
    with gateway.ctx.store.transaction() as session:
        for name in apps:
            _, key = add_principal(
                session, name=name, kind="app", domain="heping", role="neighbourhood-committee"
            )
            gateway.keys[name] = key
    outcomes = []
    for n, app in enumerate(apps):
        query = gateway.approved_query(app, dataset, STATISTICS, COUNT)
        outcomes.append([refused(r) for r in runs(gateway, app, query, 200 + 10 * n, 2)])
    print("per app:", outcomes)
    # 2.5 in all: two apps spend their 1.0, the third gets 0.5, the fourth nothing.
    assert outcomes == [
        [None, None],
        [None, None],
        [None, "budget_exhausted"],
        ["budget_exhausted"] * 2,
    ]
    last = gateway.run(apps[3], gateway.approved_query(apps[3], dataset, STATISTICS, COUNT))
    assert "all apps" in last.json()["detail"]
    # The department sees every app's spend on its dataset; an app sees its own.
    department = gateway.get("civil-affairs", "/v1/budgets").json()
    assert sorted((b["app"], b["lifetime_spent"]) for b in department) == [
        ("heping-app0", 1.0),
        ("heping-app1", 1.0),
        ("heping-app2", 0.5),
    ]
    assert {b["dataset_spent"] for b in department} == {2.5}
    own = gateway.get(apps[2], "/v1/budgets").json()
    assert [(b["app"], b["dataset_remaining"], b["available"]) for b in own] == [
        ("heping-app2", 0.0, 0.0)
    ]


def test_two_purposes_sharing_the_ledger_take_the_smaller_budget(
    gateway: Gateway, visits: str
) -> None:
    # Attack: the dataset offers two DP purposes, one with a small window budget and one
    # with a large one; spend the small one, then keep going under the large one.
    # Mechanism: one ledger per (app, dataset) honours every DP purpose's caps at once,
    # so the smallest budget of each window length (and lifetime, dataset) applies.
    dataset = register(
        gateway,
        visits,
        [
            rule(STATISTICS, epsilon_per_run=0.5, epsilon_per_window=1.0),
            rule(PLANNING, epsilon_per_run=0.5, epsilon_per_window=5.0),
        ],
    )
    small = gateway.approved_query(APP, dataset, STATISTICS, COUNT)
    large = gateway.approved_query(APP, dataset, PLANNING, COUNT)
    assert [refused(r) for r in runs(gateway, APP, small, 200, 2)] == [None, None]
    assert [refused(r) for r in runs(gateway, APP, large, 300, 2)] == ["budget_exhausted"] * 2
    # The department sees one ledger for the app, holding the smaller total.
    assert budget_of(gateway, "civil-affairs")["total"] == 1.0


def test_lifetime_cap_holds_after_windows_renew(gateway: Gateway, visits: str) -> None:
    # Attack: spend the whole daily budget every day, forever.
    # Mechanism: epsilon_lifetime caps the sum of all the app's spends on the dataset,
    # whatever their age; rolling windows renew, the lifetime cap does not.
    dataset = register(
        gateway,
        visits,
        [rule(epsilon_per_run=0.5, epsilon_per_window=1.0, window="day", epsilon_lifetime=2.5)],
    )
    query = gateway.approved_query(APP, dataset, STATISTICS, COUNT)
    answered = 0
    for day in range(4):
        outcome = [refused(r) for r in runs(gateway, APP, query, 200 + 10 * day, 3)]
        answered += outcome.count(None)
        # A day passes: every recorded spend moves one day (and a second) into the past.
        with gateway.ctx.store.writing() as session:
            spends = sa.table("budget_spends", sa.column("spent_at", sa.DateTime))
            for (at,) in session.execute(sa.select(spends.c.spent_at)).all():
                session.execute(
                    spends.update()
                    .where(spends.c.spent_at == at)
                    .values(spent_at=at - timedelta(days=1, seconds=1))
                )
    assert answered == 5  # 2.5 ε at 0.5 a run: two days in full, then half a day, then none
    seen = budget_of(gateway, APP)
    assert (seen["lifetime_spent"], seen["lifetime_remaining"], seen["remaining"]) == (
        2.5,
        0.0,
        1.0,
    )
    last = gateway.run(APP, query, {"max_age": 500}).json()
    assert last["reason"] == "budget_exhausted" and "lifetime" in last["detail"]
