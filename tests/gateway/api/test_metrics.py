"""/metrics through HTTP: prometheus_client families move with what the gateway does, one
set across `cdg serve --workers 2` (multiprocess mode), and JSON log lines from the server.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Gateway
from tests.gateway.budget.test_budgets import PURPOSE, SUM_BY_GROUP, dp_policy, setup, visits
from tests.gateway.webhooks.receiver import receiver

__all__ = ["visits"]
ROOT = Path(__file__).resolve().parents[3]


def scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_move_with_requests_runs_denials_budget_audit_and_deliveries(
    gateway: Gateway, visits: str
) -> None:
    gw = gateway
    before = scrape(gw.client.get("/metrics").text)
    run_route = "/v1/queries/{query_request}/run"
    dataset = setup(gw, visits, dp_policy(epsilon_per_run=1.0, epsilon_per_window=2.5))
    qid = gw.approved_query("heping-committee", dataset, PURPOSE, SUM_BY_GROUP)
    assert gw.run("heping-committee", qid, {"max_age": 200}).status_code == 200
    assert gw.run("heping-committee", qid, {"max_age": 201}).status_code == 200
    assert gw.run("heping-committee", qid, {"max_age": 202}).status_code == 403  # budget
    gw.post("heping-committee", "/v1/queries/qr_secret_id/run", {"params": {}})  # 404
    r = gw.client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    assert "qr_secret_id" not in r.text and qid not in r.text and dataset not in r.text
    after = scrape(r.text)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("cdg_http_requests_total", method="POST", route=run_route, status="200") == 2
    assert moved("cdg_http_requests_total", method="POST", route=run_route, status="403") == 1
    assert moved("cdg_http_requests_total", method="POST", route=run_route, status="404") == 1
    assert moved("cdg_http_request_duration_seconds_count", method="POST", route=run_route) == 4
    assert moved("cdg_runs_total", outcome="ok") == 2
    assert moved("cdg_runs_total", outcome="refused") == 2
    assert moved("cdg_denials_total", event="query.run", reason="budget_exhausted") == 1
    assert moved("cdg_denials_total", event="query.run", reason="unknown_query") == 1
    assert moved("cdg_budget_epsilon_spent_total") == pytest.approx(2.0)
    assert moved("cdg_audit_append_duration_seconds_count") >= 1
    assert moved("cdg_audit_batch_entries_sum") >= 4  # four query.run entries, batched

    cdg_info = [line for line in gw.client.get("/metrics").text.splitlines() if "cdg_info" in line]
    assert cdg_info and cdg_info[0].startswith("cdg_info{version=")


def test_webhook_deliveries_are_counted(tmp_path: Path, visits: str) -> None:
    from tests.conftest import make_settings, open_gateway
    from tests.gateway.webhooks.test_webhooks import FAST, drain, register

    gw = open_gateway(make_settings(tmp_path / "home", **FAST))
    try:
        before = scrape(gw.client.get("/metrics").text)
        dataset = setup(gw, visits, dp_policy())
        with receiver(fail_first=1) as rx:
            register(gw, "civil-affairs", rx.url)
            gw.approved_query("heping-committee", dataset, PURPOSE, SUM_BY_GROUP)
            drain(gw)
        after = scrape(gw.client.get("/metrics").text)
        for outcome, n in (("retry", 1), ("delivered", 1)):
            key = {"event": "request.filed", "outcome": outcome}
            assert (
                value(after, "cdg_webhook_deliveries_total", **key)
                - value(before, "cdg_webhook_deliveries_total", **key)
                == n
            )
    finally:
        gw.client.close()
        gw.ctx.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_workers_report_one_set_and_log_json(tmp_path: Path) -> None:
    port = _free_port()
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    (metrics_dir / "stale.db").write_bytes(b"left by a previous server")  # cleared at start
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CDG_")},
        "CDG_HOME": str(tmp_path / "home"),
        "CDG_LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PYTHONPATH": str(ROOT),
    }
    cdg = [sys.executable, "-c", "from gateway.cli.app import main; main()"]
    subprocess.run([*cdg, "init"], env=env, check=True, capture_output=True, timeout=120)
    server = subprocess.Popen(
        [*cdg, "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "server did not start"
            time.sleep(0.2)
        with httpx.Client(base_url=base) as client:  # new connections spread over workers
            for _ in range(40):
                client.get("/healthz", headers={"connection": "close"})
        totals = []
        for _ in range(6):
            text = httpx.get(f"{base}/metrics", headers={"connection": "close"}).text
            totals.append(
                value(
                    scrape(text),
                    "cdg_http_requests_total",
                    method="GET",
                    route="/healthz",
                    status="200",
                )
            )
        # Every scrape, whichever worker answers, counts all 41 (the first probe too, and
        # any probes before the server was up that reached a worker).
        assert len(set(totals)) == 1 and totals[0] >= 41, totals
        pids = {p.name for p in metrics_dir.glob("counter_*.db")}
        assert len(pids) >= 2, pids  # both workers (and the parent) wrote values
        assert not (metrics_dir / "stale.db").exists()
    finally:
        server.terminate()
        _, err = server.communicate(timeout=60)
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    access = [p for p in parsed if p["logger"] == "cdg.http"]
    assert access and all(
        len(p["request_id"]) == 32 and p["route"] == "/healthz"
        for p in access
        if p["route"] == "/healthz"
    )
    assert all("Traceback" not in line for line in lines)
