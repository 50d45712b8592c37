"""Shared fixtures: real databases, a gateway wired to them, principals with keys.

PostgreSQL and MariaDB come from CDG_TEST_POSTGRES_URL / CDG_TEST_MARIADB_URL
(defaults: the local servers). When a server is unreachable the test skips with
the reason, unless CDG_REQUIRE_SERVICES=1 (set by CI), where it fails instead.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import secrets
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL, make_url

from gateway.api.app import create_app
from gateway.auth.service import add_principal
from gateway.context import GatewayContext
from gateway.demo.catalog import DATASETS
from gateway.demo.community import Community, generate_community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from gateway.settings import Settings, load_settings
from gateway.store.migrate import upgrade

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIADB_DEFAULT = "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4"


def unavailable(what: str, url: URL, exc: BaseException) -> NoReturn:
    reason = (
        f"{what} not reachable at {url.render_as_string(hide_password=True)} "
        f"({type(exc).__name__}); set the URL in its CDG_TEST_* variable"
    )
    if os.environ.get("CDG_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} and CDG_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(reason)


def admin_engine(what: str, url: URL) -> sa.Engine:
    """An engine on the server, or skip (fail under CDG_REQUIRE_SERVICES=1)."""
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3}, poolclass=sa.NullPool)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except (sa.exc.SQLAlchemyError, ImportError, OSError) as exc:
        unavailable(what, url, exc)
    return engine


def postgres_base() -> URL:
    return make_url(os.environ.get("CDG_TEST_POSTGRES_URL", PG_DEFAULT))


def mariadb_base() -> URL:
    return make_url(os.environ.get("CDG_TEST_MARIADB_URL", MARIADB_DEFAULT))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL; the URL's search_path points at it."""
    base = postgres_base()
    admin = admin_engine("PostgreSQL", base)
    schema = f"cdg_test_{secrets.token_hex(6)}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh utf8mb4 database on the test MariaDB."""
    base = mariadb_base()
    admin = admin_engine("MariaDB", base)
    database = f"cdg_test_{secrets.token_hex(6)}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4"))
    try:
        yield base.set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE `{database}`"))
        admin.dispose()


@pytest.fixture(scope="session")
def small_community() -> Community:
    return generate_community(seed=7, residents=600)


SOURCE_KINDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]


@pytest.fixture(params=SOURCE_KINDS)
def source_url(request: pytest.FixtureRequest, small_community: Community, tmp_path: Path) -> str:
    """One database holding the three demo tables, on SQLite, PostgreSQL or MariaDB."""
    kind = request.param
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'source.db'}"
    else:
        url = request.getfixturevalue("pg_url" if kind == "postgresql" else "mariadb_url")
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, url))
    return url


# -- a gateway ---------------------------------------------------------------------------


DEMO_OWNERS = {
    "residents": "civil-affairs",
    "checkups": "health-commission",
    "complaints": "civil-affairs",
}

PRINCIPALS = [
    ("civil-affairs", "department", "civil-affairs", "department"),
    ("health-commission", "department", "health-commission", "department"),
    ("heping-committee", "app", "heping", "neighbourhood-committee"),
    ("guangming-eldercare", "app", "guangming", "elder-care"),
    ("jianshe-property", "app", "jianshe", "property"),
    ("district-auditor", "auditor", "district", "auditor"),
]


