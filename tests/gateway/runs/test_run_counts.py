"""The run counts on every store: a query's runs and the day's runs, each atomic, refusals
using nothing up."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.access.models import DailyRuns
from gateway.auth.models import Principal
from gateway.catalog.models import Dataset, Source
from gateway.requests.models import QueryRequest
from gateway.runs.repository import RunCounts
from tests.conftest import make_settings, open_gateway

STORES = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]


@pytest.mark.parametrize("kind", STORES)
def test_run_counts_stop_at_their_caps_on_every_store(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        None
        if kind == "sqlite"
        else request.getfixturevalue("pg_url" if kind == "postgresql" else "mariadb_url")
    )
    gw = open_gateway(make_settings(tmp_path / "home", url))
    store = gw.ctx.store
    with store.transaction() as session:
        app = session.scalar(select(Principal.id).where(Principal.name == "heping-committee"))
        session.add(
            Source(
                id="src_1",
                name="src",
                owner="civil-affairs",
                dialect="sqlite",
                url_ciphertext=b"x",
                key_version=1,
            )
        )
        session.flush()
        session.add(
            Dataset(
                id="ds_1",
                name="ds",
                owner="civil-affairs",
                source_id="src_1",
                table_name="t",
                privacy_unit="id",
                columns=[],
                policy={},
                policy_version="v1",
            )
        )
        session.flush()
        session.add(
            QueryRequest(
                id="qr_1",
                app_id=app,
                dataset_id="ds_1",
                purpose="p",
                justification="j",
                kind="rows",
                spec={},
                status="approved",
                max_runs=2,
            )
        )
    day = ("heping-committee", "ds_1", "p", "2026-12-04")
    with store.writing_connection() as conn:
        counts = RunCounts(conn)
        assert [counts.take_run("qr_1") for _ in range(3)] == [True, True, False]
        assert [counts.take_daily_run(*day, 2) for _ in range(3)] == [True, True, False]
        assert counts.take_daily_run(*day, None)  # no cap: counted all the same
        assert not counts.take_daily_run(*day, 0)
    with store.transaction() as session:
        assert session.get(QueryRequest, "qr_1").runs_used == 2  # type: ignore[union-attr]
        assert session.get(DailyRuns, day).runs == 3  # type: ignore[union-attr]
    # A refusal inside the counting transaction rolls its counts back.
    with pytest.raises(RuntimeError), store.writing_connection() as conn:
        assert RunCounts(conn).take_daily_run(*day, None)
        raise RuntimeError
    with store.transaction() as session:
        assert session.get(DailyRuns, day).runs == 3  # type: ignore[union-attr]

    # Both counts in one call, as a run takes them: the day moves only with the query.
    with store.transaction() as session:
        row = session.get(QueryRequest, "qr_1")
        assert row is not None
        row.max_runs = 4
    other = ("heping-committee", "ds_1", "p", "2026-12-05")
    with store.writing_connection() as conn:
        counts = RunCounts(conn)
        assert counts.take("qr_1", *other, 1) == "counted"  # runs_used 3, the day at 1
        assert counts.take("qr_unknown", *other, None) == "run_refused"
    with pytest.raises(RuntimeError), store.writing_connection() as conn:
        # The day is full: the caller rolls back, and the query's count with it.
        assert RunCounts(conn).take("qr_1", *other, 1) == "day_refused"
        raise RuntimeError
    with pytest.raises(RuntimeError), store.writing_connection() as conn:
        assert RunCounts(conn).take("qr_1", *other, 0) == "day_refused"
        raise RuntimeError
    with store.writing_connection() as conn:
        assert RunCounts(conn).take("qr_1", *other, None) == "counted"  # runs_used 4
        assert RunCounts(conn).take("qr_1", *other, None) == "run_refused"  # 4 of 4 used
    with store.transaction() as session:
        assert session.get(QueryRequest, "qr_1").runs_used == 4  # type: ignore[union-attr]
        assert session.get(DailyRuns, other).runs == 2  # type: ignore[union-attr]
        row = session.get(QueryRequest, "qr_1")
        assert row is not None
        row.status, row.max_runs = "revoked", None
    with store.writing_connection() as conn:
        assert RunCounts(conn).take("qr_1", *other, None) == "run_refused"
    with store.transaction() as session:
        assert session.get(QueryRequest, "qr_1").runs_used == 4  # type: ignore[union-attr]
        assert session.get(DailyRuns, other).runs == 2  # type: ignore[union-attr]
    gw.ctx.close()
