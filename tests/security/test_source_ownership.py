"""A source belongs to exactly one department: each way around it, tried over HTTP.

Every test registers sources as a department would (POST /v1/sources) on a gateway with
the default directories (HOME/sources/<department>) and names the mechanism that stops
the attempt: the department directory (source_paths), the identity the database gives
of itself (source_identity, ownership), the host allow-list and query-parameter rule
(source_hosts), and the encrypted, never-echoed URL (credentials).
"""

from __future__ import annotations

import copy
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from gateway.demo.catalog import DATASETS
from tests.conftest import (
    Gateway,
    admin_engine,
    assert_error,
    make_settings,
    mariadb_base,
    open_gateway,
    postgres_base,
    store_snapshot,
)

STORES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
PASSWORD = "s3cret-pw-7f3a"


def _gateway(home: Path, store: str | None = None, **extra: Any) -> Gateway:
    extra.setdefault("source_dirs", "")  # the default: HOME/sources/<department>
    return open_gateway(make_settings(home, store, **extra))


@pytest.fixture(params=STORES)
def gw(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gateway]:
    store = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    gateway = _gateway(tmp_path / "home", store)
    yield gateway
    gateway.client.close()
    gateway.ctx.close()


def _sqlite_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
    engine.dispose()
    return path


def _register(gw: Gateway, who: str, name: str, url: str) -> Any:
    return gw.post(who, "/v1/sources", {"name": name, "url": url})


@pytest.fixture
def pg_database() -> Iterator[URL]:
    """A fresh database on the test PostgreSQL server (the store's server), dropped after."""
    base = postgres_base()
    admin = admin_engine("PostgreSQL", base)
    name = f"cdg_sec_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            sa.text(f'CREATE DATABASE "{name}"')
        )
    try:
        yield base.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                sa.text(f'DROP DATABASE "{name}" WITH (FORCE)')
            )
        admin.dispose()


def test_another_departments_sqlite_file_is_refused_however_it_is_spelled(gw: Gateway) -> None:
    # Stopped by the department directory: the path is resolved (URI form, query string,
    # "..", symlinks) and must lie in the caller's own HOME/sources/<department>.
    home = gw.ctx.settings.home
    theirs = _sqlite_file(home / "sources" / "civil-affairs" / "residents.db")
    assert _register(gw, "civil-affairs", "ca", f"sqlite:///{theirs}").status_code == 201
    mine = home / "sources" / "health-commission"
    mine.mkdir(parents=True, exist_ok=True)
    (mine / "link.db").symlink_to(theirs)
    before = store_snapshot(gw)
    for url in [
        f"sqlite:///{theirs}",
        f"sqlite:///{mine}/../civil-affairs/residents.db",
        f"sqlite:///{mine / 'link.db'}",
        f"sqlite:///file:{theirs}?mode=ro&uri=true",
        f"sqlite:///file:{mine}/../civil-affairs/residents.db?uri=true",
    ]:
        r = _register(gw, "health-commission", "hc", url)
        assert_error(r, 422, echoed=[str(home)])
    assert store_snapshot(gw) == before


def test_another_departments_file_hard_linked_into_mine_is_refused(tmp_path: Path) -> None:
    # Stopped by the identity: a SQLite database is its device and inode, which a hard
    # link shares, so the second department's claim meets the first one's (409).
    gw = _gateway(tmp_path / "home")
    try:
        home = gw.ctx.settings.home
        theirs = _sqlite_file(home / "sources" / "civil-affairs" / "residents.db")
        assert _register(gw, "civil-affairs", "ca", f"sqlite:///{theirs}").status_code == 201
        mine = home / "sources" / "health-commission" / "copy.db"
        mine.parent.mkdir(parents=True)
        os.link(theirs, mine)
        assert_error(_register(gw, "health-commission", "hc", f"sqlite:///{mine}"), 409)
        # The owner may register its own database again under another name.
        assert _register(gw, "civil-affairs", "ca2", f"sqlite:///{theirs}").status_code == 201
    finally:
        gw.client.close()
        gw.ctx.close()


