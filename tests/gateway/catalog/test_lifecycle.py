"""Retiring sources and datasets, previewing and replacing policies: over HTTP, on an
SQLite and a PostgreSQL store.

Retirement is soft and logged; the approved queries of what is retired are revoked (and
pending requests rejected) with a reason the app sees when it lists, shows or runs them.
A policy preview changes nothing; the replacement revokes exactly what the preview said
would break.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.catalog.repository import CatalogRepository
from gateway.catalog.service import mark_retired
from gateway.demo.catalog import DATASETS
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from gateway.errors import Conflict
from gateway.principal import AuthPrincipal
from gateway.requests.lifecycle import retire_dataset
from gateway.requests.models import QueryRequest
from gateway.store.base import new_id, utcnow
from tests.attacks.test_token_linkage import RULE as TOKEN_RULE
from tests.attacks.test_token_linkage import SELECT as TOKEN_SELECT
from tests.conftest import Gateway, assert_error, leaves_unchanged, make_settings, open_gateway

HOME_VISIT = "public-service.elderly-care.home-visit"
PLANNING = "public-service.community-planning"
WITH_MOBILE = {"select": ["age", "mobile"], "limit": 3}
WITHOUT_MOBILE = {"select": ["age", "gender"], "limit": 3}
COUNT_BY_GENDER = {"aggregates": [{"fn": "count", "as": "n"}], "group_by": ["gender"]}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def gw(
    request: pytest.FixtureRequest, tmp_path: Path, small_community: Community
) -> Iterator[Gateway]:
    store_url = str(request.getfixturevalue("pg_url")) if request.param == "postgres" else None
    gateway = open_gateway(make_settings(tmp_path / "home", store_url))
    url = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, url))
    r = gateway.post("civil-affairs", "/v1/sources", {"name": "ca", "url": url})
    assert r.status_code == 201, r.text
    try:
        yield gateway
    finally:
        gateway.client.close()
        gateway.ctx.close()


def residents(name: str = "residents", source: str = "ca") -> dict[str, Any]:
    spec = copy.deepcopy(DATASETS[0])
    spec.update(name=name, source=source)
    return spec


def register(gw: Gateway, body: dict[str, Any]) -> str:
    r = gw.post("civil-affairs", "/v1/datasets", body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def pending(gw: Gateway, app: str, dataset: str, spec: dict[str, Any]) -> str:
    body = {"dataset": dataset, "purpose": HOME_VISIT, "justification": "t", "spec": spec}
    r = gw.post(app, "/v1/query-requests", body)
    assert r.status_code == 201 and r.json()["status"] == "pending", r.text
    return str(r.json()["id"])


def entries(gw: Gateway, event: str) -> list[dict[str, Any]]:
    rows = gw.get("district-auditor", "/v1/audit/entries", params={"limit": 1000}).json()
    return [e["entry"] for e in rows if e["entry"]["event"] == event]


def test_retiring_a_dataset_revokes_its_queries_and_takes_it_out_of_the_catalogue(
    gw: Gateway,
) -> None:
    ds = register(gw, residents())
    approved = gw.approved_query("heping-committee", ds, HOME_VISIT, WITH_MOBILE)
    waiting = pending(gw, "heping-committee", ds, WITHOUT_MOBILE)
    ran = gw.run("heping-committee", approved)
    assert ran.status_code == 200, ran.text
    body = {"reason": "并入新的居民库 merged into residents-2027"}

    # Only the owning department may retire: others are refused and change nothing.
    with leaves_unchanged(gw, None):
        assert_error(gw.post("health-commission", f"/v1/datasets/{ds}/retire", body), 404)
        refused = assert_error(gw.post("heping-committee", f"/v1/datasets/{ds}/retire", body), 403)
        assert refused["reason"] == "not_a_department"
        assert_error(gw.post("district-auditor", f"/v1/datasets/{ds}/retire", body), 403)
        assert_error(gw.post("civil-affairs", f"/v1/datasets/{ds}/retire", {"reason": ""}), 422)
        assert_error(gw.post("civil-affairs", "/v1/datasets/ds_nope/retire", body), 404)

    r = gw.post("civil-affairs", f"/v1/datasets/{ds}/retire", body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["id"] == ds and out["retired_by"] == "civil-affairs" and out["retired_at"]
    assert out["retire_reason"] == body["reason"]
    closed = {c["id"]: c for c in out["closed"]}
    assert closed[approved]["status"] == "revoked" and closed[waiting]["status"] == "rejected"
    assert all(body["reason"] in c["reason"] for c in closed.values())

    # Gone from the catalogue for everyone; the owner and auditors still read the record.
    for who in ("heping-committee", "civil-affairs", "district-auditor"):
        assert ds not in [d["id"] for d in gw.get(who, "/v1/datasets").json()]
    assert_error(gw.get("heping-committee", f"/v1/datasets/{ds}"), 404)
    kept = gw.get("civil-affairs", f"/v1/datasets/{ds}").json()
    assert kept["retired_at"] and kept["retire_reason"] == body["reason"]

    # The app sees why, when it lists, shows and runs the query.
    shown = gw.get("heping-committee", f"/v1/query-requests/{approved}").json()
    assert shown["status"] == "revoked" and shown["revoke_cause"] == "dataset_retired"
    assert body["reason"] in shown["reason"]
    listed = gw.get("heping-committee", "/v1/query-requests", params={"status": "revoked"})
    assert [q["id"] for q in listed.json()] == [approved]
    run = assert_error(gw.run("heping-committee", approved), 403)
    assert run["reason"] == "query_revoked" and body["reason"] in run["detail"]
    refiled = {"dataset": ds, "purpose": HOME_VISIT, "justification": "t", "spec": WITH_MOBILE}
    assert_error(gw.post("heping-committee", "/v1/query-requests", refiled), 404)

    # Retiring twice is a conflict; a retired dataset takes no new policy.
    again = assert_error(gw.post("civil-affairs", f"/v1/datasets/{ds}/retire", body), 409)
    assert again["reason"] == "already_retired"
    policy = {"policy": DATASETS[0]["policy"]}
    assert_error(gw.put("civil-affairs", f"/v1/datasets/{ds}/policy", policy), 409)

    # Logged as registered events; the run before retirement stays in the log.
    [retired] = entries(gw, "dataset.retired")
    assert retired["dataset"] == ds and retired["closed_queries"] == 2
    assert body["reason"] not in str(retired)  # the department's text is not logged
    revoked = entries(gw, "request.revoked")
    assert [(e["approved_query"], e["cause"]) for e in revoked] == [(approved, "dataset_retired")]
    assert [e["approved_query"] for e in entries(gw, "request.rejected")] == [waiting]
    runs = [e for e in entries(gw, "query.run") if e.get("outcome") == "ok"]
    assert [e["approved_query"] for e in runs] == [approved]
    # A resident whose row the run released still finds it in their access history.
    ran_at = [
        e["index"]
        for e in gw.get("district-auditor", "/v1/audit/entries", params={"limit": 1000}).json()
        if e["entry"]["event"] == "query.run" and e["entry"]["outcome"] == "ok"
    ]
    with gw.ctx.store.transaction() as session:
        refs = session.execute(
            sa.text("SELECT subject_ref FROM audit_subjects WHERE entry_index = :i"),
            {"i": ran_at[0]},
        ).scalars()
        ref = next(iter(refs))
    history = gw.get("civil-affairs", f"/v1/subjects/{ref}/accesses").json()
    assert [h["index"] for h in history] == ran_at


def test_retiring_a_source_retires_its_datasets(gw: Gateway) -> None:
    first = register(gw, residents("residents-a"))
    second = register(gw, residents("residents-b"))
    qa = gw.approved_query("heping-committee", first, HOME_VISIT, WITH_MOBILE)
    qb = gw.approved_query("guangming-eldercare", second, HOME_VISIT, WITHOUT_MOBILE)
    # Retired on its own earlier: the source's retirement leaves it as it was.
    gw.post("civil-affairs", f"/v1/datasets/{second}/retire", {"reason": "old"})
    [source] = gw.get("civil-affairs", "/v1/sources").json()
    body = {"reason": "数据库迁移 database moved"}
    path = f"/v1/sources/{source['id']}/retire"
    with leaves_unchanged(gw, None):
        assert_error(gw.post("health-commission", path, body), 404)
        assert_error(gw.post("heping-committee", path, body), 403)

    r = gw.post("civil-affairs", path, body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["source"]["retired_at"] and out["source"]["retire_reason"] == body["reason"]
    assert [d["id"] for d in out["datasets"]] == [first]
    assert [c["id"] for c in out["datasets"][0]["closed"]] == [qa]
    shown = gw.get("heping-committee", f"/v1/query-requests/{qa}").json()
    assert shown["revoke_cause"] == "source_retired" and body["reason"] in shown["reason"]
    assert gw.get("guangming-eldercare", f"/v1/query-requests/{qb}").json()["reason"] == (
        "数据集已停用 / the dataset was retired: old"
    )
    assert gw.get("civil-affairs", "/v1/sources").json()[0]["retired_at"]
    assert gw.get("civil-affairs", "/v1/datasets").json() == []

    again = assert_error(gw.post("civil-affairs", path, body), 409)
    assert again["reason"] == "already_retired"
    refused = assert_error(gw.post("civil-affairs", "/v1/datasets", residents("residents-c")), 409)
    assert refused["reason"] == "already_retired"
    [logged] = entries(gw, "source.retired")
    assert logged["source"] == "ca" and logged["datasets_retired"] == 1
    causes = {e["dataset"]: e.get("cause") for e in entries(gw, "dataset.retired")}
    assert causes == {second: None, first: "source_retired"}


def narrowed_policy() -> dict[str, Any]:
    """Home visits: no mobile, fewer rows, elder-care dropped; planning: larger groups."""
    policy = copy.deepcopy(DATASETS[0]["policy"])
    visit, planning = policy["purposes"]
    del visit["columns"]["mobile"]
    visit["max_rows"] = 500
    visit["grantees"] = [{"role": "neighbourhood-committee"}]
    planning["min_group_size"] = 20
    return dict(policy)


def test_a_preview_says_what_a_replacement_breaks_and_changes_nothing(gw: Gateway) -> None:
    ds = register(gw, residents())
    mobile = gw.approved_query("heping-committee", ds, HOME_VISIT, WITH_MOBILE)
    plain = gw.approved_query("heping-committee", ds, HOME_VISIT, WITHOUT_MOBILE)
    elder = gw.approved_query("guangming-eldercare", ds, HOME_VISIT, WITHOUT_MOBILE)
    counts = gw.approved_query("heping-committee", ds, PLANNING, COUNT_BY_GENDER)
    waiting = pending(gw, "heping-committee", ds, WITH_MOBILE)
    body = {"policy": narrowed_policy()}
    path = f"/v1/datasets/{ds}/policy/preview"

    with leaves_unchanged(gw, None):
        r = gw.post("civil-affairs", path, body)
        assert r.status_code == 200, r.text
        refused = assert_error(gw.post("heping-committee", path, body), 403)
        assert refused["reason"] == "not_a_department"
        assert_error(gw.post("health-commission", path, body), 404)
        bad = copy.deepcopy(body)
        bad["policy"]["purposes"][0]["columns"]["salary"] = {"treatment": "keep"}
        assert "salary" in assert_error(gw.post("civil-affairs", path, bad), 422)["detail"]
    preview = r.json()

    diff = preview["diff"]
    assert diff["changed"] and diff["old_version"] != diff["new_version"]
    assert diff["purposes_added"] == diff["purposes_removed"] == []
    terms = {p["purpose"]: {c["field"]: c for c in p["changes"]} for p in diff["purposes_changed"]}
    assert terms[HOME_VISIT]["max_rows"]["old"] == 2000
    assert terms[HOME_VISIT]["max_rows"]["new"] == 500
    assert terms[HOME_VISIT]["columns.mobile.treatment"] == {
        "field": "columns.mobile.treatment",
        "old": "mask",
        "new": None,
    }
    assert "grantees" in terms[HOME_VISIT]
    assert set(terms[PLANNING]) == {"min_group_size"}

    breaks = {q["id"]: q for q in preview["breaks"]}
    assert set(breaks) == {mobile, elder}  # the pending request is decided at approval
    assert breaks[mobile]["reason_code"] == "column_withheld"
    assert breaks[elder]["reason_code"] == "role_not_granted"
    changes = {q["id"]: {c["field"] for c in q["changes"]} for q in preview["changes"]}
    assert changes == {plain: {"max_rows"}, counts: {"min_group_size"}}
    assert preview["unchanged"] == 0

    # The replacement revokes what the preview said would break, with how.
    r = gw.put("civil-affairs", f"/v1/datasets/{ds}/policy", body)
    assert r.status_code == 200, r.text
    revoked = {q["id"]: q for q in r.json()["revoked_queries"]}
    assert set(revoked) == set(breaks)
    shown = gw.get("heping-committee", f"/v1/query-requests/{mobile}").json()
    assert shown["status"] == "revoked" and shown["revoke_cause"] == "policy_replaced"
    assert "withheld" in shown["reason"] and shown["reason"] == revoked[mobile]["reason"]
    run = assert_error(gw.run("heping-committee", mobile), 403)
    assert run["reason"] == "query_revoked" and "withheld" in run["detail"]
    assert gw.run("heping-committee", plain).status_code == 200
    assert gw.get("civil-affairs", f"/v1/query-requests/{waiting}").json()["status"] == "pending"
    causes = {e["approved_query"]: e["cause"] for e in entries(gw, "request.revoked")}
    assert causes == {mobile: "policy_replaced", elder: "policy_replaced"}

    # The same document again: nothing to change, nothing breaks.
    same = gw.post("civil-affairs", path, body).json()
    assert not same["diff"]["changed"] and same["breaks"] == same["changes"] == []
    assert same["unchanged"] == 2


def test_of_two_concurrent_retirements_one_wins(gw: Gateway) -> None:
    ds = register(gw, residents())
    owner = AuthPrincipal("p", "civil-affairs", "department", "department", "civil-affairs")
    with gw.ctx.store.transaction() as late:
        # Read before the other request retires it, written after.
        stale = CatalogRepository(late).dataset(ds)
        assert stale is not None and stale.retired_at is None
        with gw.ctx.store.transaction() as first:
            retire_dataset(first, gw.ctx, owner, ds, "first")
        with pytest.raises(Conflict) as lost:
            mark_retired(late, stale, owner, "second")
        assert lost.value.reason == "already_retired"
    kept = gw.get("civil-affairs", f"/v1/datasets/{ds}").json()
    assert kept["retire_reason"] == "first"
    assert len(entries(gw, "dataset.retired")) == 1


def test_retiring_closes_many_requests_in_one_batch_of_entries(gw: Gateway) -> None:
    ds = register(gw, residents())
    first = gw.approved_query("heping-committee", ds, HOME_VISIT, WITHOUT_MOBILE)
    with gw.ctx.store.transaction() as session:
        template = session.get(QueryRequest, first)
        assert template is not None
        for _ in range(199):
            session.add(
                QueryRequest(
                    id=new_id("qr"),
                    app_id=template.app_id,
                    dataset_id=ds,
                    purpose=HOME_VISIT,
                    justification="t",
                    kind="rows",
                    spec=WITHOUT_MOBILE,
                    example_params={},
                    status="approved",
                    decided_by="civil-affairs",
                    decided_at=utcnow(),
                )
            )
    r = gw.post("civil-affairs", f"/v1/datasets/{ds}/retire", {"reason": "merged"})
    assert r.status_code == 200, r.text
    assert len(r.json()["closed"]) == 200
    logged = gw.get("district-auditor", "/v1/audit/entries", params={"limit": 1000}).json()
    revoked = [e for e in logged if e["entry"]["event"] == "request.revoked"]
    assert len(revoked) == 200 and {e["entry"]["cause"] for e in revoked} == {"dataset_retired"}
    indexes = [e["index"] for e in logged]
    assert indexes == list(range(indexes[0], indexes[0] + len(indexes)))  # one chain, no gap
    assert gw.post("district-auditor", "/v1/audit/checkpoint").status_code == 200


def test_a_retired_datasets_department_still_reverses_tokens_it_released(gw: Gateway) -> None:
    spec = residents()
    spec["policy"]["purposes"] = [TOKEN_RULE]
    ds = register(gw, spec)
    qid = gw.approved_query("heping-committee", ds, TOKEN_RULE["purpose"], {"select": TOKEN_SELECT})
    ran = gw.run("heping-committee", qid)
    assert ran.status_code == 200, ran.text
    token = str(ran.json()["rows"][0][1])  # the mobile column, tokenised
    assert gw.post("civil-affairs", f"/v1/datasets/{ds}/retire", {"reason": "x"}).status_code == 200
    body = {
        "dataset": ds,
        "column": "mobile",
        "recipient": "heping-committee",
        "token": token,
        "justification": "核实 / verify",
    }
    r = gw.post("civil-affairs", "/v1/tokens/reverse", body)
    assert r.status_code == 200, r.text
    assert_error(gw.post("health-commission", "/v1/tokens/reverse", body), 404)
