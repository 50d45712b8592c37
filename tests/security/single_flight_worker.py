"""One gateway process firing identical DP runs at once (the cross-process single-flight test).

Prints one JSON line per run: whether it was answered from the stored release, and the rows.
"""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from gateway.auth.repository import AuthRepository
from gateway.auth.service import issue_key
from gateway.context import GatewayContext
from gateway.errors import GatewayError
from gateway.runs.context import RunContext
from gateway.runs.pipeline import run_query
from gateway.settings import load_settings


def main(query_id: str, app: str, tag: str, runs: int) -> None:
    ctx = GatewayContext.open(load_settings())
    with ctx.store.transaction() as session:
        row = AuthRepository(session).by_name(app)
        assert row is not None
        api_key = issue_key(session, row)  # the pipeline authenticates the key
    start = threading.Barrier(runs)

    def one(i: int) -> str:
        start.wait()
        try:
            out = run_query(
                ctx, api_key, query_id, {"max_age": 150}, RunContext(f"sf-{tag}-{i}", None)
            )
        except GatewayError as exc:
            return json.dumps({"refused": exc.reason})
        assert out.dp is not None
        return json.dumps({"cached": out.dp.cached, "rows": out.rows})

    try:
        with ThreadPoolExecutor(runs) as pool:
            print("\n".join(pool.map(one, range(runs))))
    finally:
        ctx.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
