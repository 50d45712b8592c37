"""Console sign-in over plain HTTP: sessions, cookies, CSRF, expiry, headers, audit entries."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from gateway.auditlog.models import AuditEntryRow
from gateway.auth.models import ApiKey, ConsoleSession
from gateway.auth.service import revoke_principal
from gateway.console.security import CSP
from gateway.store.base import utcnow
from tests.conftest import Gateway, make_settings, open_gateway
from tests.console.helpers import csrf_of, sign_in


def entries(gw: Gateway, event: str) -> list[dict[str, object]]:
    with gw.ctx.store.sessions() as session:
        rows = session.scalars(select(AuditEntryRow.entry).order_by(AuditEntryRow.index)).all()
    return [e for e in map(json.loads, rows) if e["event"] == event]


def test_pages_need_a_session(gateway: Gateway) -> None:
    r = gateway.client.get("/console/", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/sign-in?next=/console/"
    htmx = gateway.client.get("/console/", headers={"HX-Request": "true"})
    assert htmx.status_code == 204
    assert htmx.headers["HX-Redirect"].startswith("/console/sign-in")


def test_security_headers_on_pages_and_assets(gateway: Gateway) -> None:
    for path in ("/console/sign-in", "/console/static/console.css"):
        r = gateway.client.get(path)
        assert r.status_code == 200
        assert r.headers["content-security-policy"] == CSP
        assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP
        assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"
    assert gateway.client.get("/console/sign-in").headers["cache-control"] == "no-store"
    # The API is not touched by the console's headers.
    assert "content-security-policy" not in gateway.client.get("/healthz").headers


def test_pages_have_no_inline_script_or_style(gateway: Gateway) -> None:
    sign_in(gateway.client, gateway.keys["civil-affairs"])
    html = gateway.client.get("/console/").text
    assert "<script>" not in html and "<script src=" in html
    assert " style=" not in html and "<style" not in html
    assert " on" + "click=" not in html


def test_sign_in_sets_a_strict_http_only_cookie_and_logs(gateway: Gateway) -> None:
    page = gateway.client.get("/console/sign-in")
    r = gateway.client.post(
        "/console/sign-in",
        data={"api_key": gateway.keys["heping-committee"], "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("cdg_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http, no https public URL
    token = cookie.split(";")[0].split("=", 1)[1]
    with gateway.ctx.store.sessions() as session:
        stored = session.scalars(select(ConsoleSession.digest)).all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]  # only the digest is kept
    signed = entries(gateway, "console.signed_in")
    assert [e["principal"] for e in signed] == ["heping-committee"]
    assert token not in json.dumps(signed)
    home = gateway.client.get("/console/")
    assert "heping-committee" in home.text


def test_failed_sign_in_is_refused_and_logged_without_the_key(gateway: Gateway) -> None:
    page = gateway.client.get("/console/sign-in")
    wrong = "cdg_" + "x" * 43
    r = gateway.client.post("/console/sign-in", data={"api_key": wrong, "csrf": csrf_of(page.text)})
    assert r.status_code == 401
    assert "API 密钥无效或已停用" in r.text
    assert "cdg_session" not in r.headers.get("set-cookie", "")
    failed = entries(gateway, "console.sign_in_failed")
    assert len(failed) == 1 and failed[0]["principal"] == "anonymous"
    assert failed[0]["outcome"] == "refused"
    assert wrong not in json.dumps(failed)
    assert gateway.client.get("/console/", follow_redirects=False).status_code == 303


def test_sign_in_needs_the_form_csrf_token(gateway: Gateway) -> None:
    gateway.client.get("/console/sign-in")
    r = gateway.client.post(
        "/console/sign-in", data={"api_key": gateway.keys["civil-affairs"], "csrf": "forged"}
    )
    assert r.status_code == 403
    assert not entries(gateway, "console.signed_in")


def test_stale_csrf_token_is_refused(gateway: Gateway) -> None:
    old = sign_in(gateway.client, gateway.keys["civil-affairs"])
    r = gateway.client.post("/console/sign-out", data={"csrf": old}, follow_redirects=False)
    assert r.status_code == 303
    new = sign_in(gateway.client, gateway.keys["civil-affairs"])
    assert new != old
    refused = gateway.client.post("/console/sign-out", data={"csrf": old})
    assert refused.status_code == 403
    assert gateway.client.get("/console/").status_code == 200  # still signed in
    by_header = gateway.client.post(
        "/console/sign-out", headers={"X-CSRF-Token": new}, follow_redirects=False
    )
    assert by_header.status_code == 303


def test_sign_out_ends_the_session_server_side(gateway: Gateway) -> None:
    csrf = sign_in(gateway.client, gateway.keys["civil-affairs"])
    token = gateway.client.cookies.get("cdg_session")
    gateway.client.post("/console/sign-out", data={"csrf": csrf})
    with gateway.ctx.store.sessions() as session:
        assert session.scalars(select(ConsoleSession)).all() == []
    gateway.client.cookies.set("cdg_session", str(token), path="/console")
    assert gateway.client.get("/console/", follow_redirects=False).status_code == 303


def test_idle_session_expires(gateway: Gateway) -> None:
    sign_in(gateway.client, gateway.keys["civil-affairs"])
    idle = gateway.ctx.settings.console_idle_minutes
    with gateway.ctx.store.transaction() as session:
        session.execute(
            update(ConsoleSession).values(last_seen_at=utcnow() - timedelta(minutes=idle + 1))
        )
    r = gateway.client.get("/console/", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].endswith("&expired=1")
    page = gateway.client.get(r.headers["location"])
    assert "长时间未操作" in page.text
    with gateway.ctx.store.sessions() as session:
        assert session.scalars(select(ConsoleSession)).all() == []


def test_recent_use_keeps_the_session(gateway: Gateway) -> None:
    sign_in(gateway.client, gateway.keys["civil-affairs"])
    idle = gateway.ctx.settings.console_idle_minutes
    with gateway.ctx.store.transaction() as session:
        session.execute(
            update(ConsoleSession).values(last_seen_at=utcnow() - timedelta(minutes=idle - 1))
        )
    assert gateway.client.get("/console/").status_code == 200
    with gateway.ctx.store.sessions() as session:
        seen = session.scalars(select(ConsoleSession.last_seen_at)).one()
    assert utcnow() - seen < timedelta(minutes=1)  # the use was recorded


def test_revoked_principal_loses_its_session(gateway: Gateway) -> None:
    sign_in(gateway.client, gateway.keys["jianshe-property"])
    with gateway.ctx.store.transaction() as session:
        revoke_principal(session, "jianshe-property")
    assert gateway.client.get("/console/", follow_redirects=False).status_code == 303


def test_a_session_ends_with_the_key_that_signed_in(gateway: Gateway) -> None:
    """A key rotated past its grace, expired or revoked ends the console sessions made with it."""
    old_key = gateway.keys["jianshe-property"]
    sign_in(gateway.client, old_key)
    rotated = gateway.client.post(
        "/v1/principals/me/rotate-key", headers={"Authorization": f"Bearer {old_key}"}, json={}
    )
    assert rotated.status_code == 200, rotated.text
    # Within the grace the old key, and so its session, still works.
    assert gateway.client.get("/console/", follow_redirects=False).status_code == 200
    old_digest = hashlib.sha256(old_key.encode()).hexdigest()
    with gateway.ctx.store.transaction() as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.digest == old_digest)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert gateway.client.get("/console/", follow_redirects=False).status_code == 303
    # A session made with the new key lives on until that key is revoked.
    sign_in(gateway.client, rotated.json()["api_key"])
    assert gateway.client.get("/console/", follow_redirects=False).status_code == 200
    with gateway.ctx.store.transaction() as session:
        session.execute(update(ApiKey).values(revoked_at=utcnow()))
    assert gateway.client.get("/console/", follow_redirects=False).status_code == 303
    with gateway.ctx.store.sessions() as session:
        assert session.scalars(select(ConsoleSession.digest)).all() == []


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/v1/datasets"])
def test_sign_in_only_returns_to_console_pages(gateway: Gateway, target: str) -> None:
    page = gateway.client.get("/console/sign-in")
    r = gateway.client.post(
        "/console/sign-in",
        data={"api_key": gateway.keys["civil-affairs"], "csrf": csrf_of(page.text), "next": target},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/console/"


def test_language_follows_the_switch_then_accept_language(gateway: Gateway) -> None:
    zh = gateway.client.get("/console/sign-in")
    assert '<html lang="zh-CN">' in zh.text and "登录" in zh.text
    en = gateway.client.get("/console/sign-in", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in en.text and "Sign in" in en.text
    r = gateway.client.post(
        "/console/language",
        data={"locale": "en", "csrf": csrf_of(zh.text), "next": "/console/sign-in"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/sign-in"
    switched = gateway.client.get("/console/sign-in", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in switched.text


def test_unknown_query_parameters_and_bad_forms_are_pages_not_errors(gateway: Gateway) -> None:
    csrf = sign_in(gateway.client, gateway.keys["civil-affairs"])
    r = gateway.client.post("/console/language", data={"csrf": csrf})  # no locale
    assert r.status_code == 422 and "<html" in r.text


def test_secure_cookies_when_configured(tmp_path: Path) -> None:
    gw = open_gateway(make_settings(tmp_path / "home", console_secure_cookies=True))
    try:
        page = gw.client.get("/console/sign-in")
        assert "Secure" in page.headers["set-cookie"]
        r = gw.client.post(
            "/console/sign-in",
            data={"api_key": gw.keys["civil-affairs"], "csrf": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert all("Secure" in c for c in r.headers.get_list("set-cookie"))
    finally:
        gw.client.close()
        gw.ctx.close()


def test_unknown_console_pages_are_html_404s(gateway: Gateway) -> None:
    r = gateway.client.get("/console/no/such/page")
    assert r.status_code == 404 and "<html" in r.text and "页面不存在" in r.text
    assert r.headers["content-security-policy"] == CSP
    assert gateway.client.get("/console/static/console.css").status_code == 200
    assert gateway.client.get("/console/static/nothing.css").status_code == 404


def test_the_language_switch_after_a_post_returns_to_a_page(gateway: Gateway) -> None:
    csrf = sign_in(gateway.client, gateway.keys["civil-affairs"])
    answer = gateway.client.post("/console/language", data={"csrf": csrf})  # 422 page
    assert 'name="next" value="/console/"' in answer.text


def test_repeated_failures_are_throttled_per_address(gateway: Gateway) -> None:
    from gateway.console.throttle import LIMIT, throttle_of

    throttle = throttle_of(gateway.client.app)
    try:
        page = gateway.client.get("/console/sign-in")
        csrf = csrf_of(page.text)
        for _ in range(LIMIT):
            r = gateway.client.post("/console/sign-in", data={"api_key": "cdg_wrong", "csrf": csrf})
            assert r.status_code == 401
        logged = len(entries(gateway, "console.sign_in_failed"))
        right = {"api_key": gateway.keys["civil-affairs"], "csrf": csrf}
        r = gateway.client.post("/console/sign-in", data=right)
        assert r.status_code == 429 and "登录失败次数过多" in r.text
        assert len(entries(gateway, "console.sign_in_failed")) == logged  # not even checked
    finally:
        throttle.forget("testclient")  # the address TestClient reports
    r = gateway.client.post("/console/sign-in", data=right, follow_redirects=False)
    assert r.status_code == 303


def test_cookies_are_secure_over_https(gateway: Gateway) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(gateway.client.app, base_url="https://testserver")
    page = client.get("/console/sign-in")
    assert "Secure" in page.headers["set-cookie"]
    r = client.post(
        "/console/sign-in",
        data={"api_key": gateway.keys["civil-affairs"], "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    session_cookie = next(c for c in r.headers.get_list("set-cookie") if "cdg_session=" in c)
    assert "Secure" in session_cookie


def test_a_session_ends_after_twelve_hours_whatever_its_use(gateway: Gateway) -> None:
    sign_in(gateway.client, gateway.keys["civil-affairs"])
    with gateway.ctx.store.transaction() as session:
        session.execute(
            update(ConsoleSession).values(
                created_at=utcnow() - timedelta(hours=12, minutes=1), last_seen_at=utcnow()
            )
        )
    assert gateway.client.get("/console/", follow_redirects=False).status_code == 303


def test_a_successful_sign_in_does_not_clear_the_refusals(gateway: Gateway) -> None:
    from fastapi.testclient import TestClient

    from gateway.console.throttle import LIMIT

    client = TestClient(gateway.client.app)
    csrf = csrf_of(client.get("/console/sign-in").text)
    right = {"api_key": gateway.keys["civil-affairs"], "csrf": csrf}
    wrong = {"api_key": "cdg_wrong", "csrf": csrf}
    for _ in range(LIMIT - 1):
        assert client.post("/console/sign-in", data=wrong).status_code == 401
    r = client.post("/console/sign-in", data=right, follow_redirects=False)
    assert r.status_code == 303  # still under the limit
    fresh = TestClient(gateway.client.app)  # same address, no session
    csrf = csrf_of(fresh.get("/console/sign-in").text)
    r = fresh.post("/console/sign-in", data={"api_key": "cdg_wrong", "csrf": csrf})
    assert r.status_code == 401  # the tenth refusal since the first
    r = fresh.post(
        "/console/sign-in",
        data={"api_key": gateway.keys["civil-affairs"], "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 429 and "登录失败次数过多" in r.text


def test_a_planted_csrf_cookie_cannot_sign_a_browser_in(gateway: Gateway) -> None:
    """Login CSRF: a cookie set by someone else (a sibling subdomain, an http page) with a
    value they chose, or a signed one used from another site, is refused."""
    import time as clock

    from fastapi.testclient import TestClient

    from gateway.console import form_tokens

    key = gateway.keys["civil-affairs"]
    victim = TestClient(gateway.client.app)
    for chosen in ("attacker-chosen", "0" * form_tokens.LENGTH):
        victim.cookies.set("cdg_csrf", chosen)
        r = victim.post(
            "/console/sign-in", data={"api_key": key, "csrf": chosen}, follow_redirects=False
        )
        assert r.status_code == 403 and "cdg_session" not in r.headers.get("set-cookie", "")
    # A token the gateway signed, but too old, is refused as well.
    old = form_tokens.issue(gateway.ctx, now=clock.time() - form_tokens.MAX_AGE - 10)
    assert not form_tokens.valid(gateway.ctx, old)
    victim.cookies.set("cdg_csrf", old)
    r = victim.post("/console/sign-in", data={"api_key": key, "csrf": old}, follow_redirects=False)
    assert r.status_code == 403
    # A fresh signed token works from the page itself, not from another site.
    attacker = TestClient(gateway.client.app)
    token = csrf_of(attacker.get("/console/sign-in").text)
    assert form_tokens.valid(gateway.ctx, token)
    victim.cookies.set("cdg_csrf", token)
    r = victim.post(
        "/console/sign-in",
        data={"api_key": key, "csrf": token},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = victim.post(
        "/console/sign-in",
        data={"api_key": key, "csrf": token},
        headers={"Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert r.status_code == 303
