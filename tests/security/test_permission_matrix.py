"""Every route, with every kind of caller, answers what the permission table says.

The table (docs/permissions.md) is generated from ``gateway.access.permissions``; here
each route of the OpenAPI document is mapped to the action it asks about, then called
over HTTP by a department owning the dataset, another department, the app that filed
the request, another app, an auditor, a caller without a key and one with a revoked
key. Allowed calls must succeed; refusals must be the table's status (403 with its
reason code, 404 that hides what exists, 401 before any rule), in the one error
shape, and change nothing but the access log's record of denials. A route missing
from ``ROUTES`` fails the test, so a new endpoint cannot skip the table.

One world (SQLite store and source) serves the module; the allowed calls that change
it (approve, reject, revoke, register) each have a request or a name of their own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.access.permission_table import CALLERS, cell, permission_table
from gateway.access.permissions import ACTIONS
from gateway.auth.service import add_principal, revoke_principal
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.attacks.test_token_linkage import RULE, SELECT
from tests.conftest import (
    Gateway,
    assert_error,
    department_copy,
    leaves_unchanged,
    make_settings,
    open_gateway,
)
from tests.gateway.test_bad_input import HOME_VISIT, RESIDENTS, ROWS_SPEC, RUN_PARAMS

ROOT = Path(__file__).resolve().parents[2]
NAMES = {
    "owning department": "civil-affairs",
    "other department": "health-commission",
    "requesting app": "heping-committee",
    "other app": "jianshe-property",
    "auditor": "district-auditor",
}


@dataclass
class World:
    gw: Gateway
    source: str
    residents: str
    tokenised: str
    token: str
    q: dict[str, str]
    resident_id: str
    revoked_key: str

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "no key":
            return {}
        if caller == "revoked key":
            return {"Authorization": f"Bearer {self.revoked_key}"}
        return self.gw.auth(NAMES[caller])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_community: Community) -> Iterator[World]:
    home = tmp_path_factory.mktemp("permissions")
    source = f"sqlite:///{home / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    gw = open_gateway(make_settings(home / "gateway", webhook_hosts="127.0.0.1:*"))
    residents = gw.register_demo_dataset("residents", source)
    # A second dataset on the same source whose policy tokenises: a real token to reverse.
    spec = copy.deepcopy(RESIDENTS)
    spec.update(name="residents-tokenised", source="src-residents")
    spec["policy"]["purposes"] = [RULE]
    r = gw.post("civil-affairs", "/v1/datasets", spec)
    assert r.status_code == 201, r.text
    tokenised = str(r.json()["id"])
    tok_query = gw.approved_query("heping-committee", tokenised, HOME_VISIT, {"select": SELECT})
    ran = gw.run("heping-committee", tok_query)
    assert ran.status_code == 200, ran.text
    token = str(ran.json()["rows"][0][1])  # the mobile column (AES-SIV)

    def filed() -> str:
        body = {"dataset": residents, "purpose": HOME_VISIT, "justification": "t"}
        r = gw.post("heping-committee", "/v1/query-requests", {**body, "spec": ROWS_SPEC})
        assert r.status_code == 201 and r.json()["status"] == "pending", r.text
        return str(r.json()["id"])

    q = {
        "rows": gw.approved_query("heping-committee", residents, HOME_VISIT, ROWS_SPEC),
        "to_approve": filed(),
        "to_reject": filed(),
        "to_revoke": gw.approved_query("heping-committee", residents, HOME_VISIT, ROWS_SPEC),
    }
    assert gw.run("heping-committee", q["rows"], RUN_PARAMS).status_code == 200
    # Retirement has a dataset and a source (with a dataset) of its own: retiring them
    # leaves the rows above runnable.
    retiring = copy.deepcopy(RESIDENTS)
    retiring.update(name="residents-retiring", source="src-residents")
    r = gw.post("civil-affairs", "/v1/datasets", retiring)
    assert r.status_code == 201, r.text
    q["ds_retire"] = str(r.json()["id"])
    r = gw.post("civil-affairs", "/v1/sources", {"name": "src-retiring", "url": source})
    assert r.status_code == 201, r.text
    q["src_retire"] = str(r.json()["id"])
    retiring.update(name="residents-on-retiring-source", source="src-retiring")
    assert gw.post("civil-affairs", "/v1/datasets", retiring).status_code == 201
    with gw.ctx.store.transaction() as session:
        # Staff of the owning department, whose keys the department reissues and expires.
        add_principal(
            session,
            name="civil-affairs-clerk",
            kind="department",
            domain="civil-affairs",
            role="department",
        )
    assert gw.post("district-auditor", "/v1/audit/checkpoint").status_code == 200
    resident_id = str(small_community.residents[0]["resident_id"])
    link = gw.post("civil-affairs", "/v1/subjects/links", {"id_number": resident_id})
    assert link.status_code == 201, link.text
    q["link"] = str(link.json()["id"])
    with gw.ctx.store.transaction() as session:
        _, key = add_principal(
            session, name="retired-app", kind="app", domain="heping", role="neighbourhood-committee"
        )
    with gw.ctx.store.transaction() as session:
        revoke_principal(session, "retired-app")
    yield World(
        gw,
        source,
        residents,
        tokenised,
        token,
        q,
        str(small_community.residents[0]["resident_id"]),
        key,
    )
    gw.client.close()
    gw.ctx.close()


# -- the routes ------------------------------------------------------------------------------

Call = tuple[str, Any, dict[str, Any] | None]  # (path, JSON body, query parameters)


@dataclass(frozen=True)
class Route:
    action: str
    call: Callable[[World, str], Call]
    ok: int = 200


def _slug(caller: str) -> str:
    return caller.replace(" ", "-")


def _source(w: World, caller: str) -> Call:
    # Each department registers a database of its own (a source belongs to one department).
    owner = NAMES.get(caller, "civil-affairs")
    url = w.source
    if caller in ("owning department", "other department"):
        url = department_copy(w.gw.ctx.settings, w.source, owner, "residents")
    return "/v1/sources", {"name": f"src-{_slug(caller)}", "url": url}, None


def _dataset(w: World, caller: str) -> Call:
    body = copy.deepcopy(RESIDENTS)
    body.update(name=f"ds-{_slug(caller)}", source="src-residents")
    return "/v1/datasets", body, None


def _explain(w: World, caller: str) -> Call:
    body: dict[str, Any] = {"dataset": w.residents, "purpose": HOME_VISIT, "spec": ROWS_SPEC}
    if caller not in ("requesting app", "other app"):
        body["app"] = "heping-committee"
    return "/v1/decisions/explain", body, None


def _request(w: World, caller: str) -> Call:
    body = {"dataset": w.residents, "purpose": HOME_VISIT, "justification": "t", "spec": ROWS_SPEC}
    return "/v1/query-requests", body, None


def _reverse(w: World, caller: str) -> Call:
    body = {
        "dataset": w.tokenised,
        "column": "mobile",
        "recipient": "heping-committee",
        "token": w.token,
        "justification": "核实",
    }
    return "/v1/tokens/reverse", body, None


def _webhook(w: World, caller: str) -> str:
    """A webhook of the caller's own (callers without a key get civil-affairs' one)."""
    owner = NAMES.get(caller, "civil-affairs")
    r = w.gw.post(owner, "/v1/webhooks", {"url": f"http://127.0.0.1:9/{_slug(caller)}"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _webhook_new(w: World, caller: str) -> Call:
    return "/v1/webhooks", {"url": f"https://127.0.0.1/{_slug(caller)}"}, None


def _webhook_delete(w: World, caller: str) -> Call:
    return f"/v1/webhooks/{_webhook(w, caller)}", None, None


def _webhook_deliveries(w: World, caller: str) -> Call:
    return f"/v1/webhooks/{_webhook(w, caller)}/deliveries", None, None


def _path(template: str, body: Any = None, **params: Any) -> Callable[[World, str], Call]:
    def call(w: World, caller: str) -> Call:
        ids = {"residents": w.residents, **w.q}
        if "{ref}" in template:
            ids["ref"] = w.gw.ctx.subjects.ref(w.resident_id)
        return template.format(**ids), body, params or None

    return call


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/v1/principals/me"): Route("principal.me", _path("/v1/principals/me")),
    ("POST", "/v1/sources"): Route("source.register", _source, 201),
    ("GET", "/v1/sources"): Route("source.list", _path("/v1/sources")),
    ("POST", "/v1/datasets"): Route("dataset.register", _dataset, 201),
    ("GET", "/v1/datasets"): Route("dataset.list", _path("/v1/datasets")),
    ("GET", "/v1/purposes"): Route("purpose.list", _path("/v1/purposes")),
    ("GET", "/v1/datasets/{dataset_id}"): Route("dataset.read", _path("/v1/datasets/{residents}")),
    ("PUT", "/v1/datasets/{dataset_id}/policy"): Route(
        "policy.replace",
        _path("/v1/datasets/{residents}/policy", {"policy": RESIDENTS["policy"]}),
    ),
    ("POST", "/v1/datasets/{dataset_id}/policy/preview"): Route(
        "policy.preview",
        _path("/v1/datasets/{residents}/policy/preview", {"policy": RESIDENTS["policy"]}),
    ),
    ("POST", "/v1/datasets/{dataset_id}/retire"): Route(
        "dataset.retire", _path("/v1/datasets/{ds_retire}/retire", {"reason": "merged"})
    ),
    ("POST", "/v1/sources/{source_id}/retire"): Route(
        "source.retire", _path("/v1/sources/{src_retire}/retire", {"reason": "moved"})
    ),
    ("POST", "/v1/principals/me/rotate-key"): Route(
        "principal.rotate_key", _path("/v1/principals/me/rotate-key", {})
    ),
    ("POST", "/v1/principals/{principal}/reissue-key"): Route(
        "principal.reissue_key", _path("/v1/principals/civil-affairs-clerk/reissue-key", {})
    ),
    ("POST", "/v1/principals/{principal}/expire-keys"): Route(
        "principal.expire_keys", _path("/v1/principals/civil-affairs-clerk/expire-keys")
    ),
    ("GET", "/v1/datasets/{dataset_id}/scan"): Route(
        "dataset.scan", _path("/v1/datasets/{residents}/scan")
    ),
    ("POST", "/v1/query-requests"): Route("request.file", _request, 201),
    ("GET", "/v1/query-requests"): Route("request.list", _path("/v1/query-requests")),
    ("GET", "/v1/query-requests/{query_request}"): Route(
        "request.read", _path("/v1/query-requests/{rows}")
    ),
    ("POST", "/v1/query-requests/{query_request}/approve"): Route(
        "request.approve", _path("/v1/query-requests/{to_approve}/approve", {})
    ),
    ("POST", "/v1/query-requests/{query_request}/reject"): Route(
        "request.reject", _path("/v1/query-requests/{to_reject}/reject", {"reason": "no"})
    ),
    ("POST", "/v1/query-requests/{query_request}/revoke"): Route(
        "request.revoke", _path("/v1/query-requests/{to_revoke}/revoke", {"reason": "done"})
    ),
    ("POST", "/v1/queries/{query_request}/run"): Route(
        "query.run", _path("/v1/queries/{rows}/run", {"params": RUN_PARAMS})
    ),
    ("GET", "/v1/budgets"): Route("budget.read", _path("/v1/budgets")),
    ("POST", "/v1/decisions/explain"): Route("decision.explain", _explain),
    ("POST", "/v1/tokens/reverse"): Route("token.reverse", _reverse),
    ("GET", "/v1/audit/entries"): Route("log.read", _path("/v1/audit/entries")),
    ("GET", "/v1/audit/summary"): Route("log.summary", _path("/v1/audit/summary")),
    ("GET", "/v1/audit/export"): Route("log.export", _path("/v1/audit/export")),
    ("GET", "/v1/audit/checkpoint"): Route("checkpoint.read", _path("/v1/audit/checkpoint")),
    ("POST", "/v1/audit/checkpoint"): Route("checkpoint.create", _path("/v1/audit/checkpoint")),
    ("GET", "/v1/audit/verify"): Route("log.verify", _path("/v1/audit/verify")),
    ("GET", "/v1/audit/proofs/inclusion"): Route(
        "proof.read", _path("/v1/audit/proofs/inclusion", index=0, tree_size=1)
    ),
    ("GET", "/v1/audit/proofs/consistency"): Route(
        "proof.read", _path("/v1/audit/proofs/consistency", old_size=1, new_size=1)
    ),
    ("POST", "/v1/subjects/lookup"): Route("resident.lookup", _path("/v1/subjects/lookup")),
    ("GET", "/v1/subjects/{subject_ref}/accesses"): Route(
        "resident.history", _path("/v1/subjects/{ref}/accesses")
    ),
    ("POST", "/v1/subjects/links"): Route("resident_link.issue", _path("/v1/subjects/links"), 201),
    ("GET", "/v1/subjects/links"): Route("resident_link.list", _path("/v1/subjects/links")),
    ("POST", "/v1/subjects/links/{link_id}/revoke"): Route(
        "resident_link.revoke", _path("/v1/subjects/links/{link}/revoke")
    ),
    ("GET", "/.well-known/cdg-audit-keys"): Route(
        "keys.read", _path("/.well-known/cdg-audit-keys")
    ),
    ("POST", "/v1/webhooks"): Route("webhook.register", _webhook_new, 201),
    ("GET", "/v1/webhooks"): Route("webhook.list", _path("/v1/webhooks")),
    ("DELETE", "/v1/webhooks/{webhook_id}"): Route("webhook.delete", _webhook_delete, 204),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): Route(
        "webhook.deliveries", _webhook_deliveries
    ),
    ("GET", "/healthz"): Route("health.read", _path("/healthz")),
    ("GET", "/metrics"): Route("metrics.read", _path("/metrics")),
}


def _lookup_body(w: World) -> dict[str, str]:
    return {"id_number": w.resident_id}


def test_every_route_is_in_the_matrix(world: World) -> None:
    spec = world.gw.client.get("/openapi.json").json()
    served = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert served == set(ROUTES), (
        f"routes without a row: {sorted(served - set(ROUTES))}; "
        f"rows without a route: {sorted(set(ROUTES) - served)}"
    )


def test_every_action_answers_some_route() -> None:
    # policy.read has no route of its own: it decides whether dataset.read shows the policy.
    # A resident opens a link and reads their history in the console, never with an API
    # key: tests/console/test_resident_links_http.py asks those pages.
    routed = {r.action for r in ROUTES.values()} | {"policy.read"}
    routed |= {"resident_link.open", "resident.own_history"}
    # The console's own actions guard HTML pages (not in OpenAPI): tests/console asks them.
    routed |= {"console.sign_in", "console.home"}
    assert routed == set(ACTIONS)


def test_the_committed_table_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "permissions.md").read_text(encoding="utf-8")
    assert committed == permission_table(), (
        "docs/permissions.md is stale: python -m gateway.access.permission_table"
        " > docs/permissions.md"
    )


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "template"), list(ROUTES), ids=[f"{m} {p}" for m, p in ROUTES])
def test_route_answers_the_table(world: World, method: str, template: str, caller: str) -> None:
    route = ROUTES[(method, template)]
    path, body, params = route.call(world, caller)
    if route.action in ("resident.lookup", "resident_link.issue"):
        body = _lookup_body(world)
    expected = cell(route.action, caller)

    def send() -> Any:
        return world.gw.client.request(
            method, path, json=body, params=params, headers=world.headers(caller)
        )

    if expected.status is None:
        r = send()
        assert r.status_code == route.ok, (route.action, caller, r.status_code, r.text[:300])
        if route.action == "dataset.read":
            shows_policy = cell("policy.read", caller).status is None
            assert (r.json()["policy"] is not None) == shows_policy
        return
    with leaves_unchanged(world.gw, None):
        r = send()
    b = assert_error(r, expected.status)
    if expected.status == 403:
        assert b["reason"] == expected.code, (route.action, caller, b)
        zh, _, en = b["detail"].partition(" / ")
        assert zh and en, b  # a reason in Chinese and in English


def test_listings_are_narrowed_to_the_callers_part(world: World) -> None:
    gw = world.gw
    other_dept = gw.get("health-commission", "/v1/query-requests").json()
    assert other_dept == []
    other_app = gw.get("jianshe-property", "/v1/query-requests").json()
    assert other_app == []
    own = gw.get("heping-committee", "/v1/query-requests").json()
    assert own and {r["app"] for r in own} == {"heping-committee"}
    assert gw.get("civil-affairs", "/v1/query-requests").json()
    entries = gw.get("health-commission", "/v1/audit/entries").json()
    assert all(e["entry"].get("dataset") not in (world.residents, world.tokenised) for e in entries)
    app_entries = gw.get("jianshe-property", "/v1/audit/entries").json()
    assert all(e["entry"]["principal"] == "jianshe-property" for e in app_entries)
    ref = gw.ctx.subjects.ref(world.resident_id)
    assert gw.get("health-commission", f"/v1/subjects/{ref}/accesses").json() == []
    assert gw.get("health-commission", "/v1/budgets").json() == []
    assert gw.get("jianshe-property", "/v1/budgets").json() == []
    assert [d["id"] for d in gw.get("health-commission", "/v1/datasets").json()] == []
