"""Helpers for console tests over plain HTTP: sign in through the form, read CSRF tokens."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

_CSRF = re.compile(r'name="csrf" value="([0-9A-Za-z_\-]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, api_key: str) -> str:
    """Sign in with ``api_key``; returns the session's CSRF token (from the home page)."""
    page = client.get("/console/sign-in")
    assert page.status_code == 200, page.text
    r = client.post(
        "/console/sign-in",
        data={"api_key": api_key, "csrf": csrf_of(page.text), "next": "/console/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    home = client.get("/console/")
    assert home.status_code == 200, home.text
    return csrf_of(home.text)
