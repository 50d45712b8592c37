"""A store connection lost while idle in the pool is replaced before anyone uses it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gateway.store import engine as store_engine
from gateway.store.engine import Store

pytestmark = pytest.mark.postgres


def _backend_pid(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _terminate(url: str, pid: int) -> None:
    admin = sa.create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()


def test_a_connection_killed_while_idle_is_replaced(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.from_url(pg_url, pool_size=1)
    try:
        first = _backend_pid(store)
        _terminate(pg_url, first)  # as a server restart or a fail-over would
        monkeypatch.setattr(store_engine, "PING_AFTER_IDLE_SECONDS", 0.0)
        assert _backend_pid(store) != first  # checked, dropped, replaced: no error
    finally:
        store.dispose()


def test_a_connection_used_a_moment_ago_is_not_checked_again(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No round trip per transaction on a busy store: the same dead connection is handed out
    # unchecked (its user then fails, and the pool drops it), which the idle check avoids.
    store = Store.from_url(pg_url, pool_size=1)
    try:
        first = _backend_pid(store)
        _terminate(pg_url, first)
        monkeypatch.setattr(store_engine, "PING_AFTER_IDLE_SECONDS", 3600.0)
        with pytest.raises(sa.exc.OperationalError):
            _backend_pid(store)
        assert _backend_pid(store) != first  # the pool recovered on its own
    finally:
        store.dispose()
