"""The OpenAPI document and the pages that show it, served without any outside host.

* ``/openapi.json`` gains a bearer security scheme on every operation that needs an API
  key (so Swagger UI has an Authorize button and "Try it out" sends the key), and each
  operation's description and examples from gateway/api/operation_docs.py; every error
  response shows an example of the one error shape.
* ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) load their scripts and styles from
  ``/docs/static``: copies shipped inside the package (gateway/api/static/, see its
  README.md for versions and licences), since a department's intranet may not reach a CDN.
  Both pages carry a Content-Security-Policy: scripts from this origin plus the one inline
  script Swagger UI starts with (allowed by its SHA-256, computed from the page itself),
  styles from this origin and inline (both libraries set style attributes and ReDoc
  injects <style> elements), no framing (``frame-ancestors 'none'``, ``X-Frame-Options``).
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles

from gateway.api.dependencies import bearer_token
from gateway.api.operation_docs import OPERATIONS

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = "/docs/static"
SCHEME = "apiKey"
_METHODS = ("get", "put", "post", "delete", "patch")

_ERROR_EXAMPLES: dict[str, tuple[str, str, str | None]] = {
    "401": ("Unauthenticated", "send an API key as 'Authorization: Bearer <key>'", None),
    "403": (
        "Forbidden",
        "该用途不提供字段“address” / column 'address' is withheld for this purpose",
        "column_withheld",
    ),
    "404": ("NotFound", "no such dataset", None),
    "409": ("Conflict", "a source with this name exists", None),
    "413": ("PayloadTooLarge", "the request body is larger than the gateway accepts", None),
    "422": (
        "InvalidRequest",
        "unknown query parameter: 'stauts' (did you mean 'status'?); "
        "this endpoint accepts: limit, status",
        None,
    ),
}


_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def protected(page: HTMLResponse) -> HTMLResponse:
    """``page`` with a CSP allowing its own inline scripts by hash, and no framing."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(bytes(page.body))
    )
    page.headers["content-security-policy"] = (
        f"default-src 'none'; script-src 'self' {hashes}; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
        "connect-src 'self'; worker-src 'self' blob:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ).replace(" ;", ";")
    page.headers["x-frame-options"] = "DENY"
    page.headers["x-content-type-options"] = "nosniff"
    page.headers["referrer-policy"] = "no-referrer"
    return page


def install(app: FastAPI) -> None:
    """Serve the enriched document and the two documentation pages on ``app``."""
    app.mount(ASSETS, StaticFiles(directory=STATIC), name="docs-static")
    title = app.title
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return protected(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{title} — API",
                swagger_js_url=f"{ASSETS}/swagger-ui/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS}/swagger-ui/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS}/swagger-ui/favicon-32x32.png",
                # No validator badge: it would send the document to validator.swagger.io.
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return protected(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{title} — API",
                redoc_js_url=f"{ASSETS}/redoc/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS}/swagger-ui/favicon-32x32.png",
                with_google_fonts=False,
            )
        )

    generate = app.openapi
    lock = threading.Lock()

    def openapi() -> dict[str, Any]:
        with lock:  # FastAPI caches its document; it is enriched exactly once
            if not getattr(app.state, "openapi_enriched", False):
                document = generate()
                enrich(document, _authenticated_operations(app))
                app.state.openapi_enriched = True
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _needs_key(dependant: Dependant) -> bool:
    pending = [dependant]
    while pending:
        current = pending.pop()
        if current.call is bearer_token:  # every authenticated route reads the key
            return True
        pending.extend(current.dependencies)
    return False


def _authenticated_operations(app: FastAPI) -> set[str]:
    """``"METHOD /path"`` of every operation whose dependencies authenticate the caller."""
    found: set[str] = set()
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        route = context.original_route
        if isinstance(route, APIRoute) and dependant is not None and _needs_key(dependant):
            found |= {f"{m} {context.path}" for m in context.methods or ()}
    return found


def enrich(document: dict[str, Any], authenticated: set[str]) -> None:
    """Add the security scheme, descriptions and examples to a generated document."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "cdg_…",
        "description": "An API key from `cdg principal add`, sent as "
        "`Authorization: Bearer cdg_…`.",
    }
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            key = f"{method.upper()} {path}"
            if key in authenticated:
                operation["security"] = [{SCHEME: []}]
            doc = OPERATIONS.get(key)
            if doc is not None:
                _apply(operation, doc.description, doc.request, doc.response)
            _error_examples(operation)


def _apply(operation: dict[str, Any], description: str, request: Any, response: Any) -> None:
    if not operation.get("description"):
        operation["description"] = description
    if request is not None:
        for media in operation.get("requestBody", {}).get("content", {}).values():
            media["example"] = request
    success = next((s for s in sorted(operation.get("responses", {})) if s.startswith("2")), None)
    if success is None or not response:
        return
    content = operation["responses"][success].setdefault("content", {})
    for media_type, example in response.items():
        media = content.setdefault(media_type, {"schema": {"type": "string"}})
        media["example"] = example
    # A streamed or text answer declared no JSON body: drop FastAPI's placeholder for it.
    placeholder = content.get("application/json")
    if (
        "application/json" not in response
        and placeholder is not None
        and not placeholder.get("schema")
    ):
        del content["application/json"]


def _error_examples(operation: dict[str, Any]) -> None:
    for status, response in operation.get("responses", {}).items():
        shown = _ERROR_EXAMPLES.get(status)
        media = response.get("content", {}).get("application/json")
        if shown is None or media is None:
            continue
        error, detail, reason = shown
        example: dict[str, Any] = {
            "error": error,
            "detail": detail,
            "request_id": "577a286978cb4275a2b86284c4ef3560",
        }
        if reason:
            example["reason"] = reason
        media.setdefault("example", example)
