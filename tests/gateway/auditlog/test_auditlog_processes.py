"""Several gateway processes on one store: one gap-free order; crashes lose no receipt."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from gateway.auditlog.service import verify_store
from gateway.context import GatewayContext
from gateway.settings import load_settings
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[3]


def env_for(home: Path, store_url: str | None) -> dict[str, str]:
    env = {**os.environ, "CDG_HOME": str(home), "PYTHONPATH": str(ROOT)}
    if store_url:
        env["CDG_DATABASE_URL"] = store_url
    return env


@pytest.mark.postgres
def test_four_processes_appending_at_once_give_one_gap_free_verifiable_order(
    pg_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    make_settings(home, pg_url)
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.gateway.auditlog.append_worker", str(n), "60"],
            env=env_for(home, pg_url),
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    indexes: list[int] = []
    for proc in workers:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        indexes += [int(i) for i in out.split()]
    assert sorted(indexes) == list(range(240))  # every receipt distinct, no gap
    ctx = GatewayContext.open(load_settings(environ={}, home=home, database_url=pg_url))
    try:
        with ctx.store.transaction() as session:
            report = verify_store(session, ctx)
        assert report.intact and report.entries == 240
    finally:
        ctx.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, store_url: str | None, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "gateway.api.asgi:app_factory",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env_for(home, store_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("gateway did not start")


@pytest.mark.parametrize(
    "store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_sigkill_during_runs_never_loses_an_entry_a_client_received(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from typer.testing import CliRunner

    from gateway.cli.app import cli

    store_url = str(request.getfixturevalue("pg_url")) if store == "postgresql" else None
    home = tmp_path / "home"
    env = {"CDG_HOME": str(home), **({"CDG_DATABASE_URL": store_url} if store_url else {})}
    seeded = CliRunner().invoke(
        cli, ["demo", "--no-serve", "--json", "--residents", "300"], env=env
    )
    assert seeded.exit_code == 0, seeded.output
    demo = json.loads(seeded.stdout)
    keys = {p["name"]: p["api_key"] for p in demo["principals"]}
    queries = demo["approved_queries"]

    received: list[dict[str, Any]] = []
    lock = threading.Lock()
    stop = threading.Event()
    port = free_port()

    def client() -> None:
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                q = random.choice(queries)
                try:
                    r = http.post(
                        f"http://127.0.0.1:{port}/v1/queries/{q['id']}/run",
                        json={"params": q["params"]},
                        headers={"Authorization": f"Bearer {keys[q['app']]}"},
                    )
                except httpx.HTTPError:
                    time.sleep(0.02)
                    continue
                if r.status_code == 200:
                    with lock:
                        received.append(r.json()["receipt"])

    threads = [threading.Thread(target=client) for _ in range(6)]
    server = start_server(home, store_url, port)
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            # Let clients make progress (the machine may be busy), then kill mid-traffic.
            target = len(received) + 5
            deadline = time.monotonic() + 60
            while len(received) < target and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(random.uniform(0.0, 0.3))
            server.send_signal(signal.SIGKILL)
            server.wait()
            server = start_server(home, store_url, port)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.kill()
        server.wait()

    assert len(received) >= 15
    settings = load_settings(environ={}, home=home, database_url=store_url)
    engine = sa.create_engine(settings.store_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text('SELECT "index", leaf_hash FROM audit_entries')).all())
    engine.dispose()
    for receipt in received:
        assert stored[receipt["entry_index"]] == receipt["leaf_hash"]
    ctx = GatewayContext.open(settings)
    try:
        with ctx.store.transaction() as session:
            assert verify_store(session, ctx).intact
    finally:
        ctx.close()
