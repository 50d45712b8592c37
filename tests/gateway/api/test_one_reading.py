"""Input that two readers could read two ways is refused, not read one way by the gateway.

Two ``Authorization`` headers (the gateway would read the first, a proxy or a log maybe
the last), a query parameter given twice (the last would win), a JSON body in UTF-16 or
UTF-32 or labelled with another charset (RFC 8259 §8.1: JSON between systems is UTF-8).
Each refusal is the documented error shape, repeats no value, and comes before anything
is read, counted or stored. Also: an unknown path's 404 mentions the trailing slash only
when the path has one.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Query
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from gateway.api import errors
from gateway.api.query_params import declared_list_names, reject_unknown_query_parameters
from tests.conftest import ERROR_KEYS, Gateway, assert_error, leaves_unchanged
from tests.gateway.api.test_repeated_keys import HIDDEN, HOME_VISIT, SPEC, runs_used, world

__all__ = ["world"]  # a fixture: used by name

BOGUS = "cdg_bogus-never-echoed-41"
NOT_JSON = "the request body is not valid JSON"


# -- two Authorization headers -------------------------------------------------------------


def two_keys(gateway: Gateway, first: str, second: str) -> list[tuple[str, str]]:
    return [
        ("Authorization", f"Bearer {first}"),
        ("Authorization", f"Bearer {second}"),
        ("Content-Type", "application/json"),
    ]


def refused_as_two_keys(response: Any, *echoed: str) -> None:
    body = assert_error(response, 401, echoed=echoed)
    assert body["error"] == "Unauthenticated", body
    assert body["detail"] == "send one Authorization header, not several", body


@pytest.mark.parametrize("order", ["good-first", "bogus-first", "both-good", "two-apps"])
def test_a_run_with_two_authorization_headers_is_refused_and_counts_nothing(
    gateway: Gateway, world: tuple[str, str, str], order: str
) -> None:
    source, _, qid = world
    good = gateway.keys["heping-committee"]
    first, second = {
        "good-first": (good, BOGUS),
        "bogus-first": (BOGUS, good),
        "both-good": (good, good),
        "two-apps": (good, gateway.keys["guangming-eldercare"]),
    }[order]
    url = f"/v1/queries/{qid}/run"
    with leaves_unchanged(gateway, source):
        r = gateway.client.post(
            url, content='{"params": {}}', headers=two_keys(gateway, first, second)
        )
    refused_as_two_keys(r, BOGUS, good)
    assert runs_used(gateway, qid) == 0
    # One header with the good key runs, and is counted.
    assert gateway.run("heping-committee", qid).status_code == 200
    assert runs_used(gateway, qid) == 1


def test_two_authorization_headers_are_refused_on_other_routes_too(gateway: Gateway) -> None:
    good = gateway.keys["civil-affairs"]
    for method, path in [("GET", "/v1/principals/me"), ("GET", "/v1/datasets"),
                         ("POST", "/v1/principals/me/rotate-key"),
                         ("POST", "/v1/audit/checkpoint")]:
        with leaves_unchanged(gateway, None):
            r = gateway.client.request(
                method, path, content="{}", headers=two_keys(gateway, good, good)
            )
        refused_as_two_keys(r, good)
    assert gateway.get("civil-affairs", "/v1/principals/me").status_code == 200


# -- a query parameter given twice ---------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "query", "names"),
    [
        ("district-auditor", "/v1/audit/entries?limit=1&limit=3", "'limit'"),
        ("heping-committee", "/v1/query-requests?status=pending&status=approved", "'status'"),
        ("heping-committee", f"/v1/query-requests?status={HIDDEN}&limit=5&status=x&limit=6",
         "'status', 'limit'"),
        ("district-auditor", "/v1/audit/entries?limit=2&limit=2", "'limit'"),  # equal values
        ("district-auditor", "/v1/audit/entries?limit&limit=", "'limit'"),  # empty values
    ],
)
def test_a_query_parameter_given_twice_is_refused_without_its_values(
    gateway: Gateway, who: str, query: str, names: str
) -> None:
    with leaves_unchanged(gateway, None):
        r = gateway.get(who, query)
    body = assert_error(r, 422, echoed=(HIDDEN, "pending", "approved"))
    assert body["error"] == "InvalidRequest", body
    assert body["detail"] == (
        f"query parameter given more than once: {names}; give each parameter once"
    ), body
    once = query.partition("&")[0]
    if HIDDEN not in once and "=" in once:  # given once, a valid value is answered
        assert gateway.get(who, once).status_code == 200


def test_a_repeated_parameter_is_refused_before_authentication(gateway: Gateway) -> None:
    r = gateway.client.get("/v1/audit/entries?limit=1&limit=3")
    assert "given more than once: 'limit'" in assert_error(r, 422)["detail"]
    # An unknown parameter is named first; the repeat of a declared one then.
    r = gateway.get("district-auditor", "/v1/audit/entries?limitt=1&limit=1&limit=2")
    assert "unknown query parameter: 'limitt'" in assert_error(r, 422)["detail"]


def test_no_api_operation_declares_a_list_parameter_today(gateway: Gateway) -> None:
    """If one ever does (``tag: list[str] = Query()``), repeating it stays allowed."""
    lists = [
        (context.path, declared_list_names(context.dependant))
        for context in iter_route_contexts(gateway.client.app.routes)  # type: ignore[attr-defined]
        if isinstance(context.original_route, APIRoute) and context.include_in_schema
    ]
    assert len(lists) >= 30
    assert [(path, names) for path, names in lists if names] == []


def test_a_list_parameter_may_be_repeated() -> None:
    app = FastAPI(dependencies=[Depends(reject_unknown_query_parameters)])
    errors.install(app)

    @app.get("/tags")
    def tags(tag: Annotated[list[str], Query()], limit: int = 1) -> list[str]:
        return tag[:limit]

    with TestClient(app) as client:
        assert client.get("/tags?tag=a&tag=b&limit=2").json() == ["a", "b"]
        r = client.get("/tags?tag=a&limit=1&limit=2")
        assert r.status_code == 422 and set(r.json()) == ERROR_KEYS, r.text
        assert r.json()["detail"].startswith("query parameter given more than once: 'limit'")


# -- JSON bodies are UTF-8 ------------------------------------------------------------------


RUN_BODY = '{"params": {"min_age": 85}}'


def refused_as_not_json(
    gateway: Gateway, world: tuple[str, str, str], content: bytes, sent: list[tuple[str, str]]
) -> None:
    """A run with this body and these headers is refused as not JSON, and counts nothing."""
    source, _, qid = world
    headers = [*gateway.auth("heping-committee").items(), *sent]
    with leaves_unchanged(gateway, source):
        r = gateway.client.post(f"/v1/queries/{qid}/run", content=content, headers=headers)
    body = assert_error(r, 422)
    assert (body["error"], body["detail"]) == ("InvalidRequest", NOT_JSON), body
    assert runs_used(gateway, qid) == 0


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(RUN_BODY.encode("utf-16"), "application/json", id="utf-16"),
        pytest.param(RUN_BODY.encode("utf-16-le"), "application/json", id="utf-16-le"),
        pytest.param(RUN_BODY.encode("utf-16-be"), "application/json", id="utf-16-be"),
        pytest.param(RUN_BODY.encode("utf-32"), "application/json", id="utf-32"),
        pytest.param(RUN_BODY.encode("utf-32-be"), "application/json", id="utf-32-be"),
        pytest.param(RUN_BODY.encode("utf-16"), "application/json; charset=utf-16", id="said"),
        pytest.param(RUN_BODY.encode(), "application/json; charset=latin-1", id="latin-1"),
        pytest.param(RUN_BODY.encode(), 'application/json;Charset="ISO-8859-1"', id="quoted"),
        pytest.param(b'{"params": {"min_age": 85, "x": "\xed\xa0\x80"}}', "application/json",
                     id="encoded-surrogate"),
    ],
)
def test_a_run_body_that_is_not_utf8_is_refused_and_counts_nothing(
    gateway: Gateway, world: tuple[str, str, str], content: bytes, content_type: str
) -> None:
    refused_as_not_json(gateway, world, content, [("Content-Type", content_type)])


@pytest.mark.parametrize(
    "content_types",
    [
        pytest.param(
            ["application/json", "application/json; charset=latin-1"], id="utf-8-then-latin-1"
        ),
        pytest.param(["application/json", "application/json"], id="twice-the-same"),
        pytest.param(["application/json; charset*=iso-8859-1''x"], id="rfc2231-charset"),
    ],
)
def test_two_content_types_or_a_charset_star_are_refused_and_count_nothing(
    gateway: Gateway, world: tuple[str, str, str], content_types: list[str]
) -> None:
    """Two Content-Type headers could name two charsets, one for the gateway and one for
    a proxy or a log; RFC 2231's ``charset*`` is another way to name one."""
    sent = [("Content-Type", value) for value in content_types]
    refused_as_not_json(gateway, world, RUN_BODY.encode(), sent)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(RUN_BODY.encode(), "application/json; charset=utf-8", id="utf-8"),
        pytest.param(RUN_BODY.encode(), 'application/json; charset="UTF-8"', id="quoted"),
        pytest.param(b"\xef\xbb\xbf" + RUN_BODY.encode(), "application/json", id="bom"),
        pytest.param('{"params": {"min_age": 85}, "名": 1}'.encode(), "application/json",
                     id="non-ascii-key"),  # read as UTF-8, then refused as an unknown field
    ],
)
def test_a_utf8_run_body_is_read(
    gateway: Gateway, world: tuple[str, str, str], content: bytes, content_type: str
) -> None:
    _, _, qid = world
    headers = {**gateway.auth("heping-committee"), "Content-Type": content_type}
    r = gateway.client.post(f"/v1/queries/{qid}/run", content=content, headers=headers)
    if b"\xe5\x90\x8d" in content:
        assert "Extra inputs are not permitted" in assert_error(r, 422)["detail"]
        return
    assert r.status_code == 200, r.text
    assert runs_used(gateway, qid) == 1


