"""A source that cannot be reached says why: login, database, port, network or timeout.

Against the real PostgreSQL and MariaDB servers: a login they refuse, a database they do
not have, a port where nothing listens, and a port whose listener never takes the
connection (its accept queue is full, so the kernel drops the handshake as a firewall
would). The local PostgreSQL trusts every password on 127.0.0.1, so its login is refused
by naming a role that does not exist. Every refusal is a 422 with a stable reason code
and fixed zh/en words; no password, user, host, port or database name is repeated.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from gateway.catalog.connect_errors import CONNECT_FAILURES
from gateway.catalog.engines import execute, make_source_engine
from gateway.catalog.source_urls import with_default_driver
from gateway.demo.catalog import DATASETS
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from gateway.errors import SourceError
from tests.conftest import Gateway, admin_engine, assert_error, mariadb_base, postgres_base

SECRET = "hunter2-Zq9"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A port whose accept queue is full: further connection attempts get no answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    yield port
    for s in (*fillers, listener):
        s.close()


def _server(kind: str) -> URL:
    base = postgres_base() if kind == "postgresql" else mariadb_base()
    admin_engine(kind, base).dispose()  # skips (or fails in CI) when the server is down
    return base


def _cases(kind: str, base: URL, silent: int) -> dict[str, URL]:
    login = (
        base.set(username="cdg_no_such_role", password=SECRET)
        if kind == "postgresql"
        else base.set(password=SECRET)  # root's password is empty
    )
    # PostgreSQL ignores the password (trust): it is in the URL to show it is not echoed.
    secret = SECRET if kind == "postgresql" else base.password
    return {
        "source_auth_failed": login,
        "source_database_missing": base.set(database="cdg_no_such_database", password=secret),
        "source_refused": base.set(port=_closed_port(), password=secret),
        "source_connect_timeout": base.set(port=silent, password=secret).update_query_dict(
            {"connect_timeout": "2"}
        ),
    }


KINDS = [
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]


@pytest.mark.parametrize("kind", KINDS)
def test_registration_names_the_cause_without_echoing_the_url(
    gateway: Gateway, kind: str, silent_port: int
) -> None:
    base = _server(kind)
    for code, url in _cases(kind, base, silent_port).items():
        text = url.render_as_string(hide_password=False)
        started = time.monotonic()
        r = gateway.post("civil-affairs", "/v1/sources", {"name": "dept-db", "url": text})
        echoed = (SECRET, text, "cdg_no_such", str(url.port), str(url.username or "root"))
        body = assert_error(r, 422, echoed=echoed)
        assert body["reason"] == code, (kind, code, body)
        failure = CONNECT_FAILURES[code]
        assert body["detail"] == f"{failure.zh} / {failure.en}"
        assert "127.0.0.1" not in r.text
        if code == "source_connect_timeout":
            assert time.monotonic() - started < 10  # the URL's connect_timeout, not minutes
    listed = gateway.get("civil-affairs", "/v1/sources").json()
    assert all(s["name"] != "dept-db" for s in listed)  # nothing was registered


@pytest.mark.parametrize("kind", KINDS)
def test_a_run_time_connection_failure_names_its_cause(kind: str) -> None:
    """The run path's execute: a source that stopped listening is a 502 with the cause."""
    url = _server(kind).set(port=_closed_port())
    engine = make_source_engine(url.render_as_string(hide_password=False), 1)
    try:
        with pytest.raises(SourceError) as raised:
            execute(engine, sa.select(sa.literal(1)), 5.0, 10)
    finally:
        engine.dispose()
    assert raised.value.reason == "source_refused"
    assert raised.value.detail == CONNECT_FAILURES["source_refused"].detail


@pytest.mark.postgres
def test_postgres_urls_are_accepted_and_stored_with_the_installed_driver(
    gateway: Gateway,
) -> None:
    base = _server("postgresql")
    short = base.render_as_string(hide_password=False).replace(
        "postgresql+psycopg://", "postgres://"
    )
    assert short.startswith("postgres://")
    r = gateway.post("civil-affairs", "/v1/sources", {"name": "short-url", "url": short})
    assert r.status_code == 201, r.text
    assert r.json()["dialect"] == "postgresql"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("POSTGRES://u@h/db", "postgresql+psycopg://u@h/db"),
        (
            "postgresql://u@h:5433/db?sslmode=require",
            "postgresql+psycopg://u@h:5433/db?sslmode=require",
        ),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("mysql://u@h/db", "mysql+pymysql://u@h/db"),
        ("mariadb://u@h/db", "mariadb+pymysql://u@h/db"),
        ("mysql+pymysql://u@h/db", "mysql+pymysql://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("not a url", "not a url"),
    ],
)
def test_urls_without_a_driver_get_the_installed_one(given: str, expected: str) -> None:
    assert with_default_driver(given) == expected


class Relay:
    """A TCP relay in front of a real database server, which the test can switch off."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                s.close()

    def stop(self) -> None:
        """The server goes away: nothing listens on the port any more."""
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (Linux)
        self.listener.close()
        for s in self.open:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


@pytest.mark.postgres
def test_a_registered_source_that_stops_listening_names_the_cause_over_http(
    gateway: Gateway, pg_url: str, small_community: Community
) -> None:
    """Dataset registration and a run on a source whose server went away: 502 with the cause."""
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, pg_url))
    real = make_url(pg_url)
    relay = Relay(real.port or 5432)
    try:
        relayed = real.set(port=relay.port).render_as_string(hide_password=False)
        dataset = gateway.register_demo_dataset("residents", relayed)
        query = gateway.approved_query(
            "heping-committee",
            dataset,
            "public-service.community-planning",
            {"aggregates": [{"fn": "persons", "as": "people"}], "group_by": ["building"]},
        )
        assert gateway.run("heping-committee", query).status_code == 200
        relay.stop()
        gateway.ctx.engines.dispose()  # pooled connections died with the server
        run = gateway.run("heping-committee", query)
        body = assert_error(run, 502, echoed=(str(relay.port),))
        assert body["reason"] == "source_refused"
        spec = dict(next(d for d in DATASETS if d["name"] == "residents"))
        spec.update(name="residents-again", source="src-residents")
        r = gateway.post("civil-affairs", "/v1/datasets", spec)
        assert assert_error(r, 502)["reason"] == "source_refused"
    finally:
        relay.stop()


@pytest.fixture
def mute_port() -> Iterator[int]:
    """A listener that accepts every connection and never says a word (no handshake)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    for s in (*held, listener):
        s.close()


@pytest.mark.mariadb
def test_a_mysql_listener_that_never_sends_its_handshake_times_out(
    gateway: Gateway, mute_port: int
) -> None:
    """PyMySQL's connect_timeout covers only the TCP connect; the handshake read must not
    hold a request (and a worker thread) for ever."""
    url = f"mysql+pymysql://root:{SECRET}@127.0.0.1:{mute_port}/test?connect_timeout=2"
    started = time.monotonic()
    r = gateway.post("civil-affairs", "/v1/sources", {"name": "mute-db", "url": url})
    assert time.monotonic() - started < 10
    body = assert_error(r, 422, echoed=(SECRET, url, str(mute_port)))
    assert body["reason"] in CONNECT_FAILURES, body
