"""One gateway process running 50 concurrent DP runs (the budget race test)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from gateway.auth.repository import AuthRepository
from gateway.auth.service import issue_key
from gateway.context import GatewayContext
from gateway.errors import GatewayError
from gateway.runs.context import RunContext
from gateway.runs.pipeline import run_query
from gateway.settings import load_settings


def main(query_id: str, app: str, offset: int, runs: int) -> None:
    ctx = GatewayContext.open(load_settings())
    with ctx.store.transaction() as session:
        row = AuthRepository(session).by_name(app)
        assert row is not None
        api_key = issue_key(session, row)  # the pipeline authenticates the key

    def one(i: int) -> str:
        params = {"max_age": 200 + offset * runs + i}  # distinct: no stored answer reused
        try:
            run_query(
                ctx,
                api_key,
                query_id,
                params,
                RunContext(request_id=f"race-{offset}-{i}", client=None),
            )
            return "ok"
        except GatewayError as exc:
            return f"refused:{exc.reason}"

    try:
        with ThreadPoolExecutor(runs) as pool:
            print("\n".join(pool.map(one, range(runs))))
    finally:
        ctx.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
