"""The run's load (request, dataset and source in one SELECT through the driver's cursor)
builds the same objects the ORM loads, on every store: datetimes timezone-aware, JSON
documents decoded, bytes as bytes, nulls as None."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.auth.models import Principal
from gateway.catalog.models import Dataset, Source
from gateway.requests.models import QueryRequest
from gateway.runs import repository
from gateway.runs.repository import RunRepository
from tests.conftest import make_settings, open_gateway
from tests.gateway.runs.test_run_counts import STORES

MOMENT = datetime(2026, 12, 4, 8, 30, 15, 123456, tzinfo=UTC)


def _store_url(kind: str, request: pytest.FixtureRequest) -> str | None:
    if kind == "sqlite":
        return None
    return str(request.getfixturevalue("pg_url" if kind == "postgresql" else "mariadb_url"))


def _rows(session: Any) -> None:
    app = session.scalar(select(Principal.id).where(Principal.name == "heping-committee"))
    session.add(
        Source(
            id="src_1",
            name="民政 source",
            owner="civil-affairs",
            dialect="sqlite",
            url_ciphertext=b"\x00\xffcipher",
            key_version=3,
            identity=None,
            created_at=MOMENT,
        )
    )
    session.flush()
    session.add(
        Dataset(
            id="ds_1",
            name="residents",
            owner="civil-affairs",
            source_id="src_1",
            table_name="residents",
            privacy_unit="id",
            columns=[{"name": "age", "type": "integer", "label": "年龄"}],
            policy={"purposes": [{"purpose": "p", "columns": {"age": {"treatment": "keep"}}}]},
            policy_version="v7",
            created_at=MOMENT,
            updated_at=MOMENT,
        )
    )
    session.flush()
    session.add(
        QueryRequest(
            id="qr_1",
            app_id=app,
            dataset_id="ds_1",
            purpose="p",
            justification="家访",
            kind="rows",
            spec={"columns": ["age"], "filters": [], "limit": 5},
            example_params=None,
            status="approved",
            decided_at=MOMENT,
            expires_at=None,
            max_runs=9,
            row_cap=None,
            created_at=MOMENT,
        )
    )


def _same(loaded: Any, stored: Any, leave_out: tuple[str, ...] = ()) -> None:
    for column in type(stored).__table__.columns:
        key = type(stored).__mapper__.get_property_by_column(column).key
        if key in leave_out:
            continue
        got, want = getattr(loaded, key), getattr(stored, key)
        assert got == want and type(got) is type(want), (key, got, want)


@pytest.mark.parametrize("kind", STORES)
@pytest.mark.parametrize("path", ["driver", "core"])
def test_the_load_builds_what_the_orm_loads(
    kind: str,
    path: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if path == "core":  # the statement as Core executes it: the path other stores take
        monkeypatch.setattr(repository, "_DRIVERS", set())
    for decoded in (repository._QUERIES, repository._DATASETS, repository._SOURCES):
        monkeypatch.setattr(decoded, "_rows", {})  # nothing decoded by an earlier test
    gw = open_gateway(make_settings(tmp_path / "home", _store_url(kind, request)))
    try:
        store = gw.ctx.store
        with store.transaction() as session:
            _rows(session)
        with store.transaction() as session:
            epoch, found = RunRepository(session).runnable("qr_1")
            missing = RunRepository(session).runnable("qr_unknown")
        assert found is not None and missing == (epoch, None)
        with store.transaction() as session:
            stored = (
                session.get(QueryRequest, "qr_1"),
                session.get(Dataset, "ds_1"),
                session.get(Source, "src_1"),
            )
            query, dataset, source = found
            _same(query, stored[0], leave_out=("runs_used",))
            _same(dataset, stored[1])
            _same(source, stored[2])
        # (MariaDB's DATETIME keeps whole seconds: the store's own precision, as loaded.)
        assert query.decided_at is not None and query.decided_at.tzinfo is not None
        assert query.decided_at.replace(microsecond=0) == MOMENT.replace(microsecond=0)
        assert dataset.columns[0]["label"] == "年龄" and source.url_ciphertext == b"\x00\xffcipher"
        # A second load of unchanged rows hands back the objects already built.
        with store.transaction() as session:
            again = RunRepository(session).runnable("qr_1")[1]
        assert again is not None and all(a is b for a, b in zip(again, found, strict=True))
    finally:
        gw.client.close()
        gw.ctx.close()
