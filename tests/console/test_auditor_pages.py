"""The auditor's console pages over HTTP: overview, verification, search, entry with its
proof, signing, export; and what other callers get on them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gateway.auditlog.export import read_export, verify_export
from gateway.auditlog.signing import verifier_keys
from gateway.cli.app import cli
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway, make_settings, open_gateway
from tests.console.helpers import sign_in
from tests.gateway.auditlog.test_resident_history import PURPOSE, SPEC, register, released_ids


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, small_community: Community
) -> Iterator[tuple[Gateway, int, str]]:
    tmp = tmp_path_factory.mktemp("auditor-pages")
    source = f"sqlite:///{tmp / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    gw = open_gateway(make_settings(tmp / "home"))
    dataset = register(gw, "civil-affairs", "residents-ca", source, "resident_id")
    query = gw.approved_query("heping-committee", dataset, PURPOSE, SPEC)
    ran = gw.run("heping-committee", query)
    index = int(ran.json()["receipt"]["entry_index"])
    assert gw.run("jianshe-property", query).status_code == 404  # a logged refusal
    resident = released_ids(gw, source, index)[0]
    yield gw, index, resident
    gw.client.close()
    gw.ctx.close()


def person(gw: Gateway, name: str) -> tuple[TestClient, str]:
    client = TestClient(gw.client.app)
    return client, sign_in(client, gw.keys[name])


def test_the_overview_shows_verification_checkpoint_and_charts(
    world: tuple[Gateway, int, str],
) -> None:
    gw, *_ = world
    auditor, _ = person(gw, "district-auditor")
    page = auditor.get("/console/audit")
    assert page.status_code == 200, page.text
    assert 'lang="zh-CN"' in page.text and "审计概览" in page.text
    assert page.text.count("<svg") == 3 and "heping-committee" in page.text
    assert "最新签名检查点" in page.text and "有效" in page.text
    assert 'hx-get="/console/audit/verify"' in page.text
    fragment = auditor.get("/console/audit/verify", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "访问日志完整无损" in fragment.text
    assert "<html" not in fragment.text  # htmx gets the fragment only
    english = auditor.get("/console/audit/verify", headers={"Accept-Language": "en"})
    assert "The access log is intact." in english.text and 'lang="en"' in english.text
    assert auditor.get("/console/audit", params={"days": 5}).status_code == 422


def test_the_auditor_finds_the_run_and_its_proof(world: tuple[Gateway, int, str]) -> None:
    gw, index, resident = world
    auditor, token = person(gw, "district-auditor")
    form = {"event": "query.run", "app": "heping-committee", "resident": resident}
    posted = auditor.post("/console/audit/entries", data={**form, "csrf": token})
    found = posted  # the form answers with the results page, addressed by SubjectRef
    assert posted.status_code == 200, posted.text
    assert re.search(r"resident=s_[a-z2-7]{26}", str(posted.url))
    assert resident not in str(posted.url)
    assert f'href="/console/audit/entries/{index}"' in found.text
    assert resident not in found.text  # the page carries the SubjectRef, not the number
    # An ID number is never taken from an address.
    assert auditor.get("/console/audit/entries", params={"resident": resident}).status_code == 422
    signed = auditor.post("/console/audit/checkpoint", data={"csrf": token}, follow_redirects=False)
    assert signed.status_code == 303
    entry = auditor.get(f"/console/audit/entries/{index}")
    assert entry.status_code == 200
    assert "已证明" in entry.text and "query.run" in entry.text
    # The entry's proof downloads as a receipt that `cdg audit verify-receipt` accepts.
    bundle = auditor.get(f"/console/audit/entries/{index}/receipt")
    assert bundle.status_code == 200 and bundle.json()["entry_index"] == index
    tmp = gw.ctx.settings.home / "receipt-check"
    tmp.mkdir(exist_ok=True)
    (tmp / "receipt.json").write_text(bundle.text, encoding="utf-8")
    (tmp / "keys.txt").write_text(gw.client.get("/.well-known/cdg-audit-keys").text)
    checked = CliRunner().invoke(
        cli,
        [
            "audit",
            "verify-receipt",
            str(tmp / "receipt.json"),
            "--keys",
            str(tmp / "keys.txt"),
            "--json",
        ],
        env={"CDG_HOME": str(gw.ctx.settings.home)},
    )
    assert checked.exit_code == 0, checked.output
    assert '"verified": true' in checked.stdout
    # The export verifies offline, as the API's does.
    export = auditor.get(
        "/console/audit/export", params={"format": "jsonl", "app": "heping-committee"}
    )
    assert export.status_code == 200
    assert export.headers["content-disposition"].startswith("attachment;")
    keys = verifier_keys(gw.ctx.keyring, gw.ctx.settings.log_origin)
    report = verify_export(read_export(export.text), keys, gw.ctx.settings.log_origin)
    assert report.intact and report.entries >= 1
    csv = auditor.get("/console/audit/export", params={"format": "csv"})
    assert csv.status_code == 200 and csv.text.startswith("type,")


def test_other_callers_on_auditor_pages(world: tuple[Gateway, int, str]) -> None:
    gw, index, _ = world
    app, app_token = person(gw, "jianshe-property")
    assert app.get("/console/audit").status_code == 403
    assert app.get("/console/audit/verify").status_code == 403
    assert app.post("/console/audit/checkpoint", data={"csrf": app_token}).status_code == 403
    assert app.get(f"/console/audit/entries/{index}").status_code == 404  # another app's run
    own = app.get("/console/audit/entries")
    assert own.status_code == 200 and "heping-committee" not in own.text
    dept, _ = person(gw, "health-commission")
    assert dept.get("/console/audit").status_code == 403
    assert dept.get(f"/console/audit/entries/{index}").status_code == 404
    # Signed out: sent to sign in, never shown.
    nobody = TestClient(gw.client.app)
    r = nobody.get("/console/audit/entries", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in")


def test_a_stale_csrf_token_signs_nothing(world: tuple[Gateway, int, str]) -> None:
    gw, *_ = world
    auditor, token = person(gw, "district-auditor")
    r = auditor.post("/console/audit/checkpoint", data={"csrf": "x" * 64})
    assert r.status_code == 403
    auditor.post("/console/sign-out", data={"csrf": token})
    again, _ = person(gw, "district-auditor")
    r = again.post("/console/audit/checkpoint", data={"csrf": token})  # the ended session's
    assert r.status_code == 403


def test_bad_filters_are_a_clear_page(world: tuple[Gateway, int, str]) -> None:
    gw, *_ = world
    auditor, token = person(gw, "district-auditor")
    bad = "110105194912310021"
    r = auditor.post("/console/audit/entries", data={"resident": bad, "csrf": token})
    assert r.status_code == 422 and bad not in r.text
    assert auditor.get("/console/audit/entries", params={"start": "2026-13-01"}).status_code == 422
    r = auditor.get("/console/audit/entries", params={"start": "2026-12-04", "end": "2026-12-01"})
    assert r.status_code == 422
    assert auditor.get("/console/audit/entries", params={"event": "nope"}).status_code == 422
