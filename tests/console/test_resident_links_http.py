"""Residents' links over HTTP: the department issues one in the console, the resident
opens it once, sees only who received their data; reuse, expiry, revocation, another
department and stale CSRF tokens are refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway, make_settings, open_gateway
from tests.console.helpers import csrf_of, sign_in
from tests.gateway.auditlog.test_resident_history import PURPOSE, SPEC, register, released_ids

_URL = re.compile(r'id="issued-url" type="text" readonly value="([^"]+)"')


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, small_community: Community
) -> Iterator[tuple[Gateway, str]]:
    tmp = tmp_path_factory.mktemp("resident-http")
    source = f"sqlite:///{tmp / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    gw = open_gateway(make_settings(tmp / "home"))
    dataset = register(gw, "civil-affairs", "residents-ca", source, "resident_id")
    query = gw.approved_query("heping-committee", dataset, PURPOSE, SPEC)
    ran = gw.run("heping-committee", query)
    assert ran.status_code == 200, ran.text
    resident = released_ids(gw, source, ran.json()["receipt"]["entry_index"])[0]
    yield gw, resident
    gw.client.close()
    gw.ctx.close()


def browser(gw: Gateway) -> TestClient:
    """A client with its own cookie jar: one person's browser."""
    return TestClient(gw.client.app)


def issue_in_console(gw: Gateway, department: str, id_number: str) -> tuple[TestClient, str]:
    clerk = browser(gw)
    sign_in(clerk, gw.keys[department])
    page = clerk.get("/console/department/resident-links")
    assert page.status_code == 200
    r = clerk.post(
        "/console/department/resident-links",
        data={"csrf": csrf_of(page.text), "id_number": id_number, "hours": "24"},
    )
    assert r.status_code == 201, r.text
    assert id_number not in r.text  # the page never shows the number
    found = _URL.search(r.text)
    assert found, "the issued link is shown once"
    return clerk, found.group(1).split("testserver", 1)[-1].removeprefix("http://127.0.0.1:8000")


