"""Pages for community apps: the catalogue, filing a request from a form, request status,
running an approved query and reading its result.

Every service called here is the one the API calls; it asks gateway/access/permissions.py
(dataset.list, request.file, request.list, request.read, query.run) with the same facts.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from gateway.access import permissions
from gateway.budget.service import epsilon_left
from gateway.catalog import service as catalog
from gateway.catalog.schemas import DatasetOut
from gateway.console import query_form, results, wording
from gateway.console.query_form import FormData
from gateway.console.routing import console_router
from gateway.console.security import CsrfChecked
from gateway.console.templating import render
from gateway.console.viewer import SignedIn, Visitor, context_of, principal_of
from gateway.errors import GatewayError, InvalidRequest
from gateway.requests import service as requests
from gateway.requests.schemas import QueryRequestCreate
from gateway.runs.context import RunContext
from gateway.runs.pipeline import run_query

router = console_router()


def _words(request: Request, visitor: Visitor) -> dict[str, Any]:
    ctx = context_of(request)
    t = visitor.t
    return {
        "purpose_name": lambda p: wording.purpose_name(ctx, t, p),
        "treatment": lambda c: wording.word(t, wording.TREATMENTS, c),
        "status_word": lambda c: wording.word(t, wording.STATUSES, c),
        "access_word": lambda c: wording.word(t, wording.ACCESS, c),
        "approval_word": lambda c: wording.word(t, wording.APPROVAL, c),
        "window_word": lambda c: wording.word(t, wording.WINDOWS, c),
    }


def _catalogue(request: Request, visitor: Visitor) -> list[DatasetOut]:
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        return catalog.list_datasets(session, principal_of(visitor), epsilon_left)


@router.get("/console/app/catalogue")
def catalogue(request: Request, visitor: SignedIn) -> Response:
    who = principal_of(visitor)
    permissions.require_caller("request.file", who)  # the catalogue is the apps' page
    datasets = _catalogue(request, visitor)
    with context_of(request).store.sessions() as session:
        people = wording.display_names(session)
    return render(
        request,
        visitor,
        "app/catalogue.html",
        {
            "datasets": datasets,
            "who": lambda name: wording.who_label(people, name),
            **_words(request, visitor),
        },
    )


def _offer(request: Request, visitor: Visitor, dataset_id: str, purpose: str) -> DatasetOut:
    """The dataset as the catalogue shows it to this app (404 when it offers nothing)."""
    ctx = context_of(request)
    who = principal_of(visitor)
    with ctx.store.sessions() as session:
        row = catalog.get_dataset(session, who, dataset_id)
        permissions.require("request.file", who, catalog.dataset_resource(row, who))
        out = catalog.dataset_out(row, who, (session, epsilon_left))
    if purpose not in {p.purpose for p in out.purposes}:
        raise InvalidRequest("the dataset offers this app no such purpose")
    return out


def _request_form(
    request: Request,
    visitor: Visitor,
    dataset: DatasetOut,
    purpose: str,
    form: FormData,
    problems: list[str],
    status_code: int = 200,
) -> Response:
    offer = next(p for p in dataset.purposes if p.purpose == purpose)
    usable = [c for c in dataset.columns if c.name in offer.columns]
    return render(
        request,
        visitor,
        "app/request_form.html",
        {
            "dataset": dataset,
            "offer": offer,
            "columns": usable,
            "form": form,
            "problems": problems,
            "ops": query_form.OPS,
            "functions": query_form.FUNCTIONS,
            "aggregate_slots": range(query_form.AGGREGATE_SLOTS),
            "filter_slots": range(query_form.FILTER_SLOTS),
            **_words(request, visitor),
        },
        status_code=status_code,
    )


@router.get("/console/app/requests/new")
def new_request(request: Request, visitor: SignedIn, dataset: str, purpose: str) -> Response:
    offered = _offer(request, visitor, dataset, purpose)
    kind = (
        "aggregate"
        if next(p for p in offered.purposes if p.purpose == purpose).access == "aggregate"
        else "rows"
    )
    return _request_form(request, visitor, offered, purpose, FormData({"kind": kind}), [])


async def _form_data(request: Request) -> FormData:
    form = await request.form()
    return FormData.of([(k, v) for k, v in form.multi_items() if isinstance(v, str)])


def _column_types(dataset: DatasetOut, purpose: str) -> dict[str, str]:
    offer = next(p for p in dataset.purposes if p.purpose == purpose)
    return {c.name: c.type for c in dataset.columns if c.name in offer.columns}


@router.post("/console/app/requests/preview", dependencies=[CsrfChecked])
async def preview_spec(request: Request, visitor: SignedIn) -> Response:
    """htmx: the request the form builds so far, as the API would receive it."""
    form = await _form_data(request)
    from starlette.concurrency import run_in_threadpool

    dataset = await run_in_threadpool(
        _offer, request, visitor, form.get("dataset"), form.get("purpose")
    )
    spec, problems = query_form.spec_from_form(form, _column_types(dataset, form.get("purpose")))
    return render(
        request,
        visitor,
        "app/_spec_preview.html",
        {"spec_json": json.dumps(spec, ensure_ascii=False, indent=2), "problems": problems},
    )


@router.post("/console/app/requests", dependencies=[CsrfChecked])
async def file_request(request: Request, visitor: SignedIn) -> Response:
    from starlette.concurrency import run_in_threadpool

    form = await _form_data(request)
    dataset_id, purpose = form.get("dataset"), form.get("purpose")
    dataset = await run_in_threadpool(_offer, request, visitor, dataset_id, purpose)
    spec, problems = query_form.spec_from_form(form, _column_types(dataset, purpose))
    justification = form.get("justification").strip()
    if not justification:
        problems.append("Say why the app needs this data.")
    if problems:
        return _request_form(request, visitor, dataset, purpose, form, problems, 422)
    try:
        body = QueryRequestCreate(
            dataset=dataset_id, purpose=purpose, justification=justification, spec=spec
        )
    except ValidationError as exc:
        return _request_form(
            request, visitor, dataset, purpose, form, query_form._readable(exc), 422
        )

    def file() -> str:
        ctx = context_of(request)
        with ctx.store.sessions() as session:
            out = requests.file_request(session, ctx, principal_of(visitor), body)
            session.commit()
            return out.id

    try:
        filed = await run_in_threadpool(file)
    except GatewayError as exc:
        if exc.status_code in (403, 422):  # the policy refused it: say why, keep the form
            return _request_form(request, visitor, dataset, purpose, form, [exc.detail], 422)
        raise
    return RedirectResponse(f"/console/app/requests/{filed}?filed=1", status_code=303)


@router.get("/console/app/requests")
def my_requests(request: Request, visitor: SignedIn) -> Response:
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        rows = requests.list_requests(session, principal_of(visitor), None, 200)
        names = {d.id: d.name for d in catalog.list_datasets(session, principal_of(visitor))}
    return render(
        request,
        visitor,
        "app/requests.html",
        {"rows": rows, "dataset_names": names, **_words(request, visitor)},
    )


def _one(request: Request, visitor: Visitor, query_request: str) -> Any:
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        return requests.get_request(session, principal_of(visitor), query_request)


def _status_page(
    request: Request,
    visitor: Visitor,
    query_request: str,
    *,
    result: results.ResultView | None = None,
    run: Any = None,
    problems: list[str] | None = None,
    form: FormData | None = None,
    filed: bool = False,
    status_code: int = 200,
) -> Response:
    row = _one(request, visitor, query_request)
    offer = None
    try:
        dataset = _offer(request, visitor, row.dataset, row.purpose)
        offer = next(p for p in dataset.purposes if p.purpose == row.purpose)
        dataset_name = dataset.name
    except GatewayError:
        dataset_name = row.dataset  # retired, or no longer offered: the request still shows
    return render(
        request,
        visitor,
        "app/request.html",
        {
            "row": row,
            "dataset_name": dataset_name,
            "offer": offer,
            "params": row.spec.get("params", {}),
            "spec_json": json.dumps(row.spec, ensure_ascii=False, indent=2),
            "result": result,
            "run": run,
            "problems": problems or [],
            "form": form or FormData(),
            "filed": filed,
            "page_path": f"/console/app/requests/{row.id}",
            **_words(request, visitor),
        },
        status_code=status_code,
    )


@router.get("/console/app/requests/{query_request}")
def request_status(
    request: Request, visitor: SignedIn, query_request: str, filed: int = 0
) -> Response:
    permissions.require_caller("request.read", principal_of(visitor))
    return _status_page(request, visitor, query_request, filed=filed == 1)


@router.post("/console/app/requests/{query_request}/run", dependencies=[CsrfChecked])
async def run(request: Request, visitor: SignedIn, query_request: str) -> Response:
    from starlette.concurrency import run_in_threadpool

    who = principal_of(visitor)
    permissions.require_caller("query.run", who)
    form = await _form_data(request)
    row = await run_in_threadpool(_one, request, visitor, query_request)
    values, bad = query_form.run_params(form, row.spec.get("params", {}))
    if bad:
        return await run_in_threadpool(
            lambda: _status_page(
                request,
                visitor,
                query_request,
                problems=[
                    visitor.t.gettext("A value does not fit its type: %(names)s")
                    % {"names": ", ".join(bad)}
                ],
                form=form,
                status_code=422,
            )
        )
    ctx = context_of(request)
    rid = str(request.scope.get("state", {}).get("request_id", ""))
    client = request.client.host if request.client else None
    try:
        result = await run_in_threadpool(
            run_query, ctx, who, query_request, values, RunContext(request_id=rid, client=client)
        )
    except GatewayError as exc:
        if exc.status_code not in (403, 422, 429):
            raise
        refusal, status = visitor.t.gettext(exc.detail), exc.status_code
        return await run_in_threadpool(
            lambda: _status_page(
                request, visitor, query_request, problems=[refusal], form=form, status_code=status
            )
        )
    return await run_in_threadpool(
        lambda: _status_page(
            request, visitor, query_request, result=results.view(result), run=result, form=form
        )
    )
