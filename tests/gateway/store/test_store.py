"""The gateway store on SQLite and on real PostgreSQL: migrations, guards, round trips."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.auth.models import ApiKey, Principal
from gateway.auth.service import add_principal, authenticate, digest
from gateway.errors import Unauthenticated
from gateway.store.engine import Store
from gateway.store.migrate import upgrade
from tests.conftest import Gateway, make_settings, open_gateway

STORES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    upgrade(store_url)
    s = Store.from_url(store_url)
    yield s
    s.dispose()


def test_migrations_create_every_table_and_are_repeatable(store_url: str, store: Store) -> None:
    upgrade(store_url)  # a second run is a no-op
    names = set(sa.inspect(store.engine).get_table_names())
    assert {
        "principals",
        "api_keys",
        "sources",
        "datasets",
        "policy_versions",
        "query_requests",
        "audit_entries",
        "alembic_version",
    } <= names


def _insert_entry(store: Store, index: int) -> None:
    with store.transaction() as session:
        session.execute(
            sa.text(
                'INSERT INTO audit_entries ("index", recorded_at, entry, leaf_hash, principal, '
                "event, decision) VALUES (:i, :t, '{}', 'h', 'p', 'e', 'none')"
            ),
            {"i": index, "t": datetime(2026, 1, 1)},
        )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET entry = 'forged'",
        "DELETE FROM audit_entries",
    ],
)
def test_audit_table_refuses_update_and_delete(store: Store, statement: str) -> None:
    _insert_entry(store, 0)
    with pytest.raises(sa.exc.DatabaseError), store.transaction() as session:
        session.execute(sa.text(statement))
    with store.transaction() as session:
        assert session.execute(sa.text("SELECT entry FROM audit_entries")).scalar_one() == "{}"


@pytest.mark.postgres
def test_truncate_is_refused_on_postgresql(pg_url: str) -> None:
    upgrade(pg_url)
    store = Store.from_url(pg_url)
    _insert_entry(store, 0)
    with pytest.raises(sa.exc.DatabaseError), store.transaction() as session:
        session.execute(sa.text("TRUNCATE audit_entries"))
    store.dispose()


def test_api_keys_are_stored_only_as_digests(store: Store) -> None:
    with store.transaction() as session:
        row, key = add_principal(
            session, name="heping-app", kind="app", domain="heping", role="elder-care"
        )
    with store.transaction() as session:
        stored = session.scalars(sa.select(ApiKey)).one()
        assert stored.digest == digest(key) and key not in (stored.digest, stored.prefix)
        assert authenticate(session, key).name == "heping-app"
        with pytest.raises(Unauthenticated):
            authenticate(session, key + "x")
        created = session.get(Principal, row.id)
        assert created is not None and created.created_at.tzinfo is UTC


def test_timestamps_round_trip_as_aware_utc(store: Store) -> None:
    with store.transaction() as session:
        row, _ = add_principal(session, name="t-app", kind="app", domain="heping", role="r1")
        row_id = row.id
    with store.transaction() as session:
        loaded = session.get(Principal, row_id)
        assert loaded is not None
        assert loaded.created_at.utcoffset() is not None
        assert abs((datetime.now(UTC) - loaded.created_at).total_seconds()) < 60


def test_source_credentials_are_encrypted_at_rest(gateway: Gateway, tmp_path: Path) -> None:
    secret_url = f"sqlite:///{tmp_path / 'secret-source-name.db'}"
    sa.create_engine(secret_url).connect().close()
    r = gateway.post("civil-affairs", "/v1/sources", {"name": "ca-db", "url": secret_url})
    assert r.status_code == 201 and "url" not in r.json()
    assert "secret-source-name" not in gateway.get("civil-affairs", "/v1/sources").text
    with gateway.ctx.store.transaction() as session:
        blob = session.execute(sa.text("SELECT url_ciphertext FROM sources")).scalar_one()
    assert b"secret-source-name" not in bytes(blob)


@pytest.mark.postgres
def test_full_flow_with_the_store_on_postgresql(
    pg_url: str, tmp_path: Path, small_community: object
) -> None:
    from gateway.demo.sources import SOURCE_TABLES, write_sources

    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))  # type: ignore[arg-type]
    gw = open_gateway(make_settings(tmp_path / "home", pg_url))
    try:
        dataset = gw.register_demo_dataset("residents", source)
        qid = gw.approved_query(
            "heping-committee",
            dataset,
            "public-service.elderly-care.home-visit",
            {"select": ["age", "building"], "limit": 5},
        )
        body = gw.run("heping-committee", qid).json()
        assert body["row_count"] == 5
        entries = gw.get("district-auditor", "/v1/audit/entries", params={"limit": 1000}).json()
        assert [e["index"] for e in entries] == list(range(len(entries)))
        assert entries[-1]["index"] == body["receipt"]["entry_index"]
    finally:
        gw.client.close()
        gw.ctx.close()


@pytest.mark.postgres
def test_reads_run_outside_a_transaction_and_leave_the_pool_transactional(pg_url: str) -> None:
    """``Store.reading`` (the run's load) sends no BEGIN or COMMIT on PostgreSQL; the
    connection it used goes back to the pool transactional again."""
    from psycopg.pq import TransactionStatus

    upgrade(pg_url)
    store = Store.from_url(pg_url, pool_size=1)  # one pooled connection: the same one reused
    try:
        with store.reading() as session:
            conn = session.connection()
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
            driver = conn.connection.driver_connection
            assert driver is not None
            assert driver.info.transaction_status == TransactionStatus.IDLE  # no BEGIN sent
            first = id(driver)
        # Back in the pool, the connection is transactional: an error rolls a write back.
        with pytest.raises(RuntimeError), store.transaction() as session:
            conn = session.connection()
            driver = conn.connection.driver_connection
            assert driver is not None and id(driver) == first
            conn.exec_driver_sql(
                "INSERT INTO principals (id, name, kind, domain, role, display_name, active,"
                " created_at) VALUES ('pr_t', 'reading-test', 'app', 'd', 'r', '', true, now())"
            )
            assert driver.info.transaction_status == TransactionStatus.INTRANS
            raise RuntimeError
        with store.reading() as session:
            found = session.connection().exec_driver_sql(
                "SELECT count(*) FROM principals WHERE name = 'reading-test'"
            )
            assert found.scalar() == 0
    finally:
        store.dispose()
