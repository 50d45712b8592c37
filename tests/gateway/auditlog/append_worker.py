"""A separate gateway process that appends entries (used by the multi-process tests)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from gateway.auditlog.service import record
from gateway.context import GatewayContext
from gateway.principal import AuthPrincipal
from gateway.settings import load_settings


def main(worker: int, count: int) -> None:
    ctx = GatewayContext.open(load_settings())
    who = AuthPrincipal(id="pr_test", name=f"worker-{worker}", kind="app", role="r", domain="d")
    try:
        with ThreadPoolExecutor(8) as pool:
            # Any registered event will do; the log refuses unregistered ones.
            receipts = list(
                pool.map(lambda i: record(ctx, "subject.lookup", who, n=i), range(count))
            )
    finally:
        ctx.close()
    print(" ".join(str(r.entry_index) for r in receipts))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
