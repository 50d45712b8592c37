"""JSON request bodies of the API: an object that gives one key twice is refused.

Python's ``json`` keeps the last of two equal keys; another reader (a reviewer's tool, a
log viewer, ``cdg audit verify-receipt``) may keep the first or refuse the document. One
body must not say one thing to the gateway and another to whoever reads it, so the API
refuses it: ``422 InvalidRequest`` before authentication and before anything is read or
written, like any body that is not valid JSON (docs/api.md, "Errors").

Every API router is made by ``api_router()``; its routes hand the endpoint an
``ApiRequest``, whose ``json()`` is the one FastAPI calls to parse a JSON body. The check
costs little on the run route (the busiest): one prebuilt decoder whose object hook
builds each dict with ``dict(pairs)`` and compares lengths. Measured with timeit on a
59-byte run body: 2.48 µs against 2.26 µs for ``json.loads``; the ``ApiRequest`` made for
each call adds about 0.6 µs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.errors import RepeatedKey


def _one_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise RepeatedKey(key)
            seen.add(key)
    return out


_DECODER = json.JSONDecoder(object_pairs_hook=_one_each)


def loads(body: bytes) -> Any:
    """``json.loads(body)`` (same encodings, same errors) refusing a repeated key.

    Raises ``RepeatedKey`` for an object, at any depth, that gives one key twice.
    """
    # What json.loads does with bytes, then its decoder with our hook: json.loads(...,
    # object_pairs_hook=...) would build a new decoder on every call (1.7 µs more).
    return _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))


class ApiRequest(Request):
    """A request whose JSON body is parsed by ``loads``: no key twice in one object."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class ApiRoute(APIRoute):
    """An API route: the endpoint (and FastAPI's body parsing) sees an ``ApiRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def api_handler(request: Request) -> Response:
            return await handler(ApiRequest(request.scope, request.receive))

        return api_handler


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter for ``/v1`` routes (see the module docstring)."""
    return APIRouter(route_class=ApiRoute, **kwargs)
