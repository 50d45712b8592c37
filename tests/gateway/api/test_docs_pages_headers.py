"""/docs and /redoc send a Content-Security-Policy and refuse framing, and both pages still
work under it in a real browser (Debian's Chromium through Playwright): Swagger UI lists
the operations, ReDoc renders the document, and no CSP violation is reported."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from gateway.api.app import create_app
from gateway.context import GatewayContext
from tests.conftest import Gateway, make_settings

CHROMIUM = os.environ.get("CDG_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_carry_a_csp_and_refuse_framing(gateway: Gateway, path: str) -> None:
    r = gateway.client.get(path)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and r.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in csp and "'unsafe-eval'" not in csp
    scripts = re.search(r"script-src ([^;]*)", csp)
    assert scripts
    allowed = scripts.group(1).split()
    assert "'unsafe-inline'" not in allowed and "'self'" in allowed
    for inline in re.findall(r"<script>(.*?)</script>", r.text, re.S):
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed  # Swagger UI's start-up script, by hash only
    assert len(allowed) == 1 + len(re.findall(r"<script>", r.text))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    ctx = GatewayContext.open(make_settings(tmp_path_factory.mktemp("docs") / "home"))
    server = uvicorn.Server(
        uvicorn.Config(create_app(ctx=ctx), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    ctx.close()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium installed")
@pytest.mark.parametrize(
    ("path", "shown"),
    [("/docs", "#operations-tag-datasets, .opblock"), ("/redoc", "[data-section-id]")],
)
def test_the_docs_pages_work_under_their_csp_in_a_browser(
    served: str, path: str, shown: str
) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page: Any = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(served + path)
            page.wait_for_selector(shown, timeout=30_000)
            page.wait_for_timeout(500)
            # ReDoc's "powered by" logo comes from its CDN: blocking it is the point (the pages
            # use no outside host). Anything else blocked would break the page.
            violations = [
                e
                for e in errors
                if "Content Security Policy" in e and "https://cdn.redoc.ly/" not in e
            ]
            assert not violations, violations
        finally:
            browser.close()