@dataclass
class Gateway:
    ctx: GatewayContext
    client: TestClient
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def get(self, who: str, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.auth(who), **kw)

    def post(self, who: str, path: str, body: Any = None, **kw: Any) -> Any:
        return self.client.post(path, json=body, headers=self.auth(who), **kw)

    def put(self, who: str, path: str, body: Any = None) -> Any:
        return self.client.put(path, json=body, headers=self.auth(who))

    # -- flows used by many tests ------------------------------------------------------

    def register_demo_dataset(self, name: str, url: str) -> str:
        """Register one of the demo datasets (with its demo policy) on ``url``."""
        spec = copy.deepcopy(next(d for d in DATASETS if d["name"] == name))
        owner = DEMO_OWNERS[name]
        source = f"src-{name}"
        if owner != "civil-affairs":  # every test URL is civil-affairs' database
            url = department_copy(self.ctx.settings, url, owner, str(spec["table"]))
        r = self.post(owner, "/v1/sources", {"name": source, "url": url})
        assert r.status_code == 201, r.text
        spec["source"] = source
        r = self.post(owner, "/v1/datasets", spec)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def approved_query(
        self,
        app: str,
        dataset_id: str,
        purpose: str,
        spec: dict[str, Any],
        approval: dict[str, Any] | None = None,
    ) -> str:
        r = self.post(
            app,
            "/v1/query-requests",
            {
                "dataset": dataset_id,
                "purpose": purpose,
                "justification": "test",
                "spec": spec,
            },
        )
        assert r.status_code == 201, r.text
        body = r.json()
        if body["status"] == "pending":
            owner = self.owner_of(dataset_id)
            a = self.post(owner, f"/v1/query-requests/{body['id']}/approve", approval or {})
            assert a.status_code == 200, a.text
        return str(body["id"])

    def owner_of(self, dataset_id: str) -> str:
        r = self.get("district-auditor", f"/v1/datasets/{dataset_id}")
        return str(r.json()["owner"])

    def run(self, app: str, query_id: str, params: dict[str, Any] | None = None) -> Any:
        return self.post(app, f"/v1/queries/{query_id}/run", {"params": params or {}})


_TWINS: list[tuple[str, URL]] = []  # (database, admin URL) made by department_copy


@pytest.fixture(scope="session", autouse=True)
def _drop_twin_databases() -> Iterator[None]:
    yield
    for database, base in _TWINS:
        engine = sa.create_engine(base, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            quoted = f'"{database}"' if base.get_backend_name() == "postgresql" else database
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted}"))
        engine.dispose()


