"""A path with a slash too many is an unknown path: 404 in the error shape, no redirect.

Starlette would answer it, before any authentication, with a 307 whose absolute Location
it builds from the client's Host header. The console's entry (/console -> /console/)
stays a redirect, to a relative Location.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway, assert_error, leaves_unchanged

HOME_VISIT = "public-service.elderly-care.home-visit"
SPOOFED = {"Host": "evil.example.test", "X-Forwarded-Host": "evil.example.test"}


@pytest.fixture
def world(gateway: Gateway, small_community: Community, tmp_path: Path) -> tuple[str, str, str]:
    """(source URL, residents dataset id, an approved query)."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, url))
    dataset = gateway.register_demo_dataset("residents", url)
    qid = gateway.approved_query("heping-committee", dataset, HOME_VISIT, {"select": ["age"]})
    return url, dataset, qid


def slashed(dataset: str, qid: str) -> list[tuple[str, str]]:
    return [
        ("POST", f"/v1/queries/{qid}/run/"),
        ("GET", "/v1/datasets/"),
        ("GET", f"/v1/datasets/{dataset}/"),
        ("PUT", f"/v1/datasets/{dataset}/policy/"),
        ("POST", "/v1/query-requests/"),
        ("GET", f"/v1/query-requests/{qid}/"),
        ("GET", "/v1/principals/me/"),
        ("GET", "/v1/audit/entries/"),
        ("GET", "/.well-known/cdg-audit-keys/"),
        ("GET", "/healthz/"),
        ("GET", "/openapi.json/"),
        ("GET", "/docs/"),
    ]


def test_a_trailing_slash_is_an_unknown_path_with_or_without_a_key(
    gateway: Gateway, world: tuple[str, str, str]
) -> None:
    source, dataset, qid = world
    for method, path in slashed(dataset, qid):
        for key in ({}, gateway.auth("heping-committee"), gateway.auth("civil-affairs")):
            with leaves_unchanged(gateway, source):
                r = gateway.client.request(
                    method, path, headers={**key, **SPOOFED}, json={}, follow_redirects=False
                )
            body = assert_error(r, 404)
            assert body["error"] == "NotFound", (path, body)
            assert body["detail"] == "no such path; the API's paths do not end with a slash"
            assert "location" not in r.headers, (path, r.headers)
    runs = gateway.get("civil-affairs", f"/v1/query-requests/{qid}").json()["runs_used"]
    assert runs == 0
    # Without the slash the same run is answered.
    assert gateway.run("heping-committee", qid).status_code == 200


def test_no_location_the_gateway_sends_follows_the_host_header(
    gateway: Gateway, world: tuple[str, str, str]
) -> None:
    _, dataset, qid = world
    paths = [*slashed(dataset, qid), ("GET", "/console"), ("GET", "/console/"),
             ("GET", "/console/sign-in/"), ("GET", "/console/audit/"), ("GET", "/v1"),
             ("GET", "/v1/"), ("GET", "/")]
    located = 0
    for method, path in paths:
        for key in ({}, gateway.auth("district-auditor")):
            r = gateway.client.request(
                method, path, headers={**key, **SPOOFED}, follow_redirects=False
            )
            location = r.headers.get("location")
            if location is not None:
                located += 1
                assert "evil" not in location, (path, location)
                assert location.startswith("/") and not location.startswith("//"), location
    assert located >= 2  # /console and /console/ do redirect, relatively


def test_the_console_entry_still_redirects_to_the_console(gateway: Gateway) -> None:
    r = gateway.client.get("/console", headers=SPOOFED, follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == "/console/"
    followed = gateway.client.get("/console", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.url.path == "/console/sign-in"
    assert followed.headers["content-type"].startswith("text/html")


def test_a_console_page_with_a_trailing_slash_is_the_console_not_found_page(
    gateway: Gateway,
) -> None:
    r = gateway.client.get("/console/sign-in/", headers=SPOOFED, follow_redirects=False)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "location" not in r.headers
