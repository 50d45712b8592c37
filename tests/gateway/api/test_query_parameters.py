"""Unknown query parameters and misspelt filters are refused with 422, on every route."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from gateway.api.query_params import declared_query_names
from tests.conftest import Gateway, assert_error

SECRET = "zz-secret-value-42"


def _routes(gateway: Gateway) -> list[tuple[str, str, frozenset[str]]]:
    """(method, a path of the route, the query names it declares) for every FastAPI route."""
    found = []
    for context in iter_route_contexts(gateway.client.app.routes):  # type: ignore[attr-defined]
        if isinstance(context.original_route, APIRoute) and context.include_in_schema:
            declared = declared_query_names(context.dependant)
            for method in sorted((context.methods or set()) - {"HEAD"}):
                path = re.sub(r"\{[^}]+\}", "x", str(context.path))
                found.append((method, path, declared))
    return found


def test_every_route_refuses_an_unknown_parameter_and_names_it(gateway: Gateway) -> None:
    routes = _routes(gateway)
    assert len(routes) >= 30
    for method, path, declared in routes:
        r = gateway.client.request(
            method,
            f"{path}?bogus_filter={SECRET}",
            headers=gateway.auth("district-auditor"),
            json={} if method in ("POST", "PUT") else None,
        )
        body = assert_error(r, 422, echoed=(SECRET,))
        assert body["error"] == "InvalidRequest", (method, path, body)
        assert "unknown query parameter: 'bogus_filter'" in body["detail"], (method, path, body)
        accepted = ", ".join(sorted(declared)) or "none"
        assert body["detail"].endswith(f"this endpoint accepts: {accepted}"), body


def test_a_misspelt_filter_gets_a_hint_and_correct_ones_still_work(gateway: Gateway) -> None:
    r = gateway.get("heping-committee", "/v1/query-requests?stauts=pending&limit=5")
    body = assert_error(r, 422, echoed=("pending",))
    assert body["detail"] == (
        "unknown query parameter: 'stauts' (did you mean 'status'?); "
        "this endpoint accepts: limit, status"
    )
    ok = gateway.get("heping-committee", "/v1/query-requests?status=pending&limit=5")
    assert ok.status_code == 200, ok.text
    r = gateway.get("district-auditor", "/v1/audit/entries?dataste=ds_1&app=x&decison=denied")
    detail = assert_error(r, 422)["detail"]
    assert "'dataste' (did you mean 'dataset'?), 'decison' (did you mean 'decision'?)" in detail


def test_names_that_are_not_parameter_names_are_not_echoed(gateway: Gateway) -> None:
    r = gateway.get("district-auditor", "/v1/budgets", params={"<script>x": "1", "a b": "2"})
    body = assert_error(r, 422, echoed=("<script>", "a b"))
    assert body["detail"] == (
        "unknown query parameter: <parameter>, <parameter>; this endpoint accepts: none"
    )


def test_pages_for_browsers_are_not_checked(gateway: Gateway) -> None:
    """The console and the documentation pages are not API operations (links may carry
    anything); only operations in /openapi.json are held to their declared parameters."""
    assert gateway.client.get("/docs?utm_source=mail").status_code == 200


def test_routes_without_a_key_check_parameters_too(gateway: Gateway) -> None:
    assert_error(gateway.client.get("/healthz?verbose=1"), 422)
    assert gateway.client.get("/healthz").status_code == 200
    # A run with a stray parameter is refused before anything is read or logged.
    r = gateway.post("heping-committee", "/v1/queries/qr_missing/run?dry_run=1", {"params": {}})
    assert "'dry_run'" in assert_error(r, 422)["detail"]


@pytest.mark.parametrize("query", ["", "?", "?&"])
def test_an_empty_query_string_is_not_a_parameter(gateway: Gateway, query: str) -> None:
    assert gateway.get("heping-committee", f"/v1/principals/me{query}").status_code == 200