def open_as_resident(gw: Gateway, path: str) -> tuple[TestClient, object]:
    person = browser(gw)
    page = person.get(path)
    assert page.status_code == 200, page.text
    r = person.post(path, data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    return person, r


def test_a_resident_opens_the_link_once_and_sees_who_received_their_data(
    world: tuple[Gateway, str],
) -> None:
    gw, resident = world
    _, path = issue_in_console(gw, "civil-affairs", resident)
    assert path.startswith("/console/resident/open/")
    person, r = open_as_resident(gw, path)
    assert r.status_code == 303 and r.headers["location"] == "/console/resident"  # type: ignore[attr-defined]
    cookie = r.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "cdg_resident=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = person.get("/console/resident")
    assert page.status_code == 200, page.text
    logged = gw.get(
        "district-auditor", "/v1/audit/entries", params={"event": "subject.link_opened"}
    )
    assert logged.json()[-1]["entry"]["request_id"]  # the console passes the request id on
    assert 'lang="zh-CN"' in page.text
    assert "heping-committee" in page.text and "独居老人上门探访" in page.text
    assert "《个人信息保护法》" in page.text
    # Nothing else: not the number, not the columns or values, not the dataset's id.
    main = page.text.split('<main id="main">', 1)[1].split("</main>", 1)[0]
    assert resident not in main and "ds_" not in main and "residents-ca" not in main
    assert "age" not in re.findall(r"\w+", main)  # the released column is not named
    # A second open of the same link fails, in another browser and in the same one.
    again = browser(gw).get(path)
    assert again.status_code == 410 and "已经使用过" in again.text
    second = person.post(path, data={"csrf": csrf_of(person.get(path).text)})
    assert second.status_code == 410
    # Leaving ends the session.
    left = person.post("/console/resident/sign-out", data={"csrf": csrf_of(page.text)})
    assert left.status_code == 200
    assert person.get("/console/resident").status_code == 401


def test_an_expired_link_fails(world: tuple[Gateway, str]) -> None:
    gw, resident = world
    _, path = issue_in_console(gw, "civil-affairs", resident)
    with gw.ctx.store.transaction() as session:
        session.execute(
            sa.text("UPDATE resident_links SET expires_at = :t"),
            {"t": (datetime.now(UTC) - timedelta(seconds=1)).replace(tzinfo=None)},
        )
    r = browser(gw).get(path)
    assert r.status_code == 410 and "已过期" in r.text
    person = browser(gw)
    page = person.get(path)
    posted = person.post(path, data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert posted.status_code == 410 and "cdg_resident" not in posted.headers.get("set-cookie", "")


def test_an_unknown_link_and_no_session_are_refused(world: tuple[Gateway, str]) -> None:
    gw, _ = world
    assert browser(gw).get("/console/resident/open/" + "A" * 43).status_code == 404
    assert browser(gw).get("/console/resident/open/short").status_code == 404
    person = browser(gw)
    assert person.get("/console/resident").status_code == 401
    person.cookies.set("cdg_resident", "B" * 43, path="/console")
    assert person.get("/console/resident").status_code == 401


def test_a_stale_csrf_token_does_not_open_a_link(world: tuple[Gateway, str]) -> None:
    gw, resident = world
    _, path = issue_in_console(gw, "civil-affairs", resident)
    person = browser(gw)
    person.get(path)
    r = person.post(path, data={"csrf": "0" * 43}, follow_redirects=False)
    assert r.status_code == 403
    # The link is still unused: the refused form did not spend it.
    _, ok = open_as_resident(gw, path)
    assert ok.status_code == 303  # type: ignore[attr-defined]


def test_another_department_cannot_withdraw_a_link_and_an_app_cannot_issue(
    world: tuple[Gateway, str],
) -> None:
    gw, resident = world
    clerk, _ = issue_in_console(gw, "civil-affairs", resident)
    listed = clerk.get("/console/department/resident-links").text
    link_id = re.findall(r"<code>(rl_[0-9a-f]+)</code>", listed)[0]
    other = browser(gw)
    token = sign_in(other, gw.keys["health-commission"])
    assert link_id not in other.get("/console/department/resident-links").text
    r = other.post(f"/console/department/resident-links/{link_id}/revoke", data={"csrf": token})
    assert r.status_code == 404
    app = browser(gw)
    token = sign_in(app, gw.keys["heping-committee"])
    assert app.get("/console/department/resident-links").status_code == 403
    r = app.post(
        "/console/department/resident-links",
        data={"csrf": token, "id_number": resident, "hours": "24"},
    )
    assert r.status_code == 403 and resident not in r.text
    # The owning department may; then the link does not open.
    r = clerk.post(
        f"/console/department/resident-links/{link_id}/revoke",
        data={"csrf": csrf_of(listed)},
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_a_bad_number_is_refused_without_echo(world: tuple[Gateway, str]) -> None:
    gw, _ = world
    clerk = browser(gw)
    sign_in(clerk, gw.keys["civil-affairs"])
    page = clerk.get("/console/department/resident-links")
    bad = "110105194912310021"
    r = clerk.post(
        "/console/department/resident-links",
        data={"csrf": csrf_of(page.text), "id_number": bad, "hours": "24"},
    )
    assert r.status_code == 422 and bad not in r.text and 'aria-invalid="true"' in r.text


def test_the_form_and_the_api_take_the_same_validity_hours(world: tuple[Gateway, str]) -> None:
    gw, resident = world
    clerk = browser(gw)
    sign_in(clerk, gw.keys["civil-affairs"])
    csrf = csrf_of(clerk.get("/console/department/resident-links").text)
    for hours, status in [("1", 201), ("5", 201), ("720", 201), ("0", 422), ("721", 422)]:
        r = clerk.post(
            "/console/department/resident-links",
            data={"csrf": csrf, "id_number": resident, "hours": hours},
        )
        assert r.status_code == status, (hours, r.status_code)
        assert resident not in r.text
        api = gw.post(
            "civil-affairs",
            "/v1/subjects/links",
            {"id_number": resident, "expires_in_hours": int(hours)},
        )
        assert api.status_code == status, (hours, api.text)
    r = clerk.post(
        "/console/department/resident-links",
        data={"csrf": csrf, "id_number": resident, "hours": "9" * 30},
    )
    assert r.status_code == 422


def test_a_planted_csrf_cookie_does_not_open_a_link(world: tuple[Gateway, str]) -> None:
    gw, resident = world
    _, path = issue_in_console(gw, "civil-affairs", resident)
    person = browser(gw)
    chosen = "a" * 106  # the shape of a real token, not signed by the gateway
    person.cookies.set("cdg_csrf", chosen)
    r = person.post(path, data={"csrf": chosen}, follow_redirects=False)
    assert r.status_code == 403
    page = person.get(path)  # the page replaces the planted cookie with a signed token
    assert csrf_of(page.text) != chosen
    r = person.post(
        path,
        data={"csrf": csrf_of(page.text)},
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert r.status_code == 403  # a form posted from another site
    _, ok = open_as_resident(gw, path)
    assert ok.status_code == 303  # type: ignore[attr-defined]
