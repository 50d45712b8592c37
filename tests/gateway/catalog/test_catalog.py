"""Registering sources and datasets, catalog visibility, policy versions."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.demo.catalog import DATASETS
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway, make_settings, open_gateway


@pytest.fixture
def source(gateway: Gateway, small_community: Community, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, url))
    r = gateway.post("civil-affairs", "/v1/sources", {"name": "ca", "url": url})
    assert r.status_code == 201
    return url


def residents(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(DATASETS[0])
    spec["source"] = "ca"
    spec.update(changes)
    return spec


def with_policy_change(path: list[Any], value: Any) -> dict[str, Any]:
    spec = residents()
    target = spec["policy"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return spec


BAD_DATASETS = [
    ("missing table", residents(table="nope"), 422, "table does not exist"),
    (
        "missing column",
        residents(
            columns=[
                *DATASETS[0]["columns"],
                {"name": "income", "type": "integer", "classification": "sensitive"},
            ]
        ),
        422,
        "income",
    ),
    (
        "type mismatch",
        residents(
            columns=[
                {**c, "type": "integer"} if c["name"] == "name" else c
                for c in DATASETS[0]["columns"]
            ]
        ),
        422,
        "stored as",
    ),
    ("unit not a column", residents(privacy_unit="nobody"), 422, "privacy_unit"),
    (
        "policy names unknown column",
        with_policy_change(["purposes", 0, "columns", "salary"], {"treatment": "keep"}),
        422,
        "salary",
    ),
    (
        "raw direct identifier in rows",
        with_policy_change(["purposes", 0, "columns", "mobile"], {"treatment": "keep"}),
        422,
        "direct identifier mobile",
    ),
    (
        "bad treatment params",
        with_policy_change(
            ["purposes", 0, "columns", "name"], {"treatment": "mask", "params": {"kind": "tattoo"}}
        ),
        422,
        "treatment",
    ),
    (
        "unknown treatment",
        with_policy_change(["purposes", 0, "columns", "name"], {"treatment": "reveal"}),
        422,
        "treatment",
    ),
    (
        "scope on unknown column",
        with_policy_change(
            ["purposes", 0, "row_scope"], [{"column": "zone", "op": "=", "value": 1}]
        ),
        422,
        "zone",
    ),
]


@pytest.mark.parametrize(
    ("label", "body", "status", "fragment"), BAD_DATASETS, ids=[b[0] for b in BAD_DATASETS]
)
def test_bad_datasets_are_refused_with_the_reason(
    gateway: Gateway, source: str, label: str, body: dict[str, Any], status: int, fragment: str
) -> None:
    r = gateway.post("civil-affairs", "/v1/datasets", body)
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"]
    assert gateway.get("civil-affairs", "/v1/datasets").json() == []


def test_who_may_register(gateway: Gateway, source: str) -> None:
    assert gateway.post("heping-committee", "/v1/datasets", residents()).status_code == 403
    assert gateway.post("health-commission", "/v1/datasets", residents()).status_code == 404
    assert gateway.post("civil-affairs", "/v1/datasets", residents()).status_code == 201
    assert gateway.post("civil-affairs", "/v1/datasets", residents()).status_code == 409
    again = gateway.post("civil-affairs", "/v1/sources", {"name": "ca", "url": source})
    assert again.status_code == 409


def test_unreachable_or_invalid_sources_are_refused_without_echoing_the_url(
    gateway: Gateway, tmp_path: Path
) -> None:
    for url in ["postgresql+psycopg://u:hunter2@127.0.0.1:1/x", "not a url", "nodb+nodriver://h/x"]:
        r = gateway.post("civil-affairs", "/v1/sources", {"name": "bad", "url": url})
        assert r.status_code == 422
        assert "hunter2" not in r.text and url not in r.text


def test_catalog_shows_each_principal_what_it_may_see(gateway: Gateway, source: str) -> None:
    ds = gateway.post("civil-affairs", "/v1/datasets", residents()).json()["id"]
    owner_view = gateway.get("civil-affairs", f"/v1/datasets/{ds}").json()
    assert owner_view["policy"]["purposes"]
    app_view = gateway.get("jianshe-property", "/v1/datasets").json()
    assert app_view == []  # the residents policy grants nothing to property companies
    assert gateway.get("jianshe-property", f"/v1/datasets/{ds}").status_code == 404
    assert gateway.get("health-commission", f"/v1/datasets/{ds}").status_code == 404
    auditor_view = gateway.get("district-auditor", f"/v1/datasets/{ds}").json()
    assert auditor_view["policy"] is None and auditor_view["columns"]


def test_narrowing_a_policy_revokes_the_approved_queries_it_breaks(
    gateway: Gateway, source: str
) -> None:
    ds = gateway.post("civil-affairs", "/v1/datasets", residents()).json()["id"]
    qid = gateway.approved_query(
        "heping-committee",
        ds,
        "public-service.elderly-care.home-visit",
        {"select": ["age", "mobile"], "limit": 3},
    )
    first = gateway.run("heping-committee", qid).json()
    assert first["row_count"] == 3
    narrowed = copy.deepcopy(DATASETS[0]["policy"])
    del narrowed["purposes"][0]["columns"]["mobile"]
    r = gateway.put("civil-affairs", f"/v1/datasets/{ds}/policy", {"policy": narrowed})
    assert r.status_code == 200 and r.json()["policy_version"] != first["policy_version"]
    # The replacement revoked the query it broke, saying how; the run answers that reason.
    [broken] = r.json()["revoked_queries"]
    assert broken["id"] == qid and broken["reason_code"] == "column_withheld"
    denied = gateway.run("heping-committee", qid)
    assert denied.status_code == 403 and denied.json()["reason"] == "query_revoked"
    assert "column 'mobile' is withheld for this purpose" in denied.json()["detail"]
    log = gateway.get("district-auditor", "/v1/audit/entries", params={"decision": "denied"}).json()
    assert log[-1]["entry"]["policy_version"] == r.json()["policy_version"]


def test_registration_flags_columns_whose_content_contradicts_their_class(
    gateway: Gateway, source: str
) -> None:
    body = residents()
    body["columns"] = [
        {**c, "classification": "attribute"} if c["name"] in ("mobile", "room") else c
        for c in body["columns"]
    ]
    body["policy"] = copy.deepcopy(DATASETS[0]["policy"])
    r = gateway.post("civil-affairs", "/v1/datasets", body)
    assert r.status_code == 201, r.text
    findings = {f["column"]: f for f in r.json()["pii_findings"]}
    assert findings["mobile"]["severity"] == "warn"
    assert "CN_MOBILE" in findings["mobile"]["message"]
    assert findings["room"]["severity"] == "ok"
    assert findings["name"]["severity"] == "ok"  # declared a direct identifier: fine
    again = gateway.get("civil-affairs", f"/v1/datasets/{r.json()['id']}/scan").json()
    assert {f["column"]: f["severity"] for f in again} == {
        c: f["severity"] for c, f in findings.items()
    }
    assert not any(re.search(r"\d{11}", f["message"]) for f in again)  # counts, never values
    assert gateway.get("heping-committee", f"/v1/datasets/{r.json()['id']}/scan").status_code == 403


def test_a_department_cannot_register_the_store_or_files_outside_the_allowed_directories(
    tmp_path: Path,
) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    gw = open_gateway(make_settings(tmp_path / "home", source_dirs=f"health-commission={allowed}"))
    try:
        store = gw.ctx.settings.store_url
        outside = tmp_path / "elsewhere.db"
        sa.create_engine(f"sqlite:///{outside}").connect().close()  # exists, but not allowed
        missing = allowed / "not-there.db"
        for url in [
            store,
            f"sqlite:///{outside}",
            f"sqlite:///{missing}",
            "sqlite://",
            f"sqlite:///file:{allowed / 'x.db'}?mode=rwc&uri=true",
        ]:
            r = gw.post("health-commission", "/v1/sources", {"name": "sneaky", "url": url})
            assert r.status_code == 422, url
            assert str(tmp_path) not in r.text
        assert not missing.exists()  # nothing is created
        inside = allowed / "ok.db"
        sa.create_engine(f"sqlite:///{inside}").connect().close()
        ok = gw.post(
            "health-commission", "/v1/sources", {"name": "fine", "url": f"sqlite:///{inside}"}
        )
        assert ok.status_code == 201
    finally:
        gw.client.close()
        gw.ctx.close()
