"""One-time links through which a resident reads who received their data.

A department issues a link for a resident it serves (by ID number, turned into the
SubjectRef at once); the resident opens it once and gets a short session in which they
see, for the issuing department's datasets, which app received rows about them, when,
for which purpose and under which legal basis, and nothing else. The department sees
nothing through a link that ``resident.history`` does not already show it.

Only SHA-256 digests of the link token and of the session token are stored, so a copy
of the store opens nothing. Opening is one conditional UPDATE (unused, unrevoked, not
expired) that also sets the session: two opens racing each other cannot both succeed.
Issuing, opening (and a refused open of a known link), revoking and every history read
are logged; an unknown token is not (anyone can send one, and it names nothing).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from gateway.access.permissions import Resource, require, require_caller
from gateway.auditlog.models import ResidentLink
from gateway.auditlog.repository import AuditRepository
from gateway.auditlog.schemas import ResidentLinkCreate, ResidentLinkIssued, ResidentLinkOut
from gateway.auditlog.service import columns_damaged, record, record_in
from gateway.catalog.repository import CatalogRepository
from gateway.context import GatewayContext
from gateway.errors import NotFound
from gateway.oversight.link_repository import ResidentLinkRepository
from gateway.principal import AuthPrincipal
from gateway.store.base import new_id, utcnow

# Where the resident opens a link (the console); the token follows.
OPEN_PATH = "/console/resident/open/"
# At most this many accesses are shown (newest first); a resident with more is told so.
MAX_SHOWN = 2000
# What ``secrets.token_urlsafe(32)`` makes: anything else is refused before a lookup.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")

LinkState = Literal["unused", "opened", "expired", "revoked", "unknown"]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def is_token(value: str) -> bool:
    return _TOKEN.fullmatch(value) is not None


def _state(row: ResidentLink, now: datetime) -> LinkState:
    if row.revoked_at is not None:
        return "revoked"
    if row.opened_at is not None:
        return "opened"
    if row.expires_at <= now:
        return "expired"
    return "unused"


def _out(row: ResidentLink, issuer: str, now: datetime) -> ResidentLinkOut:
    state = _state(row, now)
    return ResidentLinkOut(
        id=row.id,
        issued_by=issuer,
        created_at=row.created_at,
        expires_at=row.expires_at,
        state=state if state != "unknown" else "expired",
        opened_at=row.opened_at,
    )


# -- the department's side --------------------------------------------------------------


def issue(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    body: ResidentLinkCreate,
    request_id: str,
) -> ResidentLinkIssued:
    """A new link for the resident with this ID number; its token is shown only here."""
    require("resident_link.issue", principal)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = ResidentLink(
        id=new_id("rl"),
        subject_ref=ctx.subjects.ref(body.id_number),
        issuer_id=principal.id,
        token_digest=_digest(token),
        created_at=now,
        expires_at=now + timedelta(hours=body.expires_in_hours or ctx.settings.resident_link_hours),
    )
    ResidentLinkRepository(session).add(row)
    # The link and its entry commit together; the entry names the link, not the resident.
    record_in(
        session,
        ctx,
        "subject.link_issued",
        principal,
        link=row.id,
        expires_at=row.expires_at.isoformat(timespec="seconds"),
        request_id=request_id,
    )
    return ResidentLinkIssued(
        id=row.id,
        url=f"{ctx.settings.base_url.rstrip('/')}{OPEN_PATH}{token}",
        token=token,
        expires_at=row.expires_at,
    )


def list_links(
    session: Session, principal: AuthPrincipal, limit: int = 100
) -> list[ResidentLinkOut]:
    """Links issued by the caller's department (any of its principals), newest first."""
    require("resident_link.list", principal)
    found = ResidentLinkRepository(session).of_department(principal.domain, limit)
    now = utcnow()
    return [_out(row, name, now) for row, name in found]


def revoke(
    session: Session,
    ctx: GatewayContext,
    principal: AuthPrincipal,
    link_id: str,
    request_id: str,
) -> ResidentLinkOut:
    """End a link (and any session it opened); only its issuing department may."""
    require_caller("resident_link.revoke", principal)
    found = ResidentLinkRepository(session).with_issuer(link_id)
    if found is None:
        raise NotFound("no such resident link")
    row, issuer, domain = found
    require("resident_link.revoke", principal, Resource(owner=domain))
    if row.revoked_at is None:
        ResidentLinkRepository(session).revoke(row, utcnow())
        record_in(
            session, ctx, "subject.link_revoked", principal, link=row.id, request_id=request_id
        )
    return _out(row, issuer, utcnow())


# -- the resident's side ----------------------------------------------------------------


def _resident(row: ResidentLink, domain: str) -> AuthPrincipal:
    """The resident as a caller: known only by the link, acting within its issuer's scope."""
    return AuthPrincipal(
        id=row.id, name="resident", kind="resident", role="resident", domain=domain
    )


# Whoever opens a link, before it is known whose it is.
_VISITOR = AuthPrincipal(id="", name="visitor", kind="visitor", role="", domain="")


