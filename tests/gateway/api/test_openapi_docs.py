"""The API documents itself: security scheme, descriptions, valid examples, offline pages."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from gateway.api.openapi import STATIC
from gateway.api.operation_docs import OPERATIONS
from tests.conftest import Gateway

ROOT = Path(__file__).resolve().parents[3]
METHODS = ("get", "put", "post", "delete", "patch")
PUBLIC = {"GET /healthz", "GET /metrics", "GET /.well-known/cdg-audit-keys"}


@pytest.fixture
def spec(gateway: Gateway) -> dict[str, Any]:
    document: dict[str, Any] = gateway.client.get("/openapi.json").json()
    return document


def operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": op
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    }


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    # The operation's schema with the document's components, so "#/components/..." resolves.
    return jsonschema_rs.Draft202012Validator({**schema, "components": spec["components"]})


def test_every_operation_has_a_description_and_examples_that_fit_its_schemas(
    spec: dict[str, Any],
) -> None:
    problems: list[str] = []
    for key, op in operations(spec).items():
        if not op.get("description", "").strip():
            problems.append(f"{key}: no description")
        for media_type, media in op.get("requestBody", {}).get("content", {}).items():
            if "example" not in media:
                problems.append(f"{key}: no request example ({media_type})")
                continue
            errors = [
                e.message for e in validator(spec, media["schema"]).iter_errors(media["example"])
            ]
            problems += [f"{key}: request example: {e}" for e in errors[:3]]
        for status, response in op["responses"].items():
            for media_type, media in response.get("content", {}).items():
                if "example" not in media:
                    problems.append(f"{key}: no example for {status} {media_type}")
                    continue
                found = validator(spec, media.get("schema", {})).iter_errors(media["example"])
                problems += [f"{key}: {status} example: {e.message}" for e in list(found)[:3]]
        success = [s for s in op["responses"] if s.startswith("2")]
        assert success, key
        if success[0] != "204" and not op["responses"][success[0]].get("content"):
            problems.append(f"{key}: the success response declares no body")
    assert not problems, "\n".join(problems)


def test_no_documentation_entry_names_an_operation_that_does_not_exist(
    spec: dict[str, Any],
) -> None:
    stale = sorted(set(OPERATIONS) - set(operations(spec)))
    assert not stale, f"gateway/api/operation_docs.py documents missing operations: {stale}"


def test_every_keyed_operation_declares_the_bearer_scheme(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["apiKey"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    for key, op in operations(spec).items():
        if key in PUBLIC:
            assert "security" not in op, key
        else:
            assert op.get("security") == [{"apiKey": []}], key
            assert "401" in op["responses"], key


def test_try_it_out_works_with_the_documented_scheme(
    gateway: Gateway, spec: dict[str, Any]
) -> None:
    """What Swagger UI sends after Authorize: the key as a bearer token, the example body."""
    op = spec["paths"]["/v1/principals/me"]["get"]
    assert op["security"] == [{"apiKey": []}]
    r = gateway.client.get("/v1/principals/me", headers=gateway.auth("heping-committee"))
    assert r.json() == op["responses"]["200"]["content"]["application/json"]["example"]
    body = spec["paths"]["/v1/decisions/explain"]["post"]["requestBody"]["content"]
    example = body["application/json"]["example"]
    r = gateway.client.post(
        "/v1/decisions/explain", json=example, headers=gateway.auth("district-auditor")
    )
    assert r.status_code == 404, r.text  # a well-formed body: the example dataset is not here


_REFERENCE = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""")
_EXTERNAL = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+", re.I)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_pages_load_everything_from_the_gateway(
    gateway: Gateway, page: str
) -> None:
    r = gateway.client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert not _EXTERNAL.search(html), _EXTERNAL.search(html)
    references = {a or b for a, b in _REFERENCE.findall(html)}
    assert "/openapi.json" in references
    scripts = [u for u in references if u.endswith(".js")]
    assert scripts, references
    for url in references:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = gateway.client.get(url)
        assert asset.status_code == 200 and asset.content, url
        if url.endswith(".css"):
            for target in re.findall(r"url\(\s*['\"]?([^'\")]+)", asset.text):
                assert target.startswith("data:") or not _EXTERNAL.match(target), target


def test_a_missing_asset_is_a_plain_404(gateway: Gateway) -> None:
    r = gateway.client.get("/docs/static/swagger-ui/nothing.js")
    assert r.status_code == 404 and set(r.json()) == {"error", "detail", "request_id"}
    assert gateway.client.get("/docs/static/../../settings.py").status_code == 404


def test_the_assets_and_their_licences_ship_in_the_wheel() -> None:
    files = [p.relative_to(STATIC.parent).as_posix() for p in STATIC.rglob("*") if p.is_file()]
    names = {Path(f).name for f in files}
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"} <= names
    assert {"LICENSE", "NOTICE", "README.md"} <= names
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["gateway.api"]
    unshipped = [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert not unshipped, unshipped
