"""Resident links: issued by a department, opened once for a short session, expiring,
revocable by the issuing department only, logged; the session shows only that resident's
accesses on the issuer's datasets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from gateway.oversight import resident_links
from tests.conftest import Gateway, make_settings, open_gateway
from tests.gateway.auditlog.test_resident_history import PURPOSE, SPEC, register, released_ids


@pytest.fixture
def gw(tmp_path: Path, small_community: Community) -> Iterator[tuple[Gateway, str]]:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    gateway = open_gateway(make_settings(tmp_path / "home"))
    yield gateway, source
    gateway.client.close()
    gateway.ctx.close()


def issue(gw: Gateway, who: str, id_number: str, **extra: object) -> dict[str, str]:
    r = gw.post(who, "/v1/subjects/links", {"id_number": id_number, **extra})
    assert r.status_code == 201, r.text
    body: dict[str, str] = r.json()
    return body


def open_link(gw: Gateway, token: str) -> resident_links.Opened:
    with gw.ctx.store.transaction() as session:
        return resident_links.open_link(session, gw.ctx, token, "req-test")


def entries(gw: Gateway, event: str) -> list[dict[str, object]]:
    r = gw.get("district-auditor", "/v1/audit/entries", params={"event": event, "limit": 1000})
    assert r.status_code == 200, r.text
    return [e["entry"] for e in r.json()]


def test_a_link_opens_once_and_shows_only_the_issuers_datasets(
    gw: tuple[Gateway, str],
) -> None:
    gateway, source = gw
    ours = register(gateway, "civil-affairs", "residents-ca", source, "resident_id")
    run = gateway.run(
        "heping-committee", gateway.approved_query("heping-committee", ours, PURPOSE, SPEC)
    )
    assert run.status_code == 200, run.text
    resident = released_ids(gateway, source, run.json()["receipt"]["entry_index"])[0]

    link = issue(gateway, "civil-affairs", resident, expires_in_hours=2)
    assert link["url"].endswith("/console/resident/open/" + link["token"])
    assert resident_links.is_token(link["token"])
    # Only digests are stored: neither the token nor the session opens anything from a copy.
    with gateway.ctx.store.transaction() as session:
        stored = session.execute(sa.text("SELECT * FROM resident_links")).mappings().one()
    assert link["token"] not in json.dumps({k: str(v) for k, v in stored.items()})
    assert stored["subject_ref"] == gateway.ctx.subjects.ref(resident)

    with gateway.ctx.store.transaction() as session:
        assert resident_links.link_state(session, link["token"]) == "unused"
    first = open_link(gateway, link["token"])
    assert first.state == "opened" and first.session_token is not None
    assert first.session_token not in json.dumps({k: str(v) for k, v in stored.items()})
    again = open_link(gateway, link["token"])
    assert again.state == "opened" and again.session_token is None  # refused: used

    with gateway.ctx.store.transaction() as session:
        who = resident_links.resident_for_session(session, first.session_token)
        assert who is not None and who.principal.kind == "resident"
        shown, cut = resident_links.history(session, gateway.ctx, who, "req-test")
    assert not cut
    assert [a.recipient for a in shown] == ["heping-committee"]
    assert shown[0].purpose == "独居老人上门探访"
    assert shown[0].legal_basis.startswith("《个人信息保护法》")
    assert set(vars(shown[0])) == {"time", "recipient", "purpose", "purpose_en", "legal_basis"}

    issued = entries(gateway, "subject.link_issued")
    opened = entries(gateway, "subject.link_opened")
    assert [e["link"] for e in issued] == [link["id"]]
    assert [e["outcome"] for e in opened] == ["ok", "refused"]
    assert opened[1]["decision"] == {"allowed": False, "reason_code": "link_used"}
    reads = entries(gateway, "subject.history")
    assert reads[-1]["principal_kind"] == "resident" and reads[-1]["entries_shown"] == 1
    for entry in issued + opened + reads:  # the log never names the resident
        assert resident not in json.dumps(entry) and stored["subject_ref"] not in json.dumps(entry)


def test_another_departments_datasets_stay_out_of_the_residents_view(
    gw: tuple[Gateway, str],
) -> None:
    gateway, source = gw
    theirs = register(gateway, "civil-affairs", "residents-ca", source, "resident_id")
    run = gateway.run(
        "heping-committee", gateway.approved_query("heping-committee", theirs, PURPOSE, SPEC)
    )
    resident = released_ids(gateway, source, run.json()["receipt"]["entry_index"])[0]
    # health-commission issues the link: the release was on civil-affairs' dataset.
    link = issue(gateway, "health-commission", resident)
    opened = open_link(gateway, link["token"])
    assert opened.session_token is not None
    with gateway.ctx.store.transaction() as session:
        who = resident_links.resident_for_session(session, opened.session_token)
        assert who is not None
        assert resident_links.history(session, gateway.ctx, who, "r") == ([], False)


def test_expired_revoked_and_unknown_links_do_not_open(gw: tuple[Gateway, str]) -> None:
    gateway, _ = gw
    rid = "11010519491231002X"
    expired = issue(gateway, "civil-affairs", rid, expires_in_hours=1)
    with gateway.ctx.store.transaction() as session:
        session.execute(
            sa.text("UPDATE resident_links SET expires_at = :t WHERE id = :i"),
            {
                "t": (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None),
                "i": expired["id"],
            },
        )
    assert open_link(gateway, expired["token"]) == resident_links.Opened("expired")

    revoked = issue(gateway, "civil-affairs", rid)
    # Another department cannot even learn that the link exists.
    r = gateway.post("health-commission", f"/v1/subjects/links/{revoked['id']}/revoke", {})
    assert r.status_code == 404
    r = gateway.post("heping-committee", f"/v1/subjects/links/{revoked['id']}/revoke", {})
    assert r.status_code == 403 and r.json()["reason"] == "not_a_department"
    r = gateway.post("civil-affairs", f"/v1/subjects/links/{revoked['id']}/revoke", {})
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    assert open_link(gateway, revoked["token"]) == resident_links.Opened("revoked")

    before = len(entries(gateway, "subject.link_opened"))
    assert open_link(gateway, "A" * 43) == resident_links.Opened("unknown")
    assert open_link(gateway, "not a token") == resident_links.Opened("unknown")
    reasons = [e["decision"] for e in entries(gateway, "subject.link_opened")]
    assert len(reasons) == before == 2  # unknown tokens are not logged
    assert [d["reason_code"] for d in reasons] == ["link_expired", "link_revoked"]  # type: ignore[index]

    listed = gateway.get("civil-affairs", "/v1/subjects/links").json()
    assert {(x["id"], x["state"]) for x in listed} == {
        (expired["id"], "expired"),
        (revoked["id"], "revoked"),
    }
    assert gateway.get("health-commission", "/v1/subjects/links").json() == []


def test_a_revoked_link_ends_the_session_it_opened(gw: tuple[Gateway, str]) -> None:
    gateway, _ = gw
    link = issue(gateway, "civil-affairs", "11010519491231002X")
    opened = open_link(gateway, link["token"])
    assert opened.session_token is not None
    with gateway.ctx.store.transaction() as session:
        assert resident_links.resident_for_session(session, opened.session_token) is not None
    r = gateway.post("civil-affairs", f"/v1/subjects/links/{link['id']}/revoke", {})
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    with gateway.ctx.store.transaction() as session:
        assert resident_links.resident_for_session(session, opened.session_token) is None


def test_bad_input_is_a_clear_422_that_does_not_echo(gw: tuple[Gateway, str]) -> None:
    gateway, _ = gw
    for body in (
        {"id_number": "110105194912310021"},  # wrong check character
        {"id_number": "11010519491231002X", "expires_in_hours": 0},
        {"id_number": "11010519491231002X", "expires_in_hours": 721},
        {"id_number": "11010519491231002X", "extra": 1},
    ):
        r = gateway.post("civil-affairs", "/v1/subjects/links", body)
        assert r.status_code == 422, r.text
        assert "110105194912310021" not in r.text
    assert gateway.get("civil-affairs", "/v1/subjects/links").json() == []


@pytest.mark.parametrize(
    "store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_two_opens_racing_yield_one_session(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue("pg_url")) if store == "postgresql" else None
    gateway = open_gateway(make_settings(tmp_path / "home", url))
    try:
        link = issue(gateway, "civil-affairs", "11010519491231002X")
        with gateway.ctx.store.transaction() as session:
            assert resident_links.link_state(session, link["token"]) == "unused"
        results: list[resident_links.Opened] = []

        def go() -> None:
            results.append(open_link(gateway, link["token"]))

        threads = [threading.Thread(target=go) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(r.session_token is not None for r in results) == 1
        assert sorted(r.state for r in results) == ["opened"] * 4  # the rest: already used
        refused = gateway.get(
            "district-auditor", "/v1/audit/entries", params={"event": "subject.link_opened"}
        ).json()
        assert sorted(e["entry"]["outcome"] for e in refused) == ["ok", *["refused"] * 3]
    finally:
        gateway.client.close()
        gateway.ctx.close()


def test_the_settings_set_the_default_validity_and_the_session(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", resident_link_hours=2, resident_session_minutes=1)
    gateway = open_gateway(settings)
    try:
        before = datetime.now(UTC)
        link = issue(gateway, "civil-affairs", "11010519491231002X")
        expires = datetime.fromisoformat(link["expires_at"])
        assert timedelta(hours=2) <= expires - before < timedelta(hours=2, seconds=30)
        chosen = issue(gateway, "civil-affairs", "11010519491231002X", expires_in_hours=5)
        assert datetime.fromisoformat(chosen["expires_at"]) - before >= timedelta(hours=5)
        opened = open_link(gateway, link["token"])
        assert opened.session_expires_at is not None
        assert opened.session_expires_at - before < timedelta(minutes=1, seconds=30)
    finally:
        gateway.client.close()
        gateway.ctx.close()
