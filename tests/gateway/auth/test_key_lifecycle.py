"""API keys that expire, rotate with a grace period, are reissued or expired at once:
over HTTP, on an SQLite and a PostgreSQL store, with the principal cache in the way.

The cache remembers callers by key digest for a policy epoch; these tests use a key
(so it is remembered) before each change and check that the change is seen at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.access.repository import AccessRepository
from gateway.auth.keys import reissue_key
from gateway.auth.service import add_principal, digest
from gateway.context import GatewayContext
from tests.conftest import Gateway, assert_error, leaves_unchanged, make_settings, open_gateway

CLERK = "civil-affairs-clerk"


def _open(request: pytest.FixtureRequest, home: Path, **settings: Any) -> Gateway:
    store_url = str(request.getfixturevalue("pg_url")) if request.param == "postgres" else None
    gw = open_gateway(make_settings(home, store_url, **settings))
    with gw.ctx.store.transaction() as session:
        _, gw.keys[CLERK] = add_principal(
            session, name=CLERK, kind="department", domain="civil-affairs", role="department"
        )
    return gw


STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# Short enough to wait out in a test, long enough for a loaded machine to use a key first.
GRACE = 4


def wait_until(moment: datetime) -> None:
    time.sleep(max((moment - datetime.now(UTC)).total_seconds(), 0) + 0.2)


@pytest.fixture(params=STORES)
def gw(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gateway]:
    gateway = _open(request, tmp_path / "home", key_rotation_grace_seconds=GRACE)
    try:
        yield gateway
    finally:
        gateway.client.close()
        gateway.ctx.close()


def me(gw: Gateway, key: str) -> Any:
    return gw.client.get("/v1/principals/me", headers={"Authorization": f"Bearer {key}"})


def cached(gw: Gateway, key: str) -> bool:
    with gw.ctx.store.transaction() as session:
        epoch = AccessRepository(session).epoch()
    return gw.ctx.principals.get(digest(key), epoch) is not None


def expired(response: Any) -> None:
    body = assert_error(response, 401)
    assert body["reason"] == "key_expired" and "expired" in body["detail"]


def test_a_rotated_key_works_for_the_grace_period_then_stops(
    gw: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    old = gw.keys["heping-committee"]
    assert me(gw, old).status_code == 200 and cached(gw, old)
    r = gw.post("heping-committee", "/v1/principals/me/rotate-key", {})
    assert r.status_code == 200, r.text
    out = r.json()
    new = out["api_key"]
    assert new.startswith("cdg_") and new != old and out["prefix"] == new[:10]
    assert out["expires_at"] is None
    until = datetime.fromisoformat(out["previous_keys_valid_until"])
    assert timedelta(0) < until - datetime.now(UTC) <= timedelta(seconds=GRACE)
    assert me(gw, new).json()["name"] == "heping-committee"
    assert me(gw, old).status_code == 200  # within the grace period
    assert cached(gw, old)  # remembered with its new expiry
    wait_until(until)
    # No change has moved the epoch since: the cache itself must refuse the expired key.
    assert not cached(gw, old)
    with caplog.at_level(logging.WARNING, logger="cdg.auth"):
        expired(me(gw, old))
    assert "heping-committee" in caplog.text and old not in caplog.text
    assert me(gw, new).status_code == 200
    [entry] = [
        e["entry"]
        for e in gw.get("district-auditor", "/v1/audit/entries").json()
        if e["entry"]["event"] == "principal.key_rotated"
    ]
    assert entry["target"] == "heping-committee" and entry["key_prefix"] == new[:10]
    assert new not in str(entry) and entry["grace_seconds"] == GRACE


def test_a_key_with_an_expiry_stops_then_even_when_remembered(gw: Gateway) -> None:
    past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    with leaves_unchanged(gw, None):
        r = gw.post("jianshe-property", "/v1/principals/me/rotate-key", {"expires_at": past})
        assert "past" in assert_error(r, 422)["detail"]
        r = gw.post("jianshe-property", "/v1/principals/me/rotate-key", {"expires_at": "soon"})
        assert_error(r, 422)
    soon = (datetime.now(UTC) + timedelta(seconds=GRACE)).isoformat()
    r = gw.post("jianshe-property", "/v1/principals/me/rotate-key", {"expires_at": soon})
    assert r.status_code == 200, r.text
    key = r.json()["api_key"]
    assert datetime.fromisoformat(r.json()["expires_at"]) == datetime.fromisoformat(soon)
    assert me(gw, key).status_code == 200 and cached(gw, key)
    wait_until(datetime.fromisoformat(soon))
    expired(me(gw, key))


def test_reissue_stops_earlier_keys_at_once_in_every_process(gw: Gateway) -> None:
    old = gw.keys[CLERK]
    assert me(gw, old).status_code == 200 and cached(gw, old)
    path = f"/v1/principals/{CLERK}/reissue-key"
    with leaves_unchanged(gw, None):
        assert_error(gw.post("health-commission", path, {}), 404)
        assert gw.post("heping-committee", path, {}).json()["reason"] == "not_a_department"
        assert_error(gw.post("district-auditor", path, {}), 403)
        assert_error(gw.post("civil-affairs", "/v1/principals/nobody/reissue-key", {}), 404)
    # Another gateway process on the same store reissues the clerk's key.
    other = GatewayContext.open(gw.ctx.settings)
    try:
        with other.store.transaction() as session:
            issued = reissue_key(session, CLERK)
    finally:
        other.close()
    expired(me(gw, old))
    assert me(gw, issued.key).json()["name"] == CLERK
    # Over HTTP, by the clerk's department.
    r = gw.post("civil-affairs", path, {})
    assert r.status_code == 200, r.text
    newest = r.json()["api_key"]
    expired(me(gw, issued.key))
    assert me(gw, newest).status_code == 200
    assert r.json()["previous_keys_valid_until"] is not None


def test_expire_keys_now(gw: Gateway) -> None:
    rotated = gw.post(CLERK, "/v1/principals/me/rotate-key", {}).json()["api_key"]
    for key in (gw.keys[CLERK], rotated):
        assert me(gw, key).status_code == 200
    path = f"/v1/principals/{CLERK}/expire-keys"
    with leaves_unchanged(gw, None):
        assert_error(gw.post("health-commission", path), 404)
        assert_error(gw.post("guangming-eldercare", path), 403)
    r = gw.post("civil-affairs", path)
    assert r.status_code == 200, r.text
    assert r.json()["principal"] == CLERK and r.json()["expired"] == 2
    for key in (gw.keys[CLERK], rotated):
        expired(me(gw, key))
    # Nothing left to expire: a second call expires none.
    assert gw.post("civil-affairs", path).json()["expired"] == 0
    assert me(gw, gw.keys["civil-affairs"]).status_code == 200


@pytest.fixture(params=STORES)
def no_grace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gateway]:
    gateway = _open(request, tmp_path / "home", key_rotation_grace_seconds=0)
    try:
        yield gateway
    finally:
        gateway.client.close()
        gateway.ctx.close()


def test_without_a_grace_period_rotation_ends_the_old_key_at_once(no_grace: Gateway) -> None:
    old = no_grace.keys["civil-affairs"]
    assert me(no_grace, old).status_code == 200
    new = no_grace.post("civil-affairs", "/v1/principals/me/rotate-key", {}).json()["api_key"]
    expired(me(no_grace, old))
    assert me(no_grace, new).status_code == 200


def test_only_the_newest_key_rotates(gw: Gateway) -> None:
    """A key in its grace period that leaked cannot mint a fresh key for its holder."""
    old = gw.keys["heping-committee"]
    first = gw.post("heping-committee", "/v1/principals/me/rotate-key", {})
    assert first.status_code == 200, first.text
    with leaves_unchanged(gw, None):
        body = assert_error(
            gw.client.post(
                "/v1/principals/me/rotate-key",
                json={},
                headers={"Authorization": f"Bearer {old}"},
            ),
            403,
        )
    assert body["reason"] == "key_superseded"
    newest = first.json()["api_key"]
    again = gw.client.post(
        "/v1/principals/me/rotate-key", json={}, headers={"Authorization": f"Bearer {newest}"}
    )
    assert again.status_code == 200, again.text


@pytest.mark.parametrize(
    ("caller", "target", "reason"),
    [
        ("civil-affairs", "civil-affairs", "operator_only"),  # its own key: the operator's
        (CLERK, "civil-affairs", "not_domain_head"),  # staff taking over the department
        (CLERK, CLERK, "not_domain_head"),
    ],
)
@pytest.mark.parametrize("action", ["reissue-key", "expire-keys"])
def test_keys_of_a_domain_are_the_department_s_for_its_staff_only(
    gw: Gateway, caller: str, target: str, reason: str, action: str
) -> None:
    with leaves_unchanged(gw, None):
        body = assert_error(gw.post(caller, f"/v1/principals/{target}/{action}", {}), 403)
    assert body["reason"] == reason
    assert me(gw, gw.keys[target]).status_code == 200


@pytest.mark.parametrize("kind", ["app", "auditor"])
def test_a_department_cannot_take_over_an_app_or_auditor_of_its_domain(
    gw: Gateway, kind: str
) -> None:
    name = f"civil-affairs-{kind}"
    with gw.ctx.store.transaction() as session:
        _, gw.keys[name] = add_principal(
            session, name=name, kind=kind, domain="civil-affairs", role=kind
        )
    for action in ("reissue-key", "expire-keys"):
        with leaves_unchanged(gw, None):
            body = assert_error(
                gw.post("civil-affairs", f"/v1/principals/{name}/{action}", {}), 403
            )
        assert body["reason"] == "operator_only"
    assert me(gw, gw.keys[name]).status_code == 200


def test_rotation_keeps_the_end_a_department_gave_a_key(gw: Gateway) -> None:
    end = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    given = gw.post(
        "civil-affairs", f"/v1/principals/{CLERK}/reissue-key", {"expires_at": end.isoformat()}
    )
    assert given.status_code == 200, given.text
    limited = given.json()["api_key"]
    r = gw.client.post(
        "/v1/principals/me/rotate-key", json={}, headers={"Authorization": f"Bearer {limited}"}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert datetime.fromisoformat(out["expires_at"]) == end  # not a key that never expires
    assert datetime.fromisoformat(out["previous_keys_valid_until"]) <= end
    later = (end + timedelta(days=30)).isoformat()
    r2 = gw.client.post(
        "/v1/principals/me/rotate-key",
        json={"expires_at": later},
        headers={"Authorization": f"Bearer {out['api_key']}"},
    )
    assert r2.status_code == 200, r2.text
    assert datetime.fromisoformat(r2.json()["expires_at"]) == end