def link_state(session: Session, token: str) -> LinkState:
    """What opening this token would meet, without opening it (for the page before it)."""
    if not is_token(token):
        return "unknown"
    found = ResidentLinkRepository(session).by_token(_digest(token))
    return "unknown" if found is None else _state(found, utcnow())


@dataclass(frozen=True)
class Opened:
    """An open's answer: a session token when it succeeded, else why it did not."""

    state: LinkState
    session_token: str | None = None
    session_expires_at: datetime | None = None


def open_link(session: Session, ctx: GatewayContext, token: str, request_id: str) -> Opened:
    """Exchange the link's token, once, for a session of ``CDG_RESIDENT_SESSION_MINUTES``.

    The caller commits ``session`` whatever the answer: a refused open of a known link is
    logged in it too.
    """
    require("resident_link.open", _VISITOR)  # public: the token itself is the credential
    if not is_token(token):
        return Opened("unknown")
    digest = _digest(token)
    now = utcnow()
    session_token = secrets.token_urlsafe(32)
    ends = now + timedelta(minutes=ctx.settings.resident_session_minutes)
    links = ResidentLinkRepository(session)
    opened = links.claim_open(digest, now, _digest(session_token), ends)
    found = links.by_token_with_domain(digest)
    if found is None:
        return Opened("unknown")  # not logged: anyone may send a token, and it names nothing
    row, domain = found
    resident = _resident(row, domain)
    if opened:
        record_in(
            session,
            ctx,
            "subject.link_opened",
            resident,
            link=row.id,
            outcome="ok",
            request_id=request_id,
        )
        return Opened("opened", session_token, ends)
    state = _state(row, now)
    reason = {"opened": "link_used", "revoked": "link_revoked"}.get(state, "link_expired")
    # In the caller's transaction: the UPDATE above holds the store's write lock on SQLite.
    record_in(
        session,
        ctx,
        "subject.link_opened",
        resident,
        link=row.id,
        outcome="refused",
        decision={"allowed": False, "reason_code": reason},
        request_id=request_id,
    )
    return Opened(state)


@dataclass(frozen=True)
class Resident:
    """A resident signed in through a link: whose history, and within which datasets."""

    principal: AuthPrincipal
    subject_ref: str
    issuer: str  # the issuing department's display name (or name)
    session_expires_at: datetime


def resident_for_session(session: Session, session_token: str) -> Resident | None:
    """The resident holding this session token, while the session lasts and is not revoked."""
    if not is_token(session_token):
        return None
    found = ResidentLinkRepository(session).live_session(_digest(session_token), utcnow())
    if found is None:
        return None
    row, domain, display, name = found
    assert row.session_expires_at is not None
    return Resident(
        _resident(row, domain), row.subject_ref, display or name, row.session_expires_at
    )


def end_session(session: Session, session_token: str) -> None:
    """Sign the resident out: the session ends now (the link was used up already)."""
    if is_token(session_token):
        ResidentLinkRepository(session).end_session(_digest(session_token), utcnow())


@dataclass(frozen=True)
class ResidentAccess:
    """One release of rows about the resident, in the words shown to them."""

    time: datetime
    recipient: str  # the app's display name (or name)
    purpose: str  # the purpose's Chinese label (or its path when it has none)
    purpose_en: str
    legal_basis: str


def history(
    session: Session, ctx: GatewayContext, resident: Resident, request_id: str
) -> tuple[list[ResidentAccess], bool]:
    """The resident's accesses on the issuer's datasets, newest first; True when cut short."""
    require("resident.own_history", resident.principal)
    datasets = [
        d.id for d in CatalogRepository(session).datasets() if d.owner == resident.principal.domain
    ]
    repo = AuditRepository(session)
    entries: list[dict[str, object]] = []
    after: int | None = None
    try:
        while len(entries) <= MAX_SHOWN:
            rows = repo.entries_for_subject(
                resident.subject_ref, datasets=datasets, since=None, after=after, limit=500
            )
            if not rows:
                break
            entries.extend(json.loads(r.entry) for r in rows)
            after = rows[-1].index
    except (ValueError, DataError):  # a stored time that does not read back
        raise columns_damaged("reading a resident's history") from None
    cut = len(entries) > MAX_SHOWN
    entries = entries[-MAX_SHOWN:]
    record(
        ctx,
        "subject.history",
        resident.principal,
        link=resident.principal.id,
        entries_shown=len(entries),
        request_id=request_id,
    )
    names = ResidentLinkRepository(session).display_names(
        {str(e.get("principal", "")) for e in entries}
    )
    nodes = ctx.access.hierarchy.nodes
    out = []
    for entry in reversed(entries):
        app = str(entry.get("principal", ""))
        purpose = str(entry.get("purpose") or "")
        node = nodes.get(purpose)
        out.append(
            ResidentAccess(
                time=datetime.fromisoformat(str(entry["time"])),
                recipient=names.get(app) or app,
                purpose=(node.zh if node and node.zh else purpose),
                purpose_en=(node.en if node and node.en else purpose),
                legal_basis=str(entry.get("legal_basis") or ""),
            )
        )
    return out, cut
