"""Concurrency: identical DP runs fired together give one answer, charged once; tiny ε is charged.

The attack: an app fires the same DP run many times at once. Each run used to find
no stored release, reserve its ε, and draw its own noise: the app got several
independent noisy answers to average (and paid for each). Mechanism: single-flight
per release key. The first run inserts a claim row keyed by the release key (the
store's unique key lets one insert win, across threads and processes); the others
wait for the answer it stores and return it, charged nothing. If the first run fails
the waiters answer 409, if it outlasts their wait 503 with Retry-After; a claim left
by a dead process is taken over after its lease.

And: ε is charged rounded up to the ledger's micro-ε unit, never to the nearest, so
no positive ε is ever charged as zero or as less than it spends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.store.base import utcnow
from tests.conftest import Gateway, assert_error, make_settings, open_gateway
from tests.gateway.budget.dp_setup import DATASET, POLICY, rows, write

ROOT = Path(__file__).resolve().parents[2]
APP = "heping-committee"
PURPOSE = "public-service.statistics"
SPEC = {
    "aggregates": [{"fn": "count", "as": "n"}, {"fn": "sum", "column": "value", "as": "total"}],
    "group_by": ["grp"],
    "filters": [{"column": "age", "op": "<=", "value": {"param": "max_age"}}],
    "params": {"max_age": {"type": "integer", "default": 200}},
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


@pytest.fixture
def visits(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'visits.db'}"
    write(url, rows(people=200))
    return url


def start(tmp_path: Path, store_url: str | None, **settings: Any) -> Gateway:
    return open_gateway(make_settings(tmp_path / "home", store_url, **settings))


@pytest.fixture
def gw(tmp_path: Path, store_url: str | None) -> Iterator[Gateway]:
    gateway = start(tmp_path, store_url)
    yield gateway
    gateway.client.close()
    gateway.ctx.close()


def dp_query(gw: Gateway, source: str, spec: dict[str, Any] = SPEC) -> str:
    r = gw.post("civil-affairs", "/v1/sources", {"name": "visits-db", "url": source})
    assert r.status_code == 201, r.text
    r = gw.post("civil-affairs", "/v1/datasets", {**DATASET, "policy": POLICY})
    assert r.status_code == 201, r.text
    return gw.approved_query(APP, str(r.json()["id"]), PURPOSE, spec)


def scalar(gw: Gateway, sql: str) -> Any:
    with gw.ctx.store.engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def charged(gw: Gateway) -> float:
    """ε charged by every logged run (the log is what an auditor adds up)."""
    total = scalar(gw, "SELECT SUM(privacy_cost) FROM audit_entries WHERE event = 'query.run'")
    return float(total or 0)


def fire(gw: Gateway, qid: str, n: int) -> list[Any]:
    together = threading.Barrier(n)

    def one(_: int) -> Any:
        together.wait()
        return gw.run(APP, qid, {"max_age": 150})

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_parallel_identical_runs_return_one_answer_charged_once(gw: Gateway, visits: str) -> None:
    # Mechanism: the release-key claim row; the waiters return the first run's stored answer.
    qid = dp_query(gw, visits)
    answers = fire(gw, qid, 8)
    assert [a.status_code for a in answers] == [200] * 8, [a.text[:200] for a in answers]
    bodies = [a.json() for a in answers]
    assert all(b["rows"] == bodies[0]["rows"] for b in bodies)  # one noisy answer, not eight
    assert sorted(b["dp"]["cached"] for b in bodies) == [False] + [True] * 7
    assert scalar(gw, "SELECT COUNT(*) FROM dp_releases") == 1
    assert charged(gw) == pytest.approx(1.0)  # ε of one run
    assert scalar(gw, "SELECT COUNT(*) FROM dp_release_claims") == 0  # released after the run


@pytest.mark.postgres
def test_two_processes_on_one_store_share_one_answer(
    pg_url: str, tmp_path: Path, visits: str
) -> None:
    # Mechanism: the claim is a row in the shared store, so it holds across processes
    # (several `cdg serve --workers`), not only across one process's threads.
    gw = start(tmp_path, pg_url)
    try:
        qid = dp_query(gw, visits)
    finally:
        gw.client.close()
        gw.ctx.close()
    env = {
        **os.environ,
        "CDG_HOME": str(tmp_path / "home"),
        "CDG_DATABASE_URL": pg_url,
        "PYTHONPATH": str(ROOT),
        "CDG_STORE_POOL_SIZE": "4",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.security.single_flight_worker", qid, APP, str(n), "4"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    outcomes = []
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0
        outcomes += [json.loads(line) for line in out.splitlines()]
    assert len(outcomes) == 8 and all("rows" in o for o in outcomes), outcomes
    assert all(o["rows"] == outcomes[0]["rows"] for o in outcomes)
    assert sorted(o["cached"] for o in outcomes) == [False] + [True] * 7
    engine = sa.create_engine(pg_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        releases = conn.execute(sa.text("SELECT COUNT(*) FROM dp_releases")).scalar_one()
        logged = conn.execute(
            sa.text("SELECT SUM(privacy_cost) FROM audit_entries WHERE event = 'query.run'")
        ).scalar_one()
    engine.dispose()
    assert releases == 1 and float(logged) == pytest.approx(1.0)


def _held_release_key(gw: Gateway, qid: str) -> str:
    """Run once, then forget the stored answer: its key is free to be claimed again."""
    assert gw.run(APP, qid, {"max_age": 150}).status_code == 200
    key = str(scalar(gw, "SELECT key FROM dp_releases"))
    with gw.ctx.store.transaction() as session:
        session.execute(sa.text("DELETE FROM dp_releases"))
    return key


def _claim(gw: Gateway, key: str, age: timedelta = timedelta(0)) -> None:
    with gw.ctx.store.transaction() as session:
        session.execute(
            sa.text("INSERT INTO dp_release_claims (key, holder, claimed_at) VALUES (:k, 'x', :t)"),
            {"k": key, "t": (utcnow() - age).replace(tzinfo=None)},
        )


def test_a_failed_first_run_answers_409_and_charges_the_waiter_nothing(
    gw: Gateway, visits: str
) -> None:
    # Mechanism: a waiter that sees the claim released without a stored answer answers
    # 409 (and logs the refusal) instead of drawing noise of its own.
    qid = dp_query(gw, visits)
    key = _held_release_key(gw, qid)
    _claim(gw, key)  # an identical run in progress elsewhere
    before = charged(gw)

    def fail_the_first() -> None:
        time.sleep(0.5)
        with gw.ctx.store.transaction() as session:
            session.execute(sa.text("DELETE FROM dp_release_claims"))

    failing = threading.Thread(target=fail_the_first)
    failing.start()
    waited = gw.run(APP, qid, {"max_age": 150})
    failing.join()
    body = assert_error(waited, 409)
    assert body["reason"] == "identical_run_failed"
    assert charged(gw) == before
    again = gw.run(APP, qid, {"max_age": 150})  # the claim is free: a fresh run goes ahead
    assert again.status_code == 200 and not again.json()["dp"]["cached"]


def test_a_first_run_outlasting_the_wait_answers_503_with_retry_after(
    tmp_path: Path, store_url: str | None, visits: str
) -> None:
    # Mechanism: the wait is bounded (twice the statement timeout and a margin); past it
    # the waiter answers 503 and leaves the claim to its holder.
    gw = start(tmp_path, store_url, statement_timeout_seconds=0.5)
    try:
        qid = dp_query(gw, visits)
        key = _held_release_key(gw, qid)
        _claim(gw, key)
        before = charged(gw)
        began = time.monotonic()
        busy = gw.run(APP, qid, {"max_age": 150})
        assert 5.0 <= time.monotonic() - began < 30
        body = assert_error(busy, 503)
        assert body["reason"] == "identical_run_pending" and int(busy.headers["retry-after"]) >= 1
        assert charged(gw) == before
        assert scalar(gw, "SELECT COUNT(*) FROM dp_release_claims") == 1  # still the holder's
    finally:
        gw.client.close()
        gw.ctx.close()


def test_a_claim_left_by_a_dead_process_is_taken_over(gw: Gateway, visits: str) -> None:
    # Mechanism: the claim's lease; a process killed mid-run does not block the key forever.
    qid = dp_query(gw, visits)
    key = _held_release_key(gw, qid)
    _claim(gw, key, age=timedelta(hours=1))
    out = gw.run(APP, qid, {"max_age": 150})
    assert out.status_code == 200 and not out.json()["dp"]["cached"]
    assert scalar(gw, "SELECT COUNT(*) FROM dp_release_claims") == 0


def test_a_tiny_epsilon_is_charged_rounded_up_never_as_zero(gw: Gateway, visits: str) -> None:
    # Mechanism: the charge is ε rounded up to the micro-ε unit (exact decimal, ceiling);
    # below the ε floor the filing itself is refused.
    qid = dp_query(gw, visits, {**SPEC, "epsilon": 0.0010004})
    out = gw.run(APP, qid, {"max_age": 150})
    # At ε this small the noisy total may fall under k and the release is refused after the
    # noise was drawn; the ε is spent either way, and charged the same.
    if out.status_code == 403:
        assert out.json()["reason"] == "scope_too_small", out.text
    else:
        assert out.status_code == 200, out.text
        assert out.json()["dp"]["epsilon"] == 0.001001  # not 0.001: never less than spent
        assert scalar(gw, "SELECT cost_micro FROM dp_releases") == 1001
    assert charged(gw) == pytest.approx(0.001001)
    dataset = scalar(gw, "SELECT id FROM datasets")
    below = gw.post(
        APP,
        "/v1/query-requests",
        {"dataset": dataset, "purpose": PURPOSE, "justification": "x",
         "spec": {**SPEC, "epsilon": 1e-9}},
    )
    assert_error(below, 422)
