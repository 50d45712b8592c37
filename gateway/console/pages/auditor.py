"""The auditor's pages: overview (verify status, newest checkpoint, charts), log search,
entry detail with its inclusion proof, signing a checkpoint, export.

Every page asks the permission module through the services it calls (``log.read``,
``log.summary``, ``proof.read``, ``checkpoint.read``/``create``, ``log.verify``,
``log.export``), so an app or a department gets exactly what the API would give it:
the overview and verification are auditors' (403 for others), searches and entries are
narrowed to the caller's part of the log, and an entry outside it is a 404.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import Form, Path, Query, Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from gateway.access import permissions
from gateway.auditlog import service
from gateway.auditlog.events import EVENTS, OUTCOMES, REASONS
from gateway.auditlog.export import as_csv, as_jsonl
from gateway.auditlog.residents import is_subject_ref
from gateway.auditlog.verify_report import verify_report
from gateway.bounds import EARLIEST, INT64_MAX, LATEST
from gateway.console import auditor_data as data
from gateway.console.charts import Series, stacked_bars, top_series
from gateway.console.navigation import N_
from gateway.console.routing import console_router
from gateway.console.security import CsrfChecked
from gateway.console.templating import render
from gateway.console.viewer import SignedIn, Visitor, context_of, principal_of
from gateway.errors import Conflict, InvalidRequest
from gateway.i18n import zone
from gateway.oversight import listings

router = console_router()


def _rid(request: Request) -> str:
    """The request id the middleware set (what the API's RequestId dependency reads)."""
    return str(request.scope.get("state", {}).get("request_id", ""))


# An address names a resident only by SubjectRef; an ID number goes through the form.
NOT_YET_SIGNED = N_("no signed checkpoint covers this entry yet")
NO_ID_IN_ADDRESS = N_("search for a resident with the form: an ID number never goes in an address")

Days = Literal[7, 30, 90]
Text = Annotated[str | None, Query(max_length=64)]
# Dates come from <input type="date">: "" when left empty, else YYYY-MM-DD.
Day = Annotated[str | None, Query(max_length=10)]


def _labels(visitor: Visitor) -> dict[str, object]:
    """Words for codes (events, outcomes, reasons) in the visitor's language."""
    loc = visitor.locale
    return {
        "event_label": lambda name: data.label(EVENTS, name, loc),
        "outcome_label": lambda name: data.label(OUTCOMES, name, loc),
        "reason_label": lambda name: data.label(REASONS, name, loc),
    }


@router.get("/console/audit")
def overview(request: Request, visitor: SignedIn, days: Days = 30) -> Response:
    who = principal_of(visitor)
    permissions.require("log.verify", who)  # the overview is the auditor's own page
    ctx = context_of(request)
    tz = zone(visitor.time_zone)
    t = visitor.t
    with ctx.store.sessions() as session:
        checkpoint = data.latest_checkpoint(session, ctx, who)
        act = data.activity(
            session, who, days=days, zone=tz, today=datetime.now(UTC).astimezone(tz).date()
        )
    others = t.gettext("others")
    by_app = top_series(act.by_app, keep=6, others=others, labels={})
    by_dataset = top_series(act.by_dataset, keep=6, others=others, labels=act.dataset_names)
    empty = t.gettext("No records in this period")
    charts = {
        "by_app": stacked_bars(
            act.labels,
            by_app,
            title=t.gettext("Data released per day, by app"),
            empty=empty,
            others=others,
        ),
        "by_dataset": stacked_bars(
            act.labels,
            by_dataset,
            title=t.gettext("Data released per day, by dataset"),
            empty=empty,
            others=others,
        ),
        "denials": stacked_bars(
            act.labels,
            [Series(t.gettext("Denials"), act.denials)],
            title=t.gettext("Denials per day"),
            empty=empty,
            colours=("#D55E00",),
        ),
    }
    return render(
        request,
        visitor,
        "audit/overview.html",
        {
            "checkpoint": checkpoint,
            "charts": charts,
            "days": days,
            "activity": act,
            "by_app": by_app,
            "by_dataset": by_dataset,
        },
    )


@router.get("/console/audit/verify")
def verify(request: Request, visitor: SignedIn) -> Response:
    """The whole log checked now (an htmx fragment on the overview, or a page)."""
    who = principal_of(visitor)
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        report = verify_report(session, ctx, who)
    checked_at = datetime.now(UTC)
    fragment = request.headers.get("hx-request") == "true"
    return render(
        request,
        visitor,
        "audit/_verify.html" if fragment else "audit/verify.html",
        {"report": report, "checked_at": checked_at, **_labels(visitor)},
    )


@router.post("/console/audit/checkpoint", dependencies=[CsrfChecked])
def sign_checkpoint(request: Request, visitor: SignedIn) -> Response:
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        service.issue_checkpoint(session, ctx, principal_of(visitor))
        session.commit()
    return RedirectResponse("/console/audit?signed=1#checkpoint", status_code=303)


# The dates the search takes: the log holds nothing outside them, and a date near year 1
# or 9999 cannot be turned into a UTC instant at all (the bounds of every API instant).
FIRST_DAY = EARLIEST.date()
LAST_DAY = LATEST.date() - timedelta(days=2)  # its end, in any zone, stays before LATEST


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest("not a date (YYYY-MM-DD)") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidRequest("the date lies outside 1970-01-01 .. 2999-12-30")
    return day


def _query(
    start: str | None,
    end: str | None,
    app: str | None,
    dataset: str | None,
    event: str | None,
    outcome: str | None,
    resident: str | None,
) -> data.LogQuery:
    # An empty field of the form means "any".
    return data.LogQuery(
        _day(start),
        _day(end),
        app or None,
        dataset or None,
        event or None,
        outcome or None,
        resident or None,
    )


@router.get("/console/audit/entries")
def entries(
    request: Request,
    visitor: SignedIn,
    start: Day = None,
    end: Day = None,
    app: Text = None,
    dataset: Text = None,
    event: Text = None,
    outcome: Text = None,
    resident: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[int | None, Query(ge=-1, le=INT64_MAX)] = None,
) -> Response:
    who = principal_of(visitor)
    ctx = context_of(request)
    if resident and not is_subject_ref(resident):
        raise InvalidRequest(NO_ID_IN_ADDRESS)
    q = _query(start, end, app, dataset, event, outcome, resident)
    with ctx.store.sessions() as session:
        wanted = data.entry_filter(ctx, who, q, zone(visitor.time_zone), _rid(request))
        page = data.search(session, who, wanted, after)
        apps = data.known_apps(session, who)
        datasets = data.known_datasets(session, who)
    # The resident filter travels as the SubjectRef, never as the ID number, in links.
    params = q.params()
    if wanted.subject:
        params["resident"] = wanted.subject
    return render(
        request,
        visitor,
        "audit/entries.html",
        {
            "q": q,
            "page": page,
            "params": params,
            "apps": apps,
            "datasets": datasets,
            "events": list(EVENTS),
            "outcomes": list(OUTCOMES),
            "may_export": permissions.allowed("log.export", who),
            **_labels(visitor),
        },
    )


@router.post("/console/audit/entries", dependencies=[CsrfChecked])
def search_form(
    request: Request,
    visitor: SignedIn,
    start: Annotated[str, Form(max_length=10)] = "",
    end: Annotated[str, Form(max_length=10)] = "",
    app: Annotated[str, Form(max_length=64)] = "",
    dataset: Annotated[str, Form(max_length=64)] = "",
    event: Annotated[str, Form(max_length=64)] = "",
    outcome: Annotated[str, Form(max_length=64)] = "",
    resident: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """The search form is posted, so that a resident's ID number never enters an address
    (browser history, proxy logs): it is resolved here (logged) and the results page is
    addressed by the SubjectRef."""
    who = principal_of(visitor)
    ctx = context_of(request)
    q = _query(start, end, app, dataset, event, outcome, resident)
    wanted = data.entry_filter(ctx, who, q, zone(visitor.time_zone), _rid(request))
    params = q.params()
    if wanted.subject:
        params["resident"] = wanted.subject
    return RedirectResponse("/console/audit/entries?" + urlencode(params), status_code=303)


@router.get("/console/audit/entries/{index}")
def entry(
    request: Request,
    visitor: SignedIn,
    index: Annotated[int, Path(ge=0, le=INT64_MAX)],
) -> Response:
    who = principal_of(visitor)
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        detail = data.entry_detail(session, ctx, who, index)
    return render(
        request,
        visitor,
        "audit/entry.html",
        {
            "d": detail,
            "may_sign": permissions.allowed("checkpoint.create", who),
            **_labels(visitor),
        },
    )


@router.get("/console/audit/entries/{index}/receipt")
def entry_receipt(
    request: Request,
    visitor: SignedIn,
    index: Annotated[int, Path(ge=0, le=INT64_MAX)],
) -> Response:
    """The entry's proof bundle as a file, for ``cdg audit verify-receipt FILE --keys``."""
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        bundle = data.receipt(data.entry_detail(session, ctx, principal_of(visitor), index))
    if bundle is None:
        raise Conflict(NOT_YET_SIGNED)
    return JSONResponse(
        bundle,
        headers={"Content-Disposition": f'attachment; filename="cdg-receipt-{index}.json"'},
    )


@router.get("/console/audit/export")
def export(
    request: Request,
    visitor: SignedIn,
    format: Literal["csv", "jsonl"] = "csv",
    start: Day = None,
    end: Day = None,
    app: Text = None,
    dataset: Text = None,
    event: Text = None,
    outcome: Text = None,
    resident: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The same export as ``GET /v1/audit/export``: a fresh signed checkpoint, then every
    matching entry with its inclusion proof, then the seal (``cdg audit verify --export``)."""
    who = principal_of(visitor)
    ctx = context_of(request)
    if resident and not is_subject_ref(resident):
        raise InvalidRequest(NO_ID_IN_ADDRESS)
    q = _query(start, end, app, dataset, event, outcome, resident)
    wanted = data.entry_filter(ctx, who, q, zone(visitor.time_zone), _rid(request))
    records = listings.export(ctx, who, wanted)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    # Byte for byte what the API exports (no BOM: `cdg audit verify --export` reads it).
    if format == "csv":
        body, media = as_csv(records), "text/csv; charset=utf-8"
    else:
        body, media = as_jsonl(records), "application/x-ndjson"
    return StreamingResponse(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="cdg-audit-{stamp}.{format}"'},
    )


# Error details the services raise on these pages, for the catalogues (shown translated).
MESSAGES = (
    N_("others"),
    N_("no such entry"),
    N_("not a date (YYYY-MM-DD)"),
    N_("unknown event"),
    N_("unknown outcome"),
    N_("the end date is before the start date"),
    N_("the date lies outside 1970-01-01 .. 2999-12-30"),
    N_("not a valid resident ID number (18 characters or 15 digits)"),
    N_("no such resident link"),
    N_("the log is empty"),
)