def test_the_sqlite_store_is_refused_even_inside_a_department_directory(tmp_path: Path) -> None:
    # Stopped by the identity check against the store's identity, read once at startup:
    # here the operator's root for civil-affairs holds the store file, and a hard link
    # puts it in the department's default directory too.
    home = tmp_path / "home"
    gw = _gateway(home, source_dirs=f"civil-affairs={home}")
    try:
        store_file = Path(gw.ctx.settings.store_url.removeprefix("sqlite:///"))
        linked = home / "sources" / "health-commission" / "store.db"
        linked.parent.mkdir(parents=True)
        os.link(store_file, linked)
        before = store_snapshot(gw)
        assert_error(_register(gw, "civil-affairs", "st", gw.ctx.settings.store_url), 422)
        assert_error(_register(gw, "health-commission", "st", f"sqlite:///{linked}"), 422)
        assert store_snapshot(gw) == before
    finally:
        gw.client.close()
        gw.ctx.close()


@pytest.mark.postgres
def test_the_postgresql_store_is_refused_under_every_spelling(pg_url: str, tmp_path: Path) -> None:
    gw = _gateway(tmp_path / "home", pg_url)
    try:
        base = postgres_base()
        before = store_snapshot(gw)
        database = base.database
        # Stopped by the identity (system_identifier + current_database()), not URL text:
        for url in [
            f"postgresql+psycopg://postgres@localhost:5432/{database}",  # a name, not the address
            f"postgresql+psycopg://postgres@127.0.0.1/{database}",  # default port left out
            f"postgresql+psycopg://postgres@localhost/{database}",
        ]:
            assert_error(_register(gw, "civil-affairs", "st", url), 422)
        # Stopped by the query-parameter rule: the target may only be the URL's host.
        for url in [
            f"postgresql+psycopg://postgres@10.9.9.9/{database}?host=127.0.0.1",
            f"postgresql+psycopg://postgres@127.0.0.1/{database}?hostaddr=127.0.0.1",
            f"postgresql+psycopg://postgres@127.0.0.1/{database}?service=gateway",
            f"postgresql+psycopg:///{database}?host=/var/run/postgresql",  # a unix socket
        ]:
            assert_error(_register(gw, "civil-affairs", "st", url), 422)
        # Stopped by the host allow-list: 0.0.0.0 is no host, though Linux connects it locally.
        assert_error(
            _register(gw, "civil-affairs", "st", f"postgresql+psycopg://postgres@0.0.0.0/{database}"),
            422,
        )
        assert store_snapshot(gw) == before
    finally:
        gw.client.close()
        gw.ctx.close()


@pytest.mark.postgres
def test_one_postgresql_database_cannot_be_registered_by_two_departments(
    pg_url: str, pg_database: URL, tmp_path: Path
) -> None:
    # The store and the source are on the same server: the identity still tells the
    # source database from the store's (civil-affairs' registration succeeds), and tells
    # a second spelling of the source database from a new one (health-commission: 409).
    gw = _gateway(tmp_path / "home", pg_url)
    try:
        first = pg_database.render_as_string(hide_password=False)
        assert _register(gw, "civil-affairs", "ca", first).status_code == 201
        other = pg_database.set(host="localhost", port=None).render_as_string(hide_password=False)
        before = store_snapshot(gw)
        assert_error(_register(gw, "health-commission", "hc", other), 409)
        assert store_snapshot(gw) == before
    finally:
        gw.client.close()
        gw.ctx.close()


@pytest.mark.mariadb
def test_one_mariadb_database_cannot_be_registered_by_two_departments(
    gw: Gateway, mariadb_url: str
) -> None:
    # Stopped by the identity (the server's own host name, port and data directory, and
    # database()): "localhost" and "127.0.0.1" are one database.
    assert _register(gw, "civil-affairs", "ca", mariadb_url).status_code == 201
    database = sa.engine.make_url(mariadb_url).database
    other = mariadb_base().set(host="localhost", port=None, database=database)
    assert_error(
        _register(gw, "health-commission", "hc", other.render_as_string(hide_password=False)),
        409,
    )


@pytest.mark.mariadb
def test_a_mariadb_dataset_cannot_reach_another_database_by_a_qualified_name(
    gateway: Gateway, mariadb_url: str
) -> None:
    # Stopped at dataset registration: on MariaDB a schema is a database, so a qualified
    # table must name the source's own database.
    assert _register(gateway, "civil-affairs", "ca", mariadb_url).status_code == 201
    spec = copy.deepcopy(DATASETS[0])
    spec.update(name="peek", source="ca", table="mysql.user")
    r = gateway.post("civil-affairs", "/v1/datasets", spec)
    assert assert_error(r, 422)["detail"] == "the table must be in the source's own database"


