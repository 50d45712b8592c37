"""A real gateway on a free loopback port: uvicorn serving in a thread of the test process.

The client and the CLI talk to it over TCP exactly as they would to ``cdg serve``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from gateway.api.app import create_app
from tests.conftest import Gateway


@dataclass
class LiveGateway:
    url: str
    gw: Gateway
    keys: dict[str, str] = field(default_factory=dict)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` (any ASGI app) on 127.0.0.1:<free port> until the block ends."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def live_gateway(gw: Gateway) -> Iterator[LiveGateway]:
    with serving(create_app(ctx=gw.ctx)) as url:
        yield LiveGateway(url=url, gw=gw, keys=dict(gw.keys))