def department_copy(settings: Settings, url: str, owner: str, table: str) -> str:
    """A copy of ``table`` in a database of ``owner``'s own (one database, one department).

    SQLite: a file in the owner's directory; PostgreSQL and MariaDB: a new database on the
    same server, dropped at the end of the session.
    """
    from gateway.catalog.source_paths import department_dir

    target = make_url(url)
    source_engine = sa.create_engine(target, poolclass=sa.NullPool)
    if target.get_backend_name() == "sqlite":
        directory = department_dir(settings, owner)
        directory.mkdir(parents=True, exist_ok=True)
        copy_url: URL = make_url(f"sqlite:///{directory / f'{secrets.token_hex(4)}.db'}")
    else:
        postgres = target.get_backend_name() == "postgresql"
        base = postgres_base() if postgres else mariadb_base()
        database = f"cdg_twin_{secrets.token_hex(6)}"
        admin = sa.create_engine(base, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{database}"' if postgres
                                 else f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4"))
        admin.dispose()
        _TWINS.append((database, base))
        copy_url = target.set(database=database)
        if postgres:
            copy_url = copy_url.difference_update_query(["options"])
    metadata = sa.MetaData()
    copied = sa.Table(table, metadata, autoload_with=source_engine)
    copy_engine = sa.create_engine(copy_url, poolclass=sa.NullPool)
    with source_engine.connect() as read, copy_engine.begin() as write:
        copied.schema = None
        metadata.create_all(write)
        rows = [dict(r._mapping) for r in read.execute(sa.select(copied))]
        if rows:
            write.execute(copied.insert(), rows)
    source_engine.dispose()
    copy_engine.dispose()
    return copy_url.render_as_string(hide_password=False)


def make_settings(home: Path, store_url: str | None = None, **extra: Any) -> Settings:
    from gateway.keys import ensure_keys

    # Test sources live in pytest's temporary directories, which the tests' operator gives
    # to civil-affairs; every other department has its default directory in the home.
    extra.setdefault("source_dirs", f"civil-affairs={tempfile.gettempdir()}")
    s = load_settings(environ={}, home=home, database_url=store_url, **extra)
    home.mkdir(parents=True, exist_ok=True)
    ensure_keys(s)
    upgrade(s.store_url)
    return s


def open_gateway(settings: Settings) -> Gateway:
    ctx = GatewayContext.open(settings)
    client = TestClient(create_app(ctx=ctx))
    gw = Gateway(ctx=ctx, client=client)
    with ctx.store.transaction() as session:
        for name, kind, domain, role in PRINCIPALS:
            _, key = add_principal(session, name=name, kind=kind, domain=domain, role=role)
            gw.keys[name] = key
    return gw


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    """A gateway on an SQLite store, with the test principals."""
    gw = open_gateway(make_settings(tmp_path / "home"))
    yield gw
    gw.client.close()
    gw.ctx.close()


# -- shared by the bad-input and tenant-scope tests ----------------------------------------
# Module-scoped worlds (one gateway + one source per module and source kind) keep the large
# parametrized tables fast; every case checks that it left the world as it found it.


@contextmanager
def fresh_source_database(kind: str, directory: Path) -> Iterator[str]:
    """An empty database of ``kind`` (sqlite / postgresql / mariadb), dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'source.db'}"
        return
    base = postgres_base() if kind == "postgresql" else mariadb_base()
    admin = admin_engine("PostgreSQL" if kind == "postgresql" else "MariaDB", base)
    name = f"cdg_test_{secrets.token_hex(6)}"
    create, drop = (
        (f'CREATE SCHEMA "{name}"', f'DROP SCHEMA "{name}" CASCADE')
        if kind == "postgresql"
        else (f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4", f"DROP DATABASE `{name}`")
    )
    with admin.begin() as conn:
        conn.execute(sa.text(create))
    try:
        url = (
            base.update_query_dict({"options": f"-csearch_path={name}"})
            if kind == "postgresql"
            else base.set(database=name)
        )
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(drop))
        admin.dispose()


@pytest.fixture(scope="module", params=SOURCE_KINDS)
def module_source_url(
    request: pytest.FixtureRequest, small_community: Community,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """Like ``source_url`` (the three demo tables), shared by the tests of one module."""
    with fresh_source_database(request.param, tmp_path_factory.mktemp("source")) as url:
        write_sources(small_community, dict.fromkeys(SOURCE_TABLES, url))
        yield url


Snapshot = dict[str, list[tuple[Any, ...]]]

# The access log and what is derived from it (Merkle tree nodes, the log size, signed
# checkpoints); appending an entry for a logged denial changes these, so ``leaves_unchanged``
# checks them on its own: entries, nodes and checkpoints may only be added.
APPEND_ONLY_LOG_TABLES = ("audit_nodes", "audit_checkpoints")
LOG_TABLES = frozenset({"audit_entries", "audit_sequencer", *APPEND_ONLY_LOG_TABLES})
# engine -> (table name -> "SELECT every row in a stable order"), reflected once per store
_SELECTS: weakref.WeakKeyDictionary[sa.Engine, dict[str, str]] = weakref.WeakKeyDictionary()


def _store_selects(engine: sa.Engine) -> dict[str, str]:
    selects = _SELECTS.get(engine)
    if selects is None:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        quote = engine.dialect.identifier_preparer.quote
        selects = {}
        for name, table in sorted(metadata.tables.items()):
            order = list(table.primary_key.columns) or list(table.c)
            selects[name] = (f"SELECT * FROM {quote(name)} ORDER BY "
                             + ", ".join(quote(c.name) for c in order))
        _SELECTS[engine] = selects
    return selects


def store_snapshot(gw: Gateway) -> Snapshot:
    """Every row of every gateway-store table except the access log, in a stable order."""
    engine = gw.ctx.store.engine
    selects = _store_selects(engine)
    with engine.connect() as conn:
        return {
            name: [tuple(r) for r in conn.exec_driver_sql(sql)]
            for name, sql in selects.items()
            if name not in LOG_TABLES
        }


def audit_snapshot(gw: Gateway) -> list[tuple[Any, ...]]:
    """The access log: (index, leaf_hash, entry, decision) in index order."""
    with gw.ctx.store.engine.connect() as conn:
        rows = conn.execute(sa.text(
            'SELECT "index", leaf_hash, entry, decision FROM audit_entries ORDER BY "index"'
        )).all()
    return [tuple(r) for r in rows]


def log_tree_snapshot(gw: Gateway) -> set[tuple[Any, ...]]:
    """Rows of the log's tree-node and checkpoint tables (only ever added), where they exist."""
    engine = gw.ctx.store.engine
    selects = _store_selects(engine)
    with engine.connect() as conn:
        return {
            (table, *r)
            for table in APPEND_ONLY_LOG_TABLES if table in selects
            for r in conn.exec_driver_sql(selects[table])
        }


def _log_heads(gw: Gateway) -> list[tuple[Any, ...]]:
    """(index, leaf hash, decision) of every entry: the leaf hash covers the entry's bytes."""
    with gw.ctx.store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            'SELECT "index", leaf_hash, decision FROM audit_entries ORDER BY "index"'
        ))]


