"""Request-scoped dependencies: the context, a store session, the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from gateway.auditlog.service import record_in
from gateway.auth.keys import Recorder
from gateway.auth.service import authenticate
from gateway.budget.service import epsilon_left
from gateway.catalog.service import EpsilonLeft
from gateway.context import GatewayContext
from gateway.errors import InvalidRequest, NotFound, Unauthenticated
from gateway.principal import AuthPrincipal

# Dependencies without I/O are ``async def``: FastAPI runs them on the event loop
# instead of handing each to a worker thread (a thread hop costs about 0.1 ms).


async def reject_nul_characters(request: Request) -> None:
    """No id or filter holds NUL, and PostgreSQL cannot even compare text with it."""
    if "\x00" in request.scope.get("path", ""):
        raise NotFound("no such resource")
    if any("\x00" in k or "\x00" in v for k, v in request.query_params.multi_items()):
        raise InvalidRequest("the query string contains a NUL character")


async def get_context(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.ctx
    return ctx


Context = Annotated[GatewayContext, Depends(get_context)]


def get_session(ctx: Context) -> Iterator[Session]:
    """One session per request, committed when the endpoint returns without error.

    Scope "function" makes the commit happen before the response is sent.
    """
    with ctx.store.sessions() as session:
        yield session
        session.commit()


DbSession = Annotated[Session, Depends(get_session, scope="function")]


async def bearer_token(request: Request) -> str:
    """The API key the caller sent, unchecked (no I/O: the route authenticates it).

    A request with two ``Authorization`` headers is refused: the gateway would read one
    and a proxy or a log another, so it could be counted as one caller and seen as another.
    """
    sent = [value for name, value in request.scope["headers"] if name == b"authorization"]
    if len(sent) > 1:
        raise Unauthenticated("send one Authorization header, not several")
    header = sent[0].decode("latin-1") if sent else ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")
    return token.strip()


BearerToken = Annotated[str, Depends(bearer_token)]


def current_principal(ctx: Context, token: BearerToken) -> AuthPrincipal:
    with ctx.store.sessions() as session:
        return authenticate(session, token, ctx.principals)


CurrentPrincipal = Annotated[AuthPrincipal, Depends(current_principal)]


async def get_recorder(ctx: Context) -> Recorder:
    """Appends access-log entries for domains that do not import the log (auth)."""

    def record(session: Session, event: str, principal: AuthPrincipal, **fields: Any) -> object:
        return record_in(session, ctx, event, principal, **fields)

    return record


AuditRecorder = Annotated[Recorder, Depends(get_recorder)]


async def get_epsilon_left() -> EpsilonLeft:
    """The budget ledger's answer for the catalogue (the catalog does not import budgets)."""
    return epsilon_left


EpsilonLeftLookup = Annotated[EpsilonLeft, Depends(get_epsilon_left)]


def request_id_of(request: Request) -> str:
    """The id RequestIdMiddleware gave this HTTP request."""
    return str(request.scope.get("state", {}).get("request_id", ""))


async def request_id(request: Request) -> str:
    return request_id_of(request)


RequestId = Annotated[str, Depends(request_id)]