@pytest.mark.postgres
def test_a_host_outside_the_allow_list_is_refused(tmp_path: Path) -> None:
    # Stopped by the host allow-list, checked on the addresses a name resolves to.
    gw = _gateway(tmp_path / "home", source_hosts="192.0.2.0/24")
    try:
        base = postgres_base()
        for host in ["127.0.0.1", "localhost", "10.255.255.1", "no-such-host.invalid"]:
            url = base.set(host=host).render_as_string(hide_password=False)
            assert_error(_register(gw, "civil-affairs", "far", url), 422)
    finally:
        gw.client.close()
        gw.ctx.close()


@pytest.mark.postgres
def test_source_credentials_never_reach_a_response_or_a_log_line(
    gw: Gateway, pg_database: URL, caplog: pytest.LogCaptureFixture
) -> None:
    # Stopped by the credentials handling: the URL is sealed with the master key at
    # rest, and every message about it is written by the gateway, never copied from a
    # driver (whose connection errors quote the URL).
    caplog.set_level(logging.DEBUG)
    with_password = pg_database.set(password=PASSWORD)
    failing = with_password.set(port=1).render_as_string(hide_password=False)
    texts = [assert_error(_register(gw, "civil-affairs", "bad", failing), 422, echoed=[PASSWORD])]
    ok = _register(gw, "civil-affairs", "ok", with_password.render_as_string(hide_password=False))
    assert ok.status_code == 201, ok.text  # the test server trusts local connections
    texts += [ok.text, gw.get("civil-affairs", "/v1/sources").text]
    again = _register(gw, "health-commission", "hc", with_password.render_as_string(
        hide_password=False))
    texts.append(assert_error(again, 409, echoed=[PASSWORD]))
    texts.append(gw.get("district-auditor", "/v1/audit/entries").text)
    assert not any(PASSWORD in str(t) for t in texts)
    assert PASSWORD not in caplog.text
    with gw.ctx.store.transaction() as session:
        blob = session.execute(sa.text("SELECT url_ciphertext FROM sources")).scalar_one()
    assert PASSWORD.encode() not in bytes(blob)


def test_a_nul_byte_in_a_sqlite_url_is_a_422(gw: Gateway) -> None:
    # Stopped by the path rule (source_paths.sqlite_file): no file name holds a NUL, and
    # resolving one raised ValueError (a 500) before the check existed.
    home = gw.ctx.settings.home
    mine = _sqlite_file(home / "sources" / "civil-affairs" / "civil_affairs.db")
    before = store_snapshot(gw)
    for url in [f"sqlite:///{mine}\u0000../x", f"sqlite:///{mine}%00../x"]:
        assert_error(_register(gw, "civil-affairs", "nul", url), 422, echoed=[str(home)])
    assert store_snapshot(gw) == before


def test_odd_and_multi_host_server_urls_are_a_422_not_a_500(gw: Gateway) -> None:
    # Stopped by source_urls.parse_source_url: any URL SQLAlchemy cannot read is a 422,
    # a libpq host list is refused outright (each host would need the identity check),
    # and a server source must name its database (B3: a MariaDB source without one let
    # an unqualified table reach an assertion in the reflection code).
    before = store_snapshot(gw)
    for url in [
        "postgresql+psycopg://postgres@127.0.0.1:5432,127.0.0.1:5433/test",
        "postgresql+psycopg://postgres@127.0.0.1,127.0.0.2/test",
        "postgresql+psycopg://postgres@:5432/test",
        "postgresql+psycopg://postgres@127.0.0.1:99999/test",
        "postgresql+psycopg://postgres@127.0.0.1:0/test",
        "postgresql+psycopg://postgres@127.0.0.1:abc/test",
        "postgresql+psycopg://postgres@[::1/test",
        "postgresql+psycopg://postgres@[::1]:99999/test",
        "postgresql+psycopg://p%zz%00@127.0.0.1%00/te%00st",
        "postgresql+psycopg://postgres@127.0.0.1:5432",
        "postgresql+psycopg://postgres@127.0.0.1:5432/",
        "mysql+pymysql://root@127.0.0.1:3306/",
        "mysql+pymysql://root@127.0.0.1:3306",
        "nosuchdb://u@127.0.0.1/test",
        "//127.0.0.1/test",
        "127.0.0.1:5432/test",
        "",
    ]:
        assert_error(_register(gw, "civil-affairs", "odd", url), 422)
    assert store_snapshot(gw) == before


def _table_spec(source: str, table: str) -> dict[str, Any]:
    spec = copy.deepcopy(DATASETS[0])
    spec.update(name="catalog", source=source, table=table)
    return spec