_SQLITE_SOURCES: dict[str, sa.Engine] = {}  # checked around every case: keep them open


def source_snapshot(url: str) -> dict[str, tuple[int, str]]:
    """Row count and a SHA-256 of all rows, per demo table.

    On SQLite (checked around thousands of cases) the checksum is the database file's:
    it covers every row of every table and is much cheaper than reading them.
    """
    sqlite = url.startswith("sqlite:///")
    if sqlite:
        engine = _SQLITE_SOURCES.get(url) or _SQLITE_SOURCES.setdefault(url, sa.create_engine(url))
        file_hash = hashlib.sha256(Path(url.removeprefix("sqlite:///")).read_bytes()).hexdigest()
    else:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
    out: dict[str, tuple[int, str]] = {}
    try:
        with engine.connect() as conn:
            for table in sorted(SOURCE_TABLES.values()):
                if sqlite:
                    count = conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
                    out[table] = (count, file_hash)
                    continue
                result = conn.execute(sa.text(f"SELECT * FROM {table}"))
                rows = sorted(repr(tuple(r)) for r in result)
                out[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    finally:
        if not sqlite:
            engine.dispose()
    return out


@contextmanager
def leaves_unchanged(gw: Gateway, source: str | None) -> Iterator[None]:
    """Assert the block changed no store row and no source row, and only logged denials."""
    store, audit, tree = store_snapshot(gw), _log_heads(gw), log_tree_snapshot(gw)
    before_source = source_snapshot(source) if source else None
    yield
    assert store_snapshot(gw) == store, "the gateway store changed"
    assert tree <= log_tree_snapshot(gw), "stored access-log tree nodes or checkpoints changed"
    after = _log_heads(gw)
    assert after[: len(audit)] == audit, "existing access-log entries changed"
    added = after[len(audit):]
    assert all(row[2] == "denied" for row in added), f"non-denial entries logged: {added}"
    if source:
        assert source_snapshot(source) == before_source, "the source data changed"


def raw_resident_values(community: Community) -> frozenset[str]:
    """Resident ID numbers and mobile numbers as stored in the source."""
    values = {str(r["resident_id"]) for r in community.residents}
    values |= {str(r["mobile"]) for r in community.residents if r.get("mobile")}
    return frozenset(values)


ERROR_KEYS = {"error", "detail", "request_id"}
ECHO_MARKERS = ("drop table", "or 1=1", "union select", "traceback", 'file "', "select *",
                "sqlalchemy.", "psycopg.", "pymysql.", "sqlite3.", "background on this error")


def assert_error(
    response: Any, status: int, *, raw: frozenset[str] = frozenset(), echoed: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The documented error: status, the one shape, no echo of input, SQL, traces or data."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and ERROR_KEYS <= set(body) <= ERROR_KEYS | {"reason"}, body
    assert all(isinstance(body[k], str) for k in ERROR_KEYS), body
    assert body["request_id"] and body["request_id"] == response.headers["x-request-id"]
    assert body["detail"].strip(), body
    if status == 403:
        assert body.get("reason"), body  # a stable reason code, and words for people
        assert any(c.isalpha() for c in body["detail"]) and len(body["detail"]) >= 10, body
    text = response.text.lower()
    for marker in ECHO_MARKERS:
        assert marker not in text, (marker, response.text[:500])
    for value in echoed:
        if len(value) >= 3:
            assert value.lower() not in text, (value[:80], response.text[:500])
    if raw and re.search(r"\d{11}", response.text):  # every ID number and mobile has 11 digits
        assert not any(v in response.text for v in raw), "a raw resident value reached the response"
    return body
