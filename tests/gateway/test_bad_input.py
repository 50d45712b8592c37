"""Bad input: every refusal is the documented 4xx, in the one error shape, and harmless.

"Harmless" is checked, not assumed: around every refused call the gateway store
(every table but the access log and what is derived from it: tree nodes, size,
checkpoints) and the source tables are snapshotted, and the access log may only
have grown by entries whose decision is "denied" (denials are logged on purpose).
No answer may echo SQL from the input, a stack trace, or a raw resident value
(ID numbers, mobiles) of the source.

Free text (justifications, notes, reasons, descriptions, legal bases) and string
values compared with a column may legitimately hold SQL-looking text: there it is
accepted, stored verbatim and matches nothing (see the test over every source).

Most tables run on one module-wide world (SQLite store and source) because every
case must leave it unchanged anyway; the cases that reach a department database
also run over ``source_url`` (SQLite, PostgreSQL, MariaDB), and the values that
only PostgreSQL refuses (NUL characters) also run on a PostgreSQL store.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.auth.service import add_principal, revoke_principal
from gateway.demo.catalog import DATASETS
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from gateway.requests.models import QueryRequest
from tests.conftest import (
    Gateway,
    Snapshot,
    assert_error,
    audit_snapshot,
    leaves_unchanged,
    make_settings,
    open_gateway,
    raw_resident_values,
    source_snapshot,
    store_snapshot,
)

HOME_VISIT = "public-service.elderly-care.home-visit"
PLANNING = "public-service.community-planning"

ROWS_SPEC: dict[str, Any] = {
    "select": ["resident_id", "name", "age", "community", "building", "room"],
    "filters": [
        {"column": "age", "op": ">=", "value": {"param": "min_age"}},
        {"column": "room", "op": "prefix", "value": {"param": "room"}},
        {"column": "building", "op": "in", "value": {"param": "blds"}},
        {"column": "lives_alone", "op": "=", "value": 1},
    ],
    "order_by": [{"column": "age", "desc": True}],
    "limit": 100,
    "params": {
        "min_age": {"type": "integer", "default": 80},
        "room": {"type": "string", "default": ""},
        "blds": {"type": "integer", "many": True, "default": list(range(1, 21))},
    },
}
RUN_PARAMS: dict[str, Any] = {"min_age": 85, "room": "1", "blds": [1, 2, 3]}
AGG_SPEC: dict[str, Any] = {
    "aggregates": [{"fn": "count", "as": "n"}, {"fn": "mean", "column": "age", "as": "mean_age"}],
    "group_by": ["gender"],
    "filters": [{"column": "age", "op": ">=", "value": 60}],
    "order_by": [{"column": "n", "desc": True}],
}
RESIDENTS = next(d for d in DATASETS if d["name"] == "residents")


# -- the world the tables run against -------------------------------------------------------


@dataclass
class World:
    gw: Gateway
    source: str
    raw: frozenset[str]
    residents: str
    checkups: str
    q: dict[str, str]  # role of a query in these tests -> its id
    revoked_key: str

    def send(
        self,
        who: str | None,
        method: str,
        path: str,
        body: Any = None,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """One request; the body goes out as ASCII JSON so lone surrogates and NULs survive."""
        sent = self.gw.auth(who) if who else {}
        sent.update(headers or {})
        if content is None and body is not None:
            content = json.dumps(body).encode("ascii")
            sent.setdefault("content-type", "application/json")
        return self.gw.client.request(method, path, content=content, headers=sent, params=params)

    def base(self, endpoint: str) -> tuple[str, str, str, Any]:
        """(caller, method, path, body) of a valid request to ``endpoint``."""
        dataset = copy.deepcopy(RESIDENTS)
        dataset.update(name="residents-copy", source="src-residents")
        dataset["policy"]["purposes"][0]["grantees"][0]["domains"] = ["heping", "guangming"]
        bases: dict[str, tuple[str, str, str, Any]] = {
            "source": (
                "civil-affairs",
                "POST",
                "/v1/sources",
                {"name": "src-extra", "url": self.source},
            ),
            "dataset": ("civil-affairs", "POST", "/v1/datasets", dataset),
            "policy": (
                "civil-affairs",
                "PUT",
                f"/v1/datasets/{self.residents}/policy",
                {"policy": copy.deepcopy(RESIDENTS["policy"])},
            ),
            "request": (
                "heping-committee",
                "POST",
                "/v1/query-requests",
                {
                    "dataset": self.residents,
                    "purpose": HOME_VISIT,
                    "justification": "visits",
                    "spec": copy.deepcopy(ROWS_SPEC),
                    "example_params": dict(RUN_PARAMS),
                },
            ),
            "request_agg": (
                "heping-committee",
                "POST",
                "/v1/query-requests",
                {
                    "dataset": self.residents,
                    "purpose": PLANNING,
                    "justification": "planning",
                    "spec": copy.deepcopy(AGG_SPEC),
                },
            ),
            "approve": (
                "civil-affairs",
                "POST",
                f"/v1/query-requests/{self.q['pending']}/approve",
                {"expires_at": "2099-01-01T00:00:00Z", "max_runs": 5, "row_cap": 100, "note": "ok"},
            ),
            "reject": (
                "civil-affairs",
                "POST",
                f"/v1/query-requests/{self.q['pending_b']}/reject",
                {"reason": "not now"},
            ),
            "run": (
                "heping-committee",
                "POST",
                f"/v1/queries/{self.q['rows']}/run",
                {"params": dict(RUN_PARAMS)},
            ),
            "revoke": (
                "civil-affairs",
                "POST",
                f"/v1/query-requests/{self.q['rows']}/revoke",
                {"reason": "done"},
            ),
        }
        return bases[endpoint]


def build_world(gw: Gateway, source: str, community: Community) -> World:
    residents = gw.register_demo_dataset("residents", source)
    checkups = gw.register_demo_dataset("checkups", source)
    q: dict[str, str] = {}

    def file(app: str, spec: dict[str, Any], purpose: str = HOME_VISIT) -> str:
        r = gw.post(
            app,
            "/v1/query-requests",
            {
                "dataset": residents,
                "purpose": purpose,
                "justification": "test",
                "spec": spec,
            },
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def decide(qid: str, action: str, body: dict[str, Any]) -> None:
        r = gw.post("civil-affairs", f"/v1/query-requests/{qid}/{action}", body)
        assert r.status_code == 200, r.text

    q["rows"] = gw.approved_query("heping-committee", residents, HOME_VISIT, ROWS_SPEC)
    q["agg"] = gw.approved_query("heping-committee", residents, PLANNING, AGG_SPEC)
    q["other"] = gw.approved_query("guangming-eldercare", residents, HOME_VISIT, ROWS_SPEC)
    q["pending"] = file("heping-committee", ROWS_SPEC)
    q["pending_b"] = file("heping-committee", ROWS_SPEC)
    q["rejected"] = file("heping-committee", ROWS_SPEC)
    decide(q["rejected"], "reject", {"reason": "no"})
    q["revoked"] = gw.approved_query("heping-committee", residents, HOME_VISIT, ROWS_SPEC)
    decide(q["revoked"], "revoke", {"reason": "no longer needed"})
    q["expired"] = gw.approved_query(
        "heping-committee", residents, HOME_VISIT, ROWS_SPEC, {"expires_at": "2099-01-01T00:00:00Z"}
    )
    with gw.ctx.store.transaction() as session:  # test setup: move the expiry into the past
        session.execute(
            sa.update(QueryRequest)
            .where(QueryRequest.id == q["expired"])
            .values(expires_at=datetime.now(UTC) - timedelta(hours=1))
        )
    q["used"] = gw.approved_query(
        "heping-committee", residents, HOME_VISIT, ROWS_SPEC, {"max_runs": 1}
    )
    assert gw.run("heping-committee", q["used"], RUN_PARAMS).status_code == 200
    with gw.ctx.store.transaction() as session:
        _, key = add_principal(
            session, name="retired-app", kind="app", domain="heping", role="neighbourhood-committee"
        )
    with gw.ctx.store.transaction() as session:
        revoke_principal(session, "retired-app")
    return World(
        gw=gw,
        source=source,
        raw=raw_resident_values(community),
        residents=residents,
        checkups=checkups,
        q=q,
        revoked_key=key,
    )


class Worlds:
    """One world for the module, rebuilt after any test that changed it.

    A test that changes state on purpose (or a failing case that was wrongly accepted)
    must not leak into the next case: the store is compared with the world's first
    snapshot after every test.
    """

    def __init__(self, root: Path, community: Community) -> None:
        self.root, self.community = root, community
        self.current: World | None = None
        self.baseline: Snapshot = {}
        self.built = 0

    def get(self) -> World:
        if self.current is None:
            self.built += 1
            home = self.root / f"world-{self.built}"
            source = f"sqlite:///{home / 'source.db'}"
            home.mkdir()
            write_sources(self.community, dict.fromkeys(SOURCE_TABLES, source))
            gw = open_gateway(make_settings(home / "gateway"))
            self.current = build_world(gw, source, self.community)
            self.baseline = store_snapshot(gw)
        return self.current

    def release(self) -> None:
        if self.current is not None and store_snapshot(self.current.gw) != self.baseline:
            self.close()

    def close(self) -> None:
        if self.current is not None:
            self.current.gw.client.close()
            self.current.gw.ctx.close()
            self.current = None


@pytest.fixture(scope="module")
def worlds(
    tmp_path_factory: pytest.TempPathFactory, small_community: Community
) -> Iterator[Worlds]:
    w = Worlds(tmp_path_factory.mktemp("bad-input"), small_community)
    yield w
    w.close()


@pytest.fixture
def world(worlds: Worlds) -> Iterator[World]:
    yield worlds.get()
    worlds.release()


def refused(w: World, response: Any, status: int, echoed: Any = None) -> dict[str, Any]:
    texts = tuple(v for v in _strings(echoed))
    return assert_error(response, status, raw=w.raw, echoed=texts)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_base_requests_are_valid(tmp_path: Path, small_community: Community) -> None:
    """Each table below changes one field of these bodies: unchanged, they succeed."""
    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    gw = open_gateway(make_settings(tmp_path / "home"))
    try:
        w = build_world(gw, source, small_community)
        for endpoint in (
            "source",
            "dataset",
            "policy",
            "request",
            "request_agg",
            "approve",
            "reject",
            "run",
            "revoke",
        ):
            r = w.send(*w.base(endpoint))
            assert r.status_code in (200, 201), (endpoint, r.text)
    finally:
        gw.client.close()
        gw.ctx.close()


# -- every string field of every body, with hostile values ----------------------------------


@dataclass(frozen=True)
class Key:
    """The last path step renames this dictionary key to the payload."""

    name: str


PAYLOADS: dict[str, Any] = {
    "sql_drop": "'; DROP TABLE residents; --",
    "sql_or": '" OR 1=1 --',
    "sql_union": "x' UNION SELECT resident_id, mobile FROM residents --",
    "quotes": 'O\'Brien "Bobby" `tbl` \\ %_',
    "ident_newline": "age\n",
    "unicode": "社区居民\u202e\u200b😀",
    "nul": "heping\x00",
    "surrogate": "\ud800",
    "long": "A" * 100_000,
    "nested": {"$ne": None, "or": [{"x": "'; DROP TABLE residents; --"}]},
    "list": ["'; DROP TABLE residents; --"],
    "number": 12345,
    "null": None,
}
# Valid text: accepted (and inert) wherever free text or a string value is allowed.
TEXTUAL = {"sql_drop", "sql_or", "sql_union", "quotes", "ident_newline", "unicode"}

P0 = ("policy", "purposes", 0)
FIELDS: list[tuple[str, tuple[Any, ...], str]] = [
    ("source", ("name",), "strict"),
    ("source", ("url",), "strict"),
    ("dataset", ("name",), "strict"),
    ("dataset", ("source",), "strict"),
    ("dataset", ("table",), "strict"),
    ("dataset", ("description",), "text"),
    ("dataset", ("privacy_unit",), "strict"),
    ("dataset", ("columns", 0, "name"), "strict"),
    ("dataset", ("columns", 0, "type"), "strict"),
    ("dataset", ("columns", 0, "classification"), "strict"),
    ("dataset", ("columns", 0, "description"), "text"),
    ("dataset", ("policy", "retention"), "text"),
    ("dataset", (*P0, "purpose"), "strict"),
    ("dataset", (*P0, "legal_basis"), "text"),
    ("dataset", (*P0, "grantees", 0, "role"), "strict"),
    ("dataset", (*P0, "grantees", 0, "domains", 0), "strict"),
    ("dataset", (*P0, "access"), "strict"),
    ("dataset", (*P0, "approval"), "strict"),
    ("dataset", (*P0, "columns", Key("age")), "key"),
    ("dataset", (*P0, "columns", "name", "treatment"), "strict"),
    ("dataset", (*P0, "columns", "name", "params", "kind"), "strict"),
    ("dataset", (*P0, "columns", "name", "params", Key("kind")), "key"),
    ("dataset", (*P0, "row_scope", 0, "column"), "strict"),
    ("dataset", (*P0, "row_scope", 0, "op"), "strict"),
    ("dataset", (*P0, "row_scope", 0, "principal"), "strict"),
    ("dataset", (*P0, "row_scope", 1, "value"), "int_value"),
    ("policy", ("policy", "purposes", 0, "purpose"), "strict"),
    ("policy", ("policy", "purposes", 0, "legal_basis"), "text"),
    ("policy", ("policy", "purposes", 0, "row_scope", 1, "value"), "int_value"),
    ("request", ("dataset",), "id"),
    ("request", ("purpose",), "strict"),
    ("request", ("justification",), "text"),
    ("request", ("spec", "select", 0), "strict"),
    ("request", ("spec", "filters", 0, "column"), "strict"),
    ("request", ("spec", "filters", 0, "op"), "strict"),
    ("request", ("spec", "filters", 0, "value"), "int_value"),
    ("request", ("spec", "filters", 0, "value", "param"), "strict"),
    ("request", ("spec", "filters", 1, "value"), "str_value"),
    ("request", ("spec", "filters", 3, "value"), "int_value"),
    ("request", ("spec", "order_by", 0, "column"), "strict"),
    ("request", ("spec", "params", Key("min_age")), "key"),
    ("request", ("spec", "params", "min_age", "type"), "strict"),
    ("request", ("spec", "params", "min_age", "default"), "int_default"),
    ("request", ("spec", "params", "room", "default"), "str_default"),
    ("request", ("example_params", "min_age"), "int_value"),
    ("request", ("example_params", "room"), "str_value"),
    ("request", ("example_params", Key("min_age")), "key"),
    ("request_agg", ("spec", "aggregates", 0, "fn"), "strict"),
    ("request_agg", ("spec", "aggregates", 1, "column"), "strict"),
    ("request_agg", ("spec", "aggregates", 0, "as"), "strict"),
    ("request_agg", ("spec", "group_by", 0), "strict"),
    ("approve", ("expires_at",), "datetime"),
    ("approve", ("note",), "text"),
    ("reject", ("reason",), "text"),
    ("revoke", ("reason",), "text"),
    ("run", ("params", "min_age"), "int_value"),
    ("run", ("params", "room"), "str_value"),
    ("run", ("params", "blds"), "int_list"),
    ("run", ("params", Key("min_age")), "key"),
]


def expected_status(kind: str, name: str) -> int | None:
    """The documented answer for payload ``name`` in a field of ``kind``; None: valid input."""
    payload = PAYLOADS[name]
    if kind == "strict" or kind == "int_list":
        return 422
    if kind == "key":
        return 422 if isinstance(payload, str) else None  # JSON keys are strings
    if kind in ("text", "str_value"):
        return None if name in TEXTUAL else 422
    if kind == "id":  # a well-formed but unknown dataset id
        return 404 if name in TEXTUAL and len(payload) <= 32 else 422
    if kind == "int_value":
        return None if name == "number" else 422
    if kind == "int_default":  # null: no default
        return None if name in ("number", "null") else 422
    if kind == "str_default":
        return None if name in TEXTUAL or name == "null" else 422
    if kind == "datetime":
        return None if name == "null" else 422
    raise AssertionError(kind)


def _path_id(path: tuple[Any, ...]) -> str:
    return ".".join(f"<{p.name}>" if isinstance(p, Key) else str(p) for p in path)


MATRIX = [
    pytest.param(endpoint, path, name, status, id=f"{endpoint}:{_path_id(path)}:{name}")
    for endpoint, path, kind in FIELDS
    for name in PAYLOADS
    if (status := expected_status(kind, name)) is not None
]


def mutate(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(body)
    parent = out
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if isinstance(last, Key):
        parent[value] = parent.pop(last.name)
    else:
        parent[last] = value
    return out


@pytest.mark.parametrize(("endpoint", "path", "payload", "status"), MATRIX)
def test_hostile_value_in_every_string_field(
    world: World, endpoint: str, path: tuple[Any, ...], payload: str, status: int
) -> None:
    who, method, url, base = world.base(endpoint)
    value = PAYLOADS[payload]
    with leaves_unchanged(world.gw, world.source):
        r = world.send(who, method, url, mutate(base, path, value))
    refused(world, r, status, echoed=value)


# -- malformed bodies --------------------------------------------------------------------

MALFORMED: list[tuple[str, bytes, str]] = [
    ("truncated", b'{"params": {"min_age": 80}', "application/json"),
    ("brace", b"{", "application/json"),
    ("not-json", b"not json at all", "application/json"),
    ("sql", b"'; DROP TABLE residents; --", "application/json"),
    ("empty", b"", "application/json"),
    ("array", b"[]", "application/json"),
    ("null", b"null", "application/json"),
    ("string", b'"SELECT * FROM residents"', "application/json"),
    ("number", b"42", "application/json"),
    ("binary", b"\xff\xfe\x00\x01", "application/json"),
    ("single-quotes", b"{'params': {}}", "application/json"),
    ("trailing-garbage", b'{"params": {}} DROP TABLE residents', "application/json"),
    ("deep-nesting", b"[" * 100_000, "application/json"),
    ("deep-valid", b'{"params": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "application/json"),
    ("nan", b'{"params": {"min_age": NaN}, "reason": NaN, "name": NaN}', "application/json"),
    ("text-plain", b'{"params": {}}', "text/plain"),
    ("form", b"params=1&reason=x", "application/x-www-form-urlencoded"),
]
BODY_ENDPOINTS = ["source", "dataset", "request", "approve", "run"]


@pytest.mark.parametrize(
    ("content", "ctype", "endpoint"),
    [
        pytest.param(c, t, e, id=f"{i}-{e}")
        for e in BODY_ENDPOINTS
        for i, c, t in MALFORMED
        # A run may be sent with no body at all (tests/gateway/runs/test_run_body.py).
        if not (e == "run" and i == "empty")
    ],
)
def test_malformed_body(world: World, endpoint: str, content: bytes, ctype: str) -> None:
    who, method, url, _ = world.base(endpoint)
    with leaves_unchanged(world.gw, world.source):
        r = world.send(who, method, url, content=content, headers={"content-type": ctype})
    refused(world, r, 422)


# -- authentication ----------------------------------------------------------------------

AUTH_HEADERS: list[tuple[str, str | None]] = [
    ("missing", None),
    ("empty", ""),
    ("scheme-only", "Bearer"),
    ("scheme-and-space", "Bearer "),
    ("basic", "Basic aGVwaW5nOnNlY3JldA=="),
    ("garbage", "Bearer cdg_garbage"),
    ("sql", "Bearer ' OR 1=1 --"),
    ("sql-after-prefix", "Bearer cdg_' OR '1'='1"),
    ("huge", "Bearer cdg_" + "A" * 20_000),
    ("other-scheme", "Token {key}"),
    ("no-scheme", "{key}"),
    ("extra-char", "Bearer {key}x"),
    ("truncated", "Bearer {key_short}"),
    ("case-flipped", "Bearer {key_flipped}"),
    ("two-keys", "Bearer {key} {key}"),
    ("revoked-principal", "Bearer {revoked}"),
]
AUTH_ENDPOINTS: list[tuple[str, str, str | None]] = [
    ("GET", "/v1/principals/me", None),
    ("GET", "/v1/datasets/{residents}", None),
    ("GET", "/v1/audit/entries", None),
    ("POST", "", "source"),
    ("POST", "", "request"),
    ("POST", "", "approve"),
    ("POST", "", "run"),
]


@pytest.mark.parametrize(
    ("method", "path", "endpoint"),
    AUTH_ENDPOINTS,
    ids=[f"{m} {p or e}" for m, p, e in AUTH_ENDPOINTS],
)
@pytest.mark.parametrize("header", [h for _, h in AUTH_HEADERS], ids=[n for n, _ in AUTH_HEADERS])
def test_missing_or_bad_authorization(
    world: World, method: str, path: str, endpoint: str | None, header: str | None
) -> None:
    key = world.gw.keys["heping-committee"]
    body = None
    if endpoint is not None:
        _, method, path, body = world.base(endpoint)
    path = path.format(residents=world.residents)
    headers = (
        {}
        if header is None
        else {
            "authorization": header.format(
                key=key,
                key_short=key[:-1],
                key_flipped=key[:4] + key[4:].swapcase(),
                revoked=world.revoked_key,
            )
        }
    )
    with leaves_unchanged(world.gw, world.source):
        r = world.send(None, method, path, body, headers=headers)
    b = refused(world, r, 401, echoed=key)
    assert b["error"] == "Unauthenticated"


# -- the wrong principal for the endpoint, and other principals' things ------------------

WRONG_PRINCIPAL: list[tuple[str, str, str, int, str | None]] = [
    # (caller, base endpoint or "METHOD path", body field=value, status, reason code)
    ("heping-committee", "source", "", 403, "not_a_department"),
    ("district-auditor", "source", "", 403, "not_a_department"),
    ("heping-committee", "GET /v1/sources", "", 403, "not_a_department"),
    ("heping-committee", "dataset", "", 403, "not_a_department"),
    ("district-auditor", "dataset", "", 403, "not_a_department"),
    ("heping-committee", "policy", "", 403, "not_a_department"),
    ("district-auditor", "policy", "", 403, "not_a_department"),
    ("health-commission", "policy", "", 404, None),
    ("civil-affairs", "dataset", "source=src-checkups", 404, None),
    ("civil-affairs", "request", "", 403, "not_an_app"),
    ("district-auditor", "request", "", 403, "not_an_app"),
    ("heping-committee", "approve", "", 403, "not_a_department"),
    ("guangming-eldercare", "reject", "", 403, "not_a_department"),
    ("district-auditor", "revoke", "", 403, "not_a_department"),
    ("health-commission", "approve", "", 404, None),
    ("health-commission", "revoke", "", 404, None),
    ("civil-affairs", "run", "", 404, None),
    ("district-auditor", "run", "", 404, None),
    ("guangming-eldercare", "run", "", 404, None),  # another app's query
    ("heping-committee", "POST /v1/queries/{other}/run", "", 404, None),
    ("heping-committee", "GET /v1/query-requests/{other}", "", 404, None),
    ("jianshe-property", "GET /v1/datasets/{residents}", "", 404, None),
    ("jianshe-property", "request", "", 404, None),
    ("heping-committee", "request", "dataset={checkups}", 404, None),
    (
        "guangming-eldercare",
        "request",
        "purpose=property.complaint-handling",
        403,
        "purpose_not_granted",
    ),
    ("heping-committee", "request", "purpose=public-service", 403, "purpose_not_granted"),
    ("heping-committee", "request", f"purpose={PLANNING}", 403, "aggregate_only"),
]


@pytest.mark.parametrize(
    ("who", "target", "patch", "status", "reason"),
    [pytest.param(w, t, p, s, r, id=f"{w}-{t}-{p}") for w, t, p, s, r in WRONG_PRINCIPAL],
)
def test_wrong_principal(
    world: World, who: str, target: str, patch: str, status: int, reason: str | None
) -> None:
    ids = {"residents": world.residents, "checkups": world.checkups, **world.q}
    if " " in target:
        method, path = target.split(" ", 1)
        body: Any = {"params": {}} if method == "POST" else None
    else:
        _, method, path, body = world.base(target)
    path = path.format(**ids)
    if patch:
        field, value = patch.split("=", 1)
        body[field] = value.format(**ids)
    before = len(audit_snapshot(world.gw))
    with leaves_unchanged(world.gw, world.source):
        r = world.send(who, method, path, body)
    b = refused(world, r, status)
    assert b.get("reason") == reason
    if reason and reason not in ("not_a_department", "not_an_app"):
        # A policy denial is logged, with the reason code and without the request's data.
        logged = audit_snapshot(world.gw)[before:]
        assert len(logged) == 1 and logged[0][3] == "denied"
        entry = json.loads(logged[0][2])
        assert entry["event"] == "request.denied"
        assert entry["decision"] == {"allowed": False, "reason_code": reason}


def test_policy_denials_name_the_reason_in_both_languages(world: World) -> None:
    _, method, path, body = world.base("request")
    body["spec"]["select"].append("address")
    with leaves_unchanged(world.gw, world.source):
        r = world.send("heping-committee", method, path, body)
    b = refused(world, r, 403)
    assert b["reason"] == "column_withheld"
    zh, _, en = b["detail"].partition(" / ")
    assert "address" in zh and "address" in en and "withheld" in en


# -- unknown ids and paths ------------------------------------------------------------------

UNKNOWN_IDS = [
    "qr_00000000000000000000",
    "ds_nope",
    "' OR '1'='1",
    "'; DROP TABLE residents; --",
    "x" * 5_000,
    "社区",
    "%00",
    "a\\b",
    "..",
    "qr_%27%20OR%201%3D1",
]


@pytest.mark.parametrize("ident", UNKNOWN_IDS)
@pytest.mark.parametrize(
    ("who", "method", "template"),
    [
        ("heping-committee", "GET", "/v1/datasets/{}"),
        ("civil-affairs", "PUT", "/v1/datasets/{}/policy"),
        ("heping-committee", "GET", "/v1/query-requests/{}"),
        ("civil-affairs", "POST", "/v1/query-requests/{}/approve"),
        ("civil-affairs", "POST", "/v1/query-requests/{}/reject"),
        ("civil-affairs", "POST", "/v1/query-requests/{}/revoke"),
        ("heping-committee", "POST", "/v1/queries/{}/run"),
    ],
)
def test_unknown_ids(world: World, who: str, method: str, template: str, ident: str) -> None:
    bodies = {
        "policy": {"policy": RESIDENTS["policy"]},
        "approve": {},
        "reject": {"reason": "x"},
        "revoke": {"reason": "x"},
        "run": {"params": {}},
    }
    body = next((b for k, b in bodies.items() if template.endswith(k)), None)
    with leaves_unchanged(world.gw, world.source):
        r = world.send(who, method, template.format(ident), body)
    refused(world, r, 404, echoed=ident)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/queries/{rows}/run", 405),
        ("DELETE", "/v1/datasets/{residents}", 405),
        ("GET", "/v1/queries/{rows}/run/..%2F..%2Faudit", 404),
        ("GET", "/v1/nope", 404),
        ("POST", "/v1/query-requests/{rows}/approve/extra", 404),
    ],
)
def test_unknown_paths_and_methods(world: World, method: str, path: str, status: int) -> None:
    path = path.format(residents=world.residents, **world.q)
    with leaves_unchanged(world.gw, world.source):
        r = world.send("civil-affairs", method, path)
    refused(world, r, status)


# -- wrong state ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "query"),
    [
        ("approve", "rows"),
        ("approve", "rejected"),
        ("approve", "revoked"),
        ("approve", "expired"),
        ("reject", "rows"),
        ("reject", "rejected"),
        ("reject", "revoked"),
        ("reject", "expired"),
        ("revoke", "pending"),
        ("revoke", "rejected"),
        ("revoke", "revoked"),
    ],
)
def test_decision_in_the_wrong_state_is_a_conflict(world: World, action: str, query: str) -> None:
    body = {} if action == "approve" else {"reason": "'; DROP TABLE query_requests; --"}
    with leaves_unchanged(world.gw, world.source):
        r = world.send(
            "civil-affairs", "POST", f"/v1/query-requests/{world.q[query]}/{action}", body
        )
    b = refused(world, r, 409, echoed=body.get("reason"))
    assert b["error"] == "Conflict"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("pending", "query_pending"),
        ("rejected", "query_rejected"),
        ("revoked", "query_revoked"),
        ("expired", "query_expired"),
        ("used", "run_quota_used"),
    ],
)
def test_running_a_query_that_may_not_run(world: World, query: str, reason: str) -> None:
    before = len(audit_snapshot(world.gw))
    with leaves_unchanged(world.gw, world.source):
        r = world.send(
            "heping-committee", "POST", f"/v1/queries/{world.q[query]}/run", {"params": RUN_PARAMS}
        )
    b = refused(world, r, 403)
    assert b["reason"] == reason
    [entry] = audit_snapshot(world.gw)[before:]
    assert json.loads(entry[2])["decision"] == {"allowed": False, "reason_code": reason}


def test_expiry_by_waiting(world: World) -> None:
    gw = world.gw
    expires = datetime.now(UTC) + timedelta(seconds=1)
    qid = gw.approved_query(
        "heping-committee",
        world.residents,
        HOME_VISIT,
        ROWS_SPEC,
        {"expires_at": expires.isoformat()},
    )
    assert gw.run("heping-committee", qid, RUN_PARAMS).status_code == 200
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.05)
    with leaves_unchanged(gw, world.source):
        r = gw.run("heping-committee", qid, RUN_PARAMS)
        assert gw.get("heping-committee", f"/v1/query-requests/{qid}").json()["status"] == "expired"
        again = gw.post("civil-affairs", f"/v1/query-requests/{qid}/approve", {})
    assert refused(world, r, 403)["reason"] == "query_expired"
    refused(world, again, 409)


# -- huge limits, wrong types, unknown columns ------------------------------------------------


def _many_filters(n: int) -> list[dict[str, Any]]:
    return [{"column": "age", "op": ">=", "value": i} for i in range(n)]


INVALID: list[tuple[str, str, tuple[Any, ...], Any]] = [
    # huge and out-of-range limits
    ("limit-zero", "request", ("spec", "limit"), 0),
    ("limit-negative", "request", ("spec", "limit"), -1),
    ("limit-over-max", "request", ("spec", "limit"), 100_001),
    ("limit-huge", "request", ("spec", "limit"), 10**30),
    ("limit-float", "request", ("spec", "limit"), 1.5),
    ("limit-text", "request", ("spec", "limit"), "ten"),
    ("max-runs-zero", "approve", ("max_runs",), 0),
    ("max-runs-huge", "approve", ("max_runs",), 10**12),
    ("max-runs-text", "approve", ("max_runs",), "many"),
    ("row-cap-huge", "approve", ("row_cap",), 10**30),
    ("row-cap-negative", "approve", ("row_cap",), -5),
    ("expires-naive", "approve", ("expires_at",), "2099-01-01T00:00:00"),
    ("expires-past", "approve", ("expires_at",), "2000-01-01T00:00:00Z"),
    ("expires-garbage", "approve", ("expires_at",), "tomorrow"),
    ("expires-year-overflow", "approve", ("expires_at",), "99999-01-01T00:00:00Z"),
    ("too-many-filters", "request", ("spec", "filters"), _many_filters(51)),
    ("in-too-many", "request", ("spec", "filters", 2, "value"), list(range(1001))),
    ("select-too-many", "request", ("spec", "select"), ["age"] * 201),
    ("too-many-params", "run", ("params",), {f"p{i}": i for i in range(51)}),
    ("param-list-too-long", "run", ("params", "blds"), list(range(1001))),
    ("min-group-size-zero", "dataset", (*P0, "min_group_size"), 0),
    ("min-group-size-huge", "dataset", (*P0, "min_group_size"), 10**6),
    ("max-rows-zero", "dataset", (*P0, "max_rows"), 0),
    ("no-columns", "dataset", ("columns",), []),
    ("too-many-columns", "dataset", ("columns",), [RESIDENTS["columns"][0]] * 501),
    ("policy-version", "dataset", ("policy", "version"), 2),
    # wrong types
    ("spec-is-sql", "request", ("spec",), "SELECT * FROM residents"),
    ("select-is-string", "request", ("spec", "select"), "age"),
    ("filters-is-object", "request", ("spec", "filters"), {"column": "age"}),
    ("literal-wrong-type", "request", ("spec", "filters", 0, "value"), "80"),
    ("literal-float-for-integer", "request", ("spec", "filters", 0, "value"), 80.5),
    (
        "between-three",
        "request",
        ("spec", "filters", 0),
        {"column": "age", "op": "between", "value": [1, 2, 3]},
    ),
    (
        "in-single-literal",
        "request",
        ("spec", "filters", 0),
        {"column": "age", "op": "in", "value": 80},
    ),
    (
        "prefix-on-integer",
        "request",
        ("spec", "filters", 0),
        {"column": "age", "op": "prefix", "value": "8"},
    ),
    ("param-type-mismatch", "request", ("spec", "params", "min_age", "type"), "string"),
    ("many-not-bool", "request", ("spec", "params", "blds", "many"), "sometimes"),
    ("desc-not-bool", "request", ("spec", "order_by", 0, "desc"), "sideways"),
    ("mean-of-text", "request_agg", ("spec", "aggregates", 1, "column"), "gender"),
    ("example-param-text", "request", ("example_params", "min_age"), "80"),
    ("run-param-text", "run", ("params", "min_age"), "80"),
    ("run-param-float", "run", ("params", "min_age"), 85.0),
    ("run-param-bool", "run", ("params", "min_age"), True),
    ("run-param-huge", "run", ("params", "min_age"), 10**30),
    ("run-param-int64-overflow", "run", ("params", "min_age"), 2**63),
    ("run-param-nan", "run", ("params", "min_age"), float("nan")),
    ("run-list-mixed", "run", ("params", "blds"), [1, "2"]),
    ("run-list-empty", "run", ("params", "blds"), []),
    ("run-params-list", "run", ("params",), []),
    ("run-extra-field", "run", ("sql",), "SELECT 1"),
    ("approve-extra-field", "approve", ("status",), "approved"),
    ("request-extra-field", "request", ("status",), "approved"),
    ("dataset-extra-field", "dataset", ("owner",), "health-commission"),
    ("scope-value-list-for-ge", "dataset", (*P0, "row_scope", 1, "value"), [70, 80]),
    ("scope-value-wrong-type", "dataset", (*P0, "row_scope", 1, "value"), "70"),
    ("scope-value-huge", "dataset", (*P0, "row_scope", 1, "value"), 10**30),
    (
        "treatment-params-unknown",
        "dataset",
        (*P0, "columns", "name", "params"),
        {"kind": "name", "reveal": 1},
    ),
    # unknown columns and columns not in the schema
    ("select-unknown", "request", ("spec", "select", 0), "ssn"),
    ("select-star", "request", ("spec", "select", 0), "*"),
    ("select-qualified", "request", ("spec", "select", 0), "residents.age"),
    ("select-other-case", "request", ("spec", "select", 0), "AGE"),
    ("filter-unknown", "request", ("spec", "filters", 0, "column"), "password"),
    ("group-unknown", "request_agg", ("spec", "group_by", 0), "secret"),
    ("order-not-output", "request", ("spec", "order_by", 0, "column"), "building_no"),
    ("aggregate-unknown", "request_agg", ("spec", "aggregates", 1, "column"), "income"),
    ("param-undeclared", "request", ("spec", "filters", 0, "value"), {"param": "nope"}),
    ("run-param-undeclared", "run", ("params", "nope"), 1),
    ("example-param-undeclared", "request", ("example_params", "nope"), 1),
    (
        "dataset-column-not-in-table",
        "dataset",
        ("columns", 14),
        {"name": "ssn", "type": "string", "classification": "direct_identifier"},
    ),
    ("dataset-column-wrong-type", "dataset", ("columns", 1, "type"), "integer"),
    ("dataset-duplicate-column", "dataset", ("columns", 1), RESIDENTS["columns"][0]),
    ("privacy-unit-not-a-column", "dataset", ("privacy_unit",), "household"),
    ("table-missing", "dataset", ("table",), "no_such_table"),
    ("table-in-missing-schema", "dataset", ("table",), "nosuchschema.residents"),
    ("policy-column-unknown", "dataset", (*P0, "columns", "ssn"), {"treatment": "keep"}),
    ("scope-column-unknown", "dataset", (*P0, "row_scope", 0, "column"), "district"),
    ("raw-direct-identifier", "dataset", (*P0, "columns", "mobile"), {"treatment": "keep"}),
    ("policy-update-unknown-column", "policy", ("policy", "purposes", 0, "columns", "ssn"), {}),
]


@pytest.mark.parametrize(
    ("endpoint", "path", "value"), [pytest.param(e, p, v, id=i) for i, e, p, v in INVALID]
)
def test_invalid_spec_or_value(
    world: World, endpoint: str, path: tuple[Any, ...], value: Any
) -> None:
    who, method, url, base = world.base(endpoint)
    with leaves_unchanged(world.gw, world.source):
        r = world.send(who, method, url, mutate(base, path, value))
    b = refused(world, r, 422)
    assert b["error"] == "InvalidRequest"


@pytest.mark.parametrize(
    ("who", "path", "params"),
    [
        ("civil-affairs", "/v1/query-requests", {"limit": 0}),
        ("civil-affairs", "/v1/query-requests", {"limit": 1001}),
        ("civil-affairs", "/v1/query-requests", {"limit": 10**30}),
        ("civil-affairs", "/v1/query-requests", {"limit": "' OR 1=1 --"}),
        ("civil-affairs", "/v1/query-requests", {"status": "approved' OR '1'='1"}),
        ("district-auditor", "/v1/audit/entries", {"limit": 10**12}),
        ("district-auditor", "/v1/audit/entries", {"after": -2}),
        ("district-auditor", "/v1/audit/entries", {"after": "'; DROP TABLE audit_entries; --"}),
        ("district-auditor", "/v1/audit/entries", {"since": "yesterday"}),
        ("district-auditor", "/v1/audit/entries", {"decision": "denied' OR 1=1 --"}),
    ],
)
def test_invalid_query_string(world: World, who: str, path: str, params: dict[str, Any]) -> None:
    with leaves_unchanged(world.gw, world.source):
        r = world.send(who, "GET", path, params=params)
    refused(world, r, 422, echoed=[str(v) for v in params.values()])


@pytest.mark.parametrize("value", ["' OR '1'='1", "'; DROP TABLE audit_entries; --", "%", "*"])
@pytest.mark.parametrize("name", ["dataset", "app", "event"])
def test_audit_filters_are_values_not_sql(world: World, name: str, value: str) -> None:
    with leaves_unchanged(world.gw, world.source):
        r = world.send("district-auditor", "GET", "/v1/audit/entries", params={name: value})
    assert r.status_code == 200 and r.json() == []


@pytest.mark.parametrize(
    "url",
    [
        "'; DROP TABLE residents; --",
        "nosuchdb://host/db",
        "postgresql+nosuchdriver://postgres@127.0.0.1/test",
        "http://example.com/",
        "file:///etc/passwd",
        "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:1/test",
        "mysql+pymysql://root:s3cret-pw@127.0.0.1:1/test",
        "sqlite:////nonexistent-dir/'; DROP TABLE residents; --.db",
    ],
)
def test_source_url_that_cannot_be_used(world: World, url: str) -> None:
    with leaves_unchanged(world.gw, world.source):
        r = world.send("civil-affairs", "POST", "/v1/sources", {"name": "bad-source", "url": url})
    refused(world, r, 422, echoed=[url, "s3cret-pw"])


# -- over every source database -------------------------------------------------------------

BAD_RUN_PARAMS: list[tuple[str, dict[str, Any]]] = [
    ("nul-in-string", {"room": "1\x00' OR 1=1 --"}),
    ("surrogate-in-string", {"room": "\ud800"}),
    ("over-long-string", {"room": "1" * 1001}),
    ("int-over-64-bits", {"min_age": 2**63}),
    ("int-huge", {"min_age": 10**30}),
    ("int-hugely-negative", {"min_age": -(10**30)}),
    ("sql-for-integer", {"min_age": "80 OR 1=1"}),
    ("sql-in-list", {"blds": [1, "1); DROP TABLE residents; --"]}),
    ("object-for-string", {"room": {"$regex": ".*"}}),
]


def test_bad_run_params_touch_nothing_on_every_source(
    gateway: Gateway, source_url: str, small_community: Community
) -> None:
    w = build_world(gateway, source_url, small_community)
    for name, params in BAD_RUN_PARAMS:
        with leaves_unchanged(gateway, source_url):  # the run is not counted either
            r = w.send(
                "heping-committee",
                "POST",
                f"/v1/queries/{w.q['rows']}/run",
                {"params": {**RUN_PARAMS, **params}},
            )
        b = refused(w, r, 422, echoed=[v for v in params.values() if isinstance(v, str)])
        assert b["detail"].startswith("parameter "), (name, b)


def test_bad_dataset_registration_on_every_source(gateway: Gateway, source_url: str) -> None:
    gateway.register_demo_dataset("residents", source_url)
    base = copy.deepcopy(RESIDENTS)
    base.update(name="residents-copy", source="src-residents")
    cases: list[tuple[tuple[Any, ...], Any]] = [
        (("table",), "no_such_table"),
        (("table",), "nosuchschema.residents"),
        (("table",), "residents; DROP TABLE residents"),
        (("columns", 0, "name"), "ssn"),
        (("columns", 1, "type"), "integer"),
        (("columns", 4, "type"), "date"),
    ]
    for path, value in cases:
        with leaves_unchanged(gateway, source_url):
            r = gateway.client.post(
                "/v1/datasets",
                json=mutate(base, path, value),
                headers=gateway.auth("civil-affairs"),
            )
        assert_error(r, 422, echoed=("DROP TABLE",))


SQL_TEXT = [
    "'; DROP TABLE residents; --",
    '" OR 1=1 --',
    "x' UNION SELECT resident_id, mobile FROM residents --",
    "社区居民\u202e😀 O'Brien",
]


def test_sql_text_where_text_is_allowed_is_stored_verbatim_and_inert(
    gateway: Gateway, source_url: str, small_community: Community
) -> None:
    """Free text and string values may hold anything; it stays data and matches nothing."""
    gw = gateway
    dataset = gw.register_demo_dataset("residents", source_url)
    before = source_snapshot(source_url)
    raw = raw_resident_values(small_community)
    spec = {
        "select": ["resident_id", "age", "community", "room"],
        "filters": [
            {"column": "community", "op": "in", "value": SQL_TEXT},
            {"column": "room", "op": "prefix", "value": {"param": "room"}},
        ],
        "params": {"room": {"type": "string"}},
    }
    for text in SQL_TEXT:
        filed = gw.post(
            "heping-committee",
            "/v1/query-requests",
            {
                "dataset": dataset,
                "purpose": HOME_VISIT,
                "justification": text,
                "spec": spec,
                "example_params": {"room": text},
            },
        )
        assert filed.status_code == 201, filed.text
        qid = filed.json()["id"]
        approved = gw.post("civil-affairs", f"/v1/query-requests/{qid}/approve", {"note": text})
        assert approved.status_code == 200 and approved.json()["reason"] == text
        run = gw.run("heping-committee", qid, {"room": text})
        assert run.status_code == 200, run.text
        assert run.json()["rows"] == []
        assert not any(v in run.text for v in raw)
        revoked = gw.post("civil-affairs", f"/v1/query-requests/{qid}/revoke", {"reason": text})
        assert revoked.status_code == 200
        stored = gw.get("heping-committee", f"/v1/query-requests/{qid}").json()
        assert stored["justification"] == text and stored["reason"] == text
        assert stored["spec"]["filters"][0]["value"] == SQL_TEXT
    # A department's free text too.
    body = copy.deepcopy(RESIDENTS)
    body.update(name="residents-text", source="src-residents", description=SQL_TEXT[0])
    body["columns"][0]["description"] = SQL_TEXT[1]
    body["policy"]["retention"] = SQL_TEXT[2]
    body["policy"]["purposes"][0]["legal_basis"] = SQL_TEXT[3]
    r = gw.post("civil-affairs", "/v1/datasets", body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["description"] == SQL_TEXT[0] and out["columns"][0]["description"] == SQL_TEXT[1]
    assert out["retention"] == SQL_TEXT[2]
    assert out["purposes"][0]["legal_basis"] == SQL_TEXT[3]
    assert source_snapshot(source_url) == before


# -- values only PostgreSQL refuses, on a PostgreSQL store ----------------------------------


@pytest.mark.postgres
def test_nul_characters_on_a_postgresql_store(
    pg_url: str, tmp_path: Path, small_community: Community
) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    gw = open_gateway(make_settings(tmp_path / "home", store_url=pg_url))
    try:
        w = build_world(gw, source, small_community)
        cases: list[tuple[str, str, str, Any, dict[str, Any] | None, int]] = [
            ("heping-committee", "GET", "/v1/datasets/ds_%00", None, None, 404),
            ("heping-committee", "GET", "/v1/query-requests/qr_%00x", None, None, 404),
            ("heping-committee", "POST", "/v1/queries/qr_%00/run", {"params": {}}, None, 404),
            ("civil-affairs", "POST", "/v1/query-requests/qr_%00/approve", {}, None, 404),
            (
                "civil-affairs",
                "PUT",
                "/v1/datasets/ds_%00/policy",
                {"policy": RESIDENTS["policy"]},
                None,
                404,
            ),
            ("district-auditor", "GET", "/v1/audit/entries", None, {"dataset": "ds_\x00"}, 422),
            ("district-auditor", "GET", "/v1/audit/entries", None, {"app": "\x00"}, 422),
            ("district-auditor", "GET", "/v1/audit/entries", None, {"event": "a\x00"}, 422),
        ]
        for endpoint, path, value in [
            ("request", ("dataset",), "ds_\x00"),
            ("request", ("justification",), "visits\x00"),
            ("approve", ("note",), "\x00"),
            ("reject", ("reason",), "no\x00"),
            ("revoke", ("reason",), "\x00"),
            ("dataset", ("description",), "\x00"),
            ("dataset", ("policy", "retention"), "\x00"),
            ("run", ("params", "room"), "\x00"),
        ]:
            who, method, url, base = w.base(endpoint)
            cases.append((who, method, url, mutate(base, path, value), None, 422))
        for who, method, url, body, params, status in cases:
            with leaves_unchanged(gw, source):
                r = w.send(who, method, url, body, params=params)
            refused(w, r, status)
    finally:
        gw.client.close()
        gw.ctx.close()
