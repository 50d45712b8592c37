"""``cdg serve`` as a real process: which client address it believes (proxy headers only
from CDG_FORWARDED_ALLOW_IPS) and which address its links name (--port without
CDG_PUBLIC_URL)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from gateway.console.throttle import LIMIT
from tests.console.helpers import csrf_of

ROOT = Path(__file__).resolve().parents[3]
CDG = [sys.executable, "-c", "from gateway.cli.app import main; main()"]
ID_NUMBER = "11010519491231002X"
ADD_DEPARTMENT = ["--kind", "department", "--domain", "civil-affairs", "--role", "department"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _home(tmp_path: Path, **extra: str) -> tuple[dict[str, str], str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CDG_")},
        "CDG_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(ROOT),
        **extra,
    }
    subprocess.run([*CDG, "init"], env=env, check=True, capture_output=True, timeout=120)
    added = subprocess.run(
        [*CDG, "principal", "add", "civil-affairs", *ADD_DEPARTMENT, "--json"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
        text=True,
    )
    return env, str(json.loads(added.stdout)["api_key"])


@contextmanager
def _served(env: dict[str, str], port: int) -> Iterator[str]:
    server = subprocess.Popen(
        [*CDG, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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
        yield base
    finally:
        server.terminate()
        server.wait(timeout=60)


def _refusals_with_rotating_forwarded_for(base: str) -> list[int]:
    with httpx.Client(base_url=base) as client:
        csrf = csrf_of(client.get("/console/sign-in").text)
        return [
            client.post(
                "/console/sign-in",
                data={"api_key": "cdg_wrong", "csrf": csrf},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for i in range(LIMIT + 2)
        ]


def test_serve_ignores_forwarded_for_and_links_name_the_served_port(tmp_path: Path) -> None:
    env, key = _home(tmp_path)
    port = _free_port()
    with _served(env, port) as base:
        codes = _refusals_with_rotating_forwarded_for(base)
        assert codes == [401] * LIMIT + [429, 429], codes  # one address, whatever the header
        r = httpx.post(
            f"{base}/v1/subjects/links",
            json={"id_number": ID_NUMBER, "expires_in_hours": 5},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["url"].startswith(f"http://127.0.0.1:{port}/console/resident/open/")


def test_serve_trusts_forwarded_for_from_listed_proxies_only(tmp_path: Path) -> None:
    env, _ = _home(tmp_path, CDG_FORWARDED_ALLOW_IPS="127.0.0.1")
    with _served(env, _free_port()) as base:
        codes = _refusals_with_rotating_forwarded_for(base)
        assert codes == [401] * (LIMIT + 2), codes  # each claimed address counts on its own