def test_filing_a_utf16_request_stores_nothing(
    gateway: Gateway, world: tuple[str, str, str]
) -> None:
    source, dataset, _ = world
    text = json.dumps({"dataset": dataset, "purpose": HOME_VISIT, "justification": "v",
                       "spec": SPEC})
    listed = gateway.get("heping-committee", "/v1/query-requests").json()
    for encoding in ("utf-16", "utf-32"):
        with leaves_unchanged(gateway, source):
            r = gateway.client.post(
                "/v1/query-requests", content=text.encode(encoding),
                headers={**gateway.auth("heping-committee"), "Content-Type": "application/json"},
            )
        assert assert_error(r, 422)["detail"] == NOT_JSON
    assert gateway.get("heping-committee", "/v1/query-requests").json() == listed


# -- 404 for unknown paths ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nonexistent", "/v1/nothing", "/v1/queries/x/runs", "/",
                                  "/v1", "/v1/datasets/x/policy/y"])
def test_an_unknown_path_without_a_trailing_slash_gets_no_slash_hint(
    gateway: Gateway, path: str
) -> None:
    r = gateway.client.get(path, headers=gateway.auth("district-auditor"))
    body = assert_error(r, 404)
    assert (body["error"], body["detail"]) == ("NotFound", "no such path"), (path, body)


def test_an_unknown_path_with_a_trailing_slash_gets_the_hint(gateway: Gateway) -> None:
    for path in ("/nonexistent/", "/v1/datasets/", "/v1/"):
        body = assert_error(gateway.client.get(path), 404)
        assert body["detail"] == "no such path; the API's paths do not end with a slash", body
