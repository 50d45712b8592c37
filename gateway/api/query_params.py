"""Unknown query parameters are refused, not ignored.

A misspelt filter (``?stauts=pending``) that the gateway silently dropped would answer
with everything the filter was meant to exclude. Every API operation (every route in
/openapi.json) therefore compares the query string's names with the parameters it
declares (its own and its dependencies'), and answers 422 naming what it does not know,
with the closest declared name as a hint. A parameter given twice (``?limit=1&limit=3``)
is refused the same way unless the route declares it as a list: which of the two would
count is a guess another reader (a proxy, a log) may make differently. Values are never
repeated; a name that does not look like a parameter name is shown as ``<parameter>``.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from typing import Any

from fastapi import Request
from fastapi._compat import field_annotation_is_sequence
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from gateway.errors import InvalidRequest

_SHOWN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,39}$")


def declared_query_names(dependant: Dependant) -> frozenset[str]:
    """Every query parameter a route reads: its own and its dependencies', by alias."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        names.update(field.alias for field in current.query_params)
        pending.extend(current.dependencies)
    return frozenset(names)


def declared_list_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters a route reads as a list (``?tag=a&tag=b``), by alias."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        names.update(
            field.alias
            for field in current.query_params
            if field_annotation_is_sequence(field.field_info.annotation)
        )
        pending.extend(current.dependencies)
    return frozenset(names)


Declared = tuple[frozenset[str], frozenset[str]]  # (every query name, the list ones)


def route_query_names(app: Any) -> dict[int, Declared]:
    """Route (by identity) -> its declared query names, built once per application.

    The route in the request scope is the router's own object; its effective form in
    this application (with the application's and router's dependencies) is what FastAPI
    solves, so the names are taken from that.
    """
    names: dict[int, Declared] | None = getattr(app.state, "query_names", None)
    if names is None:
        names = {}
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            dependant = getattr(context, "dependant", None)
            if not isinstance(route, APIRoute) or dependant is None:
                continue
            # The API's operations; pages for browsers (the console, /docs) are not checked.
            if getattr(context, "include_in_schema", route.include_in_schema):
                names[id(route)] = (
                    declared_query_names(dependant),
                    declared_list_names(dependant),
                )
        app.state.query_names = names
    return names


def _shown(name: str) -> str:
    return f"'{name}'" if _SHOWN.fullmatch(name) else "<parameter>"


def unknown_parameters_detail(unknown: list[str], declared: frozenset[str]) -> str:
    parts = []
    for name in unknown[:10]:
        text = _shown(name)
        close = difflib.get_close_matches(name, sorted(declared), n=1, cutoff=0.6)
        if close and _SHOWN.fullmatch(name):
            text += f" (did you mean '{close[0]}'?)"
        parts.append(text)
    accepted = ", ".join(sorted(declared)) if declared else "none"
    return f"unknown query parameter: {', '.join(parts)}; this endpoint accepts: {accepted}"


def repeated_parameters_detail(repeated: list[str]) -> str:
    shown = ", ".join(_shown(name) for name in repeated[:10])
    return f"query parameter given more than once: {shown}; give each parameter once"


async def reject_unknown_query_parameters(request: Request) -> None:
    """An app-wide dependency: 422 for any query parameter the route does not declare,
    and for one it declares given more than once (unless it is a list)."""
    query = request.scope.get("query_string", b"")
    if not query:  # most requests: nothing to compare
        return
    found = route_query_names(request.app).get(id(request.scope.get("route")))
    if found is None:  # not an API operation: nothing declared to compare with
        return
    declared, lists = found
    params = request.query_params
    unknown = list(dict.fromkeys(k for k in params if k not in declared))
    if unknown:
        raise InvalidRequest(unknown_parameters_detail(unknown, declared))
    if len(params.multi_items()) != len(params):  # some name is given twice
        counts = Counter(name for name, _ in params.multi_items())
        repeated = [name for name, n in counts.items() if n > 1 and name not in lists]
        if repeated:
            raise InvalidRequest(repeated_parameters_detail(repeated))
