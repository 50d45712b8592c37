"""The policy engine through the gateway: casbin rules, explanations, CLI checks and tests."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from gateway.cli.app import cli
from gateway.demo.catalog import DATASETS
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from policies import UsagePolicy
from tests.conftest import Gateway, make_settings, open_gateway

ROOT = Path(__file__).resolve().parents[3]
HOME_VISIT = "public-service.elderly-care.home-visit"
DEMO_DATASETS = ROOT / "gateway" / "demo" / "datasets"


@pytest.fixture
def residents(gateway: Gateway, small_community: Community, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, url))
    return gateway.register_demo_dataset("residents", url)


def test_explain_says_which_rule_applies_without_running(gateway: Gateway, residents: str) -> None:
    body = {"dataset": residents, "purpose": HOME_VISIT, "spec": {"select": ["name", "age"]}}
    mine = gateway.post("heping-committee", "/v1/decisions/explain", body).json()
    assert mine["allowed"] and mine["matched_rule"] == {
        "role": "neighbourhood-committee",
        "domain": "*",
        "dataset": residents,
        "purpose": HOME_VISIT,
    }
    assert mine["decision"]["columns"]["name"]["treatment"] == "mask"
    for_app = gateway.post(
        "civil-affairs", "/v1/decisions/explain", {**body, "app": "jianshe-property"}
    ).json()
    assert not for_app["allowed"] and for_app["reason_code"] == "role_not_granted"
    assert for_app["message_zh"] and for_app["matched_rule"] is None
    assert (
        gateway.post(
            "health-commission", "/v1/decisions/explain", {**body, "app": "heping-committee"}
        ).status_code
        == 404
    )
    assert (
        gateway.post(
            "heping-committee", "/v1/decisions/explain", {**body, "app": "guangming-eldercare"}
        ).status_code
        == 403
    )
    log = gateway.get("district-auditor", "/v1/audit/entries", params={"event": "query.run"}).json()
    assert log == []  # explaining runs nothing


def test_a_new_principal_and_a_revoked_one_take_effect_at_once(
    gateway: Gateway, residents: str
) -> None:
    from gateway.auth.service import add_principal, revoke_principal

    with gateway.ctx.store.transaction() as session:
        _, key = add_principal(
            session, name="youyi-care", kind="app", domain="youyi", role="elder-care"
        )
    gateway.keys["youyi-care"] = key
    qid = gateway.approved_query("youyi-care", residents, HOME_VISIT, {"select": ["community"]})
    rows = gateway.run("youyi-care", qid).json()["rows"]
    assert rows and {r[0] for r in rows} == {"youyi"}
    with gateway.ctx.store.transaction() as session:
        revoke_principal(session, "youyi-care")
    assert gateway.run("youyi-care", qid).status_code == 401


def test_validity_windows_and_daily_quotas(gateway: Gateway, residents: str) -> None:
    qid = gateway.approved_query("heping-committee", residents, HOME_VISIT, {"select": ["age"]})
    policy = copy.deepcopy(DATASETS[0]["policy"])
    policy["purposes"][0]["max_runs_per_day"] = 2
    assert (
        gateway.put(
            "civil-affairs", f"/v1/datasets/{residents}/policy", {"policy": policy}
        ).status_code
        == 200
    )
    assert [gateway.run("heping-committee", qid).status_code for _ in range(3)] == [200, 200, 403]
    assert gateway.run("heping-committee", qid).json()["reason"] == "daily_quota_used"
    # A window that closes a few seconds from now: the replacement breaks nothing, and the
    # run after the window is refused by the decision itself.
    policy["purposes"][0]["max_runs_per_day"] = None
    closes = datetime.now(UTC) + timedelta(seconds=3)
    policy["purposes"][0]["not_after"] = closes.isoformat()
    put = gateway.put("civil-affairs", f"/v1/datasets/{residents}/policy", {"policy": policy})
    assert put.status_code == 200 and not put.json()["revoked_queries"], put.text
    time.sleep(max((closes - datetime.now(UTC)).total_seconds(), 0) + 0.5)
    assert gateway.run("heping-committee", qid).json()["reason"] == "grant_expired"
    # A window that opens later breaks the query now: the replacement revokes it, saying why.
    policy["purposes"][0]["not_after"] = None
    gateway.put("civil-affairs", f"/v1/datasets/{residents}/policy", {"policy": policy})
    other = gateway.approved_query("heping-committee", residents, HOME_VISIT, {"select": ["age"]})
    policy["purposes"][0]["not_before"] = "2999-01-01T00:00:00+08:00"
    put = gateway.put("civil-affairs", f"/v1/datasets/{residents}/policy", {"policy": policy})
    assert put.status_code == 200, put.text
    broken = {q["id"]: q["reason_code"] for q in put.json()["revoked_queries"]}
    assert broken.get(other) == "not_yet_valid", broken
    assert gateway.run("heping-committee", other).json()["reason"] == "query_revoked"


def test_a_daily_quota_added_later_counts_the_runs_already_made(
    gateway: Gateway, residents: str
) -> None:
    # Mechanism: every run moves the day's counter, with or without a daily cap, so a cap a
    # department adds in the afternoon counts the morning's runs.
    qid = gateway.approved_query("heping-committee", residents, HOME_VISIT, {"select": ["age"]})
    assert [gateway.run("heping-committee", qid).status_code for _ in range(3)] == [200] * 3
    policy = copy.deepcopy(DATASETS[0]["policy"])
    policy["purposes"][0]["max_runs_per_day"] = 2
    put = gateway.put("civil-affairs", f"/v1/datasets/{residents}/policy", {"policy": policy})
    assert put.status_code == 200
    refused = gateway.run("heping-committee", qid)
    assert refused.status_code == 403 and refused.json()["reason"] == "daily_quota_used"


def test_policy_documents_with_problems_are_refused(gateway: Gateway, residents: str) -> None:
    policy = copy.deepcopy(DATASETS[0]["policy"])
    policy["purposes"][1]["columns"]["disability_level"] = {"treatment": "keep"}  # sensitive
    r = gateway.put("civil-affairs", f"/v1/datasets/{residents}/policy", {"policy": policy})
    assert r.status_code == 422 and "sensitive column disability_level" in r.json()["detail"]
    policy["purposes"][1]["sensitive"] = True  # marked, yet the aggregate is exact (no dp)
    r = gateway.put("civil-affairs", f"/v1/datasets/{residents}/policy", {"policy": policy})
    assert r.status_code == 422 and "differential privacy" in r.json()["detail"]
    policy = copy.deepcopy(DATASETS[0]["policy"])
    policy["purposes"][0]["purpose"] = "public-service.elderly-care.karaoke"
    r = gateway.put("civil-affairs", f"/v1/datasets/{residents}/policy", {"policy": policy})
    assert r.status_code == 422 and "purpose hierarchy" in r.json()["detail"]


def test_policy_check_reports_lines_and_contradictions(tmp_path: Path) -> None:
    text = (DEMO_DATASETS / "residents.yaml").read_text(encoding="utf-8")
    schema_error = tmp_path / "bad_treatment.yaml"
    schema_error.write_text(
        text.replace("treatment: pseudonymise", "treatment: reveal", 1), encoding="utf-8"
    )
    line = 1 + text.splitlines().index("        treatment: pseudonymise")
    contradiction = tmp_path / "contradiction.yaml"
    contradiction.write_text(
        text.replace(
            "    withheld: [address, household_id, disability_level, subsidy_status]",
            "    withheld: [address, household_id, age]",
        ),
        encoding="utf-8",
    )  # age is released too
    env = {"CDG_HOME": str(tmp_path)}
    first = CliRunner().invoke(cli, ["policy", "check", str(schema_error)], env=env)
    assert first.exit_code == 1
    assert (
        f"bad_treatment.yaml:{line}: policy.purposes.0.columns.resident_id.treatment"
        in first.output
    )
    second = CliRunner().invoke(cli, ["policy", "check", str(contradiction)], env=env)
    assert second.exit_code == 1 and "both released and withheld: age" in second.output
    good = CliRunner().invoke(
        cli, ["policy", "check", str(DEMO_DATASETS / "residents.yaml")], env=env
    )
    assert good.exit_code == 0


def test_shipped_policy_tests_pass_and_a_wrong_expectation_fails(tmp_path: Path) -> None:
    ok = CliRunner().invoke(
        cli, ["policy", "test", str(DEMO_DATASETS / "tests")], env={"CDG_HOME": str(tmp_path)}
    )
    assert ok.exit_code == 0, ok.output
    assert " 0 failed" in ok.output
    wrong = tmp_path / "t"
    wrong.mkdir()
    (wrong / "w.yaml").write_text(
        f"dataset: {DEMO_DATASETS / 'residents.yaml'}\n"
        "cases:\n"
        "  - name: wrong\n"
        "    principal: {name: a, role: property, domain: heping}\n"
        f"    purpose: {HOME_VISIT}\n"
        "    query: {select: [age]}\n"
        "    expect: {allow: true}\n",
        encoding="utf-8",
    )
    failed = CliRunner().invoke(
        cli, ["policy", "test", str(wrong)], env={"CDG_HOME": str(tmp_path)}
    )
    assert failed.exit_code == 1 and "role_not_granted" in failed.output


def test_the_published_json_schema_is_current() -> None:
    published = json.loads((ROOT / "docs" / "usage-policy.schema.json").read_text(encoding="utf-8"))
    assert published == UsagePolicy.model_json_schema()


@pytest.mark.postgres
def test_a_policy_change_reaches_every_gateway_process_at_the_next_run(
    pg_url: str, tmp_path: Path, small_community: Community
) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    home = tmp_path / "home"
    gw = open_gateway(make_settings(home, pg_url))
    dataset = gw.register_demo_dataset("residents", source)
    qid = gw.approved_query("heping-committee", dataset, HOME_VISIT, {"select": ["age", "mobile"]})
    env = {**os.environ, "CDG_HOME": str(home), "CDG_DATABASE_URL": pg_url, "PYTHONPATH": str(ROOT)}
    ports = [_free_port(), _free_port()]
    servers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "gateway.api.asgi:app_factory",
                "--factory",
                "--port",
                str(p),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in ports
    ]
    try:
        for p in ports:
            _wait(p)
        auth = {"Authorization": f"Bearer {gw.keys['heping-committee']}"}

        def run(port: int) -> Any:
            return httpx.post(
                f"http://127.0.0.1:{port}/v1/queries/{qid}/run",
                json={"params": {}},
                headers=auth,
                timeout=30,
            )

        assert [run(p).status_code for p in ports] == [200, 200]
        # Each process caches the rules per policy epoch: a window that closes in a few
        # seconds (which breaks nothing now) must be known to both once it has closed.
        narrowed = copy.deepcopy(DATASETS[0]["policy"])
        closes = datetime.now(UTC) + timedelta(seconds=3)
        narrowed["purposes"][0]["not_after"] = closes.isoformat()
        put = gw.put("civil-affairs", f"/v1/datasets/{dataset}/policy", {"policy": narrowed})
        assert put.status_code == 200 and not put.json()["revoked_queries"], put.text
        time.sleep(max((closes - datetime.now(UTC)).total_seconds(), 0) + 0.5)
        for p in ports:
            r = run(p)
            assert r.status_code == 403 and r.json()["reason"] == "grant_expired", r.text
        # A replacement that breaks the query revokes it: both processes refuse it at once.
        narrowed["purposes"][0]["not_after"] = None
        del narrowed["purposes"][0]["columns"]["mobile"]
        gw.put("civil-affairs", f"/v1/datasets/{dataset}/policy", {"policy": narrowed})
        assert {run(p).json()["reason"] for p in ports} == {"query_revoked"}
    finally:
        for s in servers:
            s.kill()
            s.wait()
        gw.client.close()
        gw.ctx.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("gateway did not start")


def test_the_daily_quota_holds_under_concurrent_runs(gateway: Gateway, residents: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from gateway.auth.repository import AuthRepository
    from gateway.auth.service import issue_key
    from gateway.errors import GatewayError
    from gateway.runs.context import RunContext
    from gateway.runs.pipeline import run_query

    policy = copy.deepcopy(DATASETS[0]["policy"])
    policy["purposes"][0]["max_runs_per_day"] = 5
    gateway.put("civil-affairs", f"/v1/datasets/{residents}/policy", {"policy": policy})
    qid = gateway.approved_query("heping-committee", residents, HOME_VISIT, {"select": ["age"]})
    with gateway.ctx.store.transaction() as session:
        row = AuthRepository(session).by_name("heping-committee")
        assert row is not None
        api_key = issue_key(session, row)  # the pipeline authenticates the key

    def one(i: int) -> str:
        try:
            run_query(gateway.ctx, api_key, qid, {}, RunContext(request_id=f"q{i}", client=None))
            return "ok"
        except GatewayError as exc:
            return str(exc.reason)

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(one, range(40)))
    assert outcomes.count("ok") == 5
    assert set(outcomes) == {"ok", "daily_quota_used"}