SYSTEM_TABLE = (
    "the table is one of the database server's own catalogs, not the department's data "
    "/ 该表属于数据库系统目录，不能登记为数据集"
)


def test_sqlite_catalog_tables_are_not_datasets(gw: Gateway) -> None:
    # Stopped by table_location: sqlite_ tables describe the file, not the department's data.
    mine = _sqlite_file(gw.ctx.settings.home / "sources" / "civil-affairs" / "c.db")
    assert _register(gw, "civil-affairs", "ca", f"sqlite:///{mine}").status_code == 201
    for table in ["sqlite_master", "sqlite_schema", "main.sqlite_master", "SQLITE_MASTER"]:
        r = gw.post("civil-affairs", "/v1/datasets", _table_spec("ca", table))
        assert assert_error(r, 422)["detail"] == SYSTEM_TABLE


@pytest.mark.postgres
def test_postgresql_server_catalogs_are_not_datasets(gw: Gateway, pg_database: URL) -> None:
    # Stopped by table_location: the name is resolved by the database (to_regclass, via
    # the source's search_path, which puts pg_catalog first), and a relation in
    # pg_catalog, information_schema or any pg_* schema is refused. pg_stat_activity
    # showed other databases' sessions and the gateway's statements; pg_authid every role.
    url = pg_database.render_as_string(hide_password=False)
    assert _register(gw, "civil-affairs", "ca", url).status_code == 201
    before = store_snapshot(gw)
    for table in [
        "pg_catalog.pg_stat_activity",
        "pg_stat_activity",  # unqualified: resolves to pg_catalog through the search_path
        "pg_catalog.pg_authid",
        "pg_authid",
        "pg_roles",
        "information_schema.tables",
        "pg_toast.anything",
    ]:
        r = gw.post("civil-affairs", "/v1/datasets", _table_spec("ca", table))
        assert assert_error(r, 422)["detail"] == SYSTEM_TABLE, table
    assert store_snapshot(gw) == before


@pytest.mark.mariadb
def test_mariadb_system_databases_are_not_datasets(gw: Gateway) -> None:
    # Stopped by table_location: on a source whose database is a system one (here
    # "mysql"), even an unqualified table is the server's catalog.
    url = mariadb_base().set(database="mysql").render_as_string(hide_password=False)
    assert _register(gw, "civil-affairs", "sys", url).status_code == 201
    for table in ["user", "mysql.user", "information_schema.tables"]:
        r = gw.post("civil-affairs", "/v1/datasets", _table_spec("sys", table))
        assert_error(r, 422)


def _source_entries(gw: Gateway) -> list[dict[str, Any]]:
    r = gw.get("district-auditor", "/v1/audit/entries", params={"event": "source.registered"})
    return [e["entry"] for e in r.json()]


def test_refused_registrations_of_databases_not_ones_own_are_logged(gw: Gateway) -> None:
    # A 409 (another department's database), a 422 for the store or for a file outside
    # the department's directory each leave a "refused" source.registered entry with
    # its reason code, and never the URL or the path.
    home = gw.ctx.settings.home
    theirs = _sqlite_file(home / "sources" / "civil-affairs" / "residents.db")
    assert _register(gw, "civil-affairs", "ca", f"sqlite:///{theirs}").status_code == 201
    mine = home / "sources" / "health-commission" / "copy.db"
    mine.parent.mkdir(parents=True)
    os.link(theirs, mine)
    assert_error(_register(gw, "health-commission", "h1", f"sqlite:///{mine}"), 409)
    assert_error(_register(gw, "health-commission", "h2", f"sqlite:///{theirs}"), 422)
    store = gw.ctx.settings.store_url
    if store.startswith("sqlite"):
        linked = home / "sources" / "health-commission" / "store.db"
        os.link(Path(store.removeprefix("sqlite:///")), linked)
        assert_error(_register(gw, "health-commission", "h3", f"sqlite:///{linked}"), 422)
    else:
        assert_error(_register(gw, "health-commission", "h3", store), 422)
    entries = _source_entries(gw)
    refused = [e for e in entries if e.get("outcome") == "refused"]
    assert sorted((e["source"], e["decision"]["reason_code"]) for e in refused) == [
        ("h1", "source_owned_elsewhere"),
        ("h2", "source_outside_directory"),
        ("h3", "source_is_store"),
    ]
    assert all(e["principal"] == "health-commission" for e in refused)
    text = str(entries)
    assert str(home) not in text and "sqlite:" not in text and "postgresql" not in text
