"""Pages for departments: sources and datasets, registering a dataset from a YAML editor
(check by line, policy tests), the PII scan, replacing a policy with a preview, the
request queue (approve / reject / revoke with a note) and budgets spent.

Every change goes through the service the API route calls, so the same permission
actions (dataset.register, dataset.scan, policy.preview/replace, request.approve/
reject/revoke, budget.read) decide, and the same audit entries are written.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import yaml
from fastapi import Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from gateway import yaml_documents
from gateway.access import permissions
from gateway.budget.service import list_budgets
from gateway.catalog import service as catalog
from gateway.catalog.schemas import DatasetCreate
from gateway.console import policy_editor, wording
from gateway.console.routing import console_router
from gateway.console.security import CsrfChecked
from gateway.console.templating import render
from gateway.console.viewer import SignedIn, Visitor, context_of, principal_of
from gateway.decisions.explain import explain
from gateway.decisions.schemas import ExplainRequest
from gateway.errors import GatewayError, InvalidRequest
from gateway.queries.spec import QuerySpec
from gateway.requests import lifecycle
from gateway.requests import service as requests
from gateway.requests.schemas import Approval, Rejection
from policies import UsagePolicy

router = console_router()

_SKELETON = """\
# A dataset and its usage policy. "Check" shows problems by line; "Register" saves it.
name: {name}
source: {source}
table: residents
description: 说明这份数据 / what the data holds
privacy_unit: resident_id
resident_id: resident_id
columns:
- name: resident_id
  type: string
  classification: direct_identifier
- name: community
  type: string
  classification: attribute
- name: age
  type: integer
  classification: quasi_identifier
policy:
  retention: 统计结果可保存一年 / aggregates may be kept for one year
  purposes:
  - purpose: public-service.community-planning
    legal_basis: 社区公共服务规划 (统计结果, 不含个人信息)
    grantees:
    - role: neighbourhood-committee
    access: aggregate
    columns:
      community: {{treatment: keep}}
      age: {{treatment: keep}}
    row_scope:
    - {{column: community, op: '=', principal: domain}}
    approval: manual
    min_group_size: 10
"""

_TESTS_SKELETON = """\
# Policy tests (as for `cdg policy test`): who asks, for what, and what must happen.
cases:
- name: a neighbourhood committee may count its own community's residents
  principal: {name: heping-committee, role: neighbourhood-committee, domain: heping}
  purpose: public-service.community-planning
  query: {aggregates: [{fn: count, as: residents}], group_by: [age]}
  expect: {allow: true, row_scope: [[community, "=", heping]]}
- name: property companies get nothing
  principal: {name: jianshe-property, role: property, domain: jianshe}
  purpose: public-service.community-planning
  query: {aggregates: [{fn: count, as: residents}]}
  expect: {deny: role_not_granted}
"""


def _words(request: Request, visitor: Visitor) -> dict[str, Any]:
    ctx = context_of(request)
    t = visitor.t
    return {
        "purpose_name": lambda p: wording.purpose_name(ctx, t, p),
        "treatment": lambda c: wording.word(t, wording.TREATMENTS, c),
        "status_word": lambda c: wording.word(t, wording.STATUSES, c),
        "class_word": lambda c: wording.word(t, wording.CLASSES, c),
        "access_word": lambda c: wording.word(t, wording.ACCESS, c),
    }


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, width=100)


# -- sources and datasets ---------------------------------------------------------------


@router.get("/console/department/datasets")
def datasets(request: Request, visitor: SignedIn) -> Response:
    who = principal_of(visitor)
    permissions.require("source.list", who)
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        sources = catalog.list_sources(session, who)
        rows = catalog.list_datasets(session, who)
    return render(
        request,
        visitor,
        "department/datasets.html",
        {"sources": sources, "datasets": rows, **_words(request, visitor)},
    )


@router.get("/console/department/datasets/new")
def new_dataset(request: Request, visitor: SignedIn) -> Response:
    who = principal_of(visitor)
    permissions.require_caller("dataset.register", who)
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        sources = catalog.list_sources(session, who)
    source = sources[0].name if sources else "my_source"
    return _editor(
        request,
        visitor,
        _SKELETON.format(name="new_dataset", source=source),
        _TESTS_SKELETON,
    )


def _editor(
    request: Request,
    visitor: Visitor,
    document: str,
    tests: str,
    problems: list[Any] | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response:
    return render(
        request,
        visitor,
        "department/dataset_editor.html",
        {"document": document, "tests": tests, "problems": problems, "error": error},
        status_code=status_code,
    )


@router.post("/console/department/datasets/check", dependencies=[CsrfChecked])
def check_dataset(
    request: Request,
    visitor: SignedIn,
    document: Annotated[str, Form(max_length=policy_editor.MAX_TEXT)] = "",
) -> Response:
    """htmx: ``cdg policy check`` on the editor's text, problems by line."""
    permissions.require_caller("dataset.register", principal_of(visitor))
    problems = policy_editor.check_text(document, context_of(request).access.hierarchy)
    return render(request, visitor, "department/_problems.html", {"problems": problems})


@router.post("/console/department/datasets/test", dependencies=[CsrfChecked])
def test_dataset(
    request: Request,
    visitor: SignedIn,
    document: Annotated[str, Form(max_length=policy_editor.MAX_TEXT)] = "",
    tests: Annotated[str, Form(max_length=policy_editor.MAX_TEXT)] = "",
) -> Response:
    """htmx: the policy tests run against the editor's dataset document."""
    permissions.require_caller("dataset.register", principal_of(visitor))
    outcomes = policy_editor.run_tests(document, tests, context_of(request).access.hierarchy)
    return render(request, visitor, "department/_tests.html", {"outcomes": outcomes})


@router.post("/console/department/datasets", dependencies=[CsrfChecked])
def register_dataset(
    request: Request,
    visitor: SignedIn,
    document: Annotated[str, Form(max_length=policy_editor.MAX_TEXT)],
    tests: Annotated[str, Form(max_length=policy_editor.MAX_TEXT)] = "",
) -> Response:
    who = principal_of(visitor)
    permissions.require_caller("dataset.register", who)
    ctx = context_of(request)
    problems = policy_editor.check_text(document, ctx.access.hierarchy)
    if problems:
        return _editor(request, visitor, document, tests, problems, status_code=422)
    body = DatasetCreate.model_validate(yaml_documents.load(document))
    try:
        with ctx.store.sessions() as session:
            out = catalog.register_dataset(session, ctx, who, body)
            session.commit()
    except GatewayError as exc:
        if exc.status_code in (404, 409, 422):
            return _editor(request, visitor, document, tests, error=exc.detail, status_code=422)
        raise
    return RedirectResponse(f"/console/department/datasets/{out.id}?registered=1", 303)


def _dataset(request: Request, visitor: Visitor, dataset_id: str) -> Any:
    who = principal_of(visitor)
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        row = catalog.get_dataset(session, who, dataset_id)  # 404 unless visible
        permissions.require("policy.read", who, permissions.Resource(owner=row.owner))
        return catalog.dataset_out(row, who)


@router.get("/console/department/datasets/{dataset_id}")
def dataset_page(
    request: Request, visitor: SignedIn, dataset_id: str, registered: int = 0, replaced: int = 0
) -> Response:
    permissions.require_caller("policy.read", principal_of(visitor))
    out = _dataset(request, visitor, dataset_id)
    policy_yaml = _dump(out.policy.model_dump(mode="json", exclude_defaults=True))
    return render(
        request,
        visitor,
        "department/dataset.html",
        {
            "d": out,
            "policy_yaml": policy_yaml,
            "registered": registered == 1,
            "replaced": replaced == 1,
            **_words(request, visitor),
        },
    )


@router.post("/console/department/datasets/{dataset_id}/scan", dependencies=[CsrfChecked])
def scan(request: Request, visitor: SignedIn, dataset_id: str) -> Response:
    """htmx: the PII scan's findings per column (counts only, never values)."""
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        findings = catalog.scan_registered(session, ctx, principal_of(visitor), dataset_id)
    return render(
        request,
        visitor,
        "department/_scan.html",
        {"findings": findings, **_words(request, visitor)},
    )


def _policy(text: str) -> UsagePolicy:
    try:
        data = yaml_documents.load(text)
        if isinstance(data, dict) and "policy" in data and "purposes" not in data:
            data = data["policy"]
        return UsagePolicy.model_validate(data)
    except (yaml.YAMLError, ValidationError):
        raise InvalidRequest("the policy document does not pass the check") from None


@router.post("/console/department/datasets/{dataset_id}/policy/preview", dependencies=[CsrfChecked])
def preview(
    request: Request,
    visitor: SignedIn,
    dataset_id: str,
    policy: Annotated[str, Form(max_length=policy_editor.MAX_TEXT)],
) -> Response:
    """htmx: problems by line, else the diff and the approved queries it breaks or changes."""
    ctx = context_of(request)
    _dataset(request, visitor, dataset_id)  # another department's dataset: 404 before anything
    problems = policy_editor.check_text(policy, ctx.access.hierarchy)
    result = None
    error = ""
    if not problems:
        try:
            with ctx.store.sessions() as session:
                result = lifecycle.preview_policy(
                    session, ctx, principal_of(visitor), dataset_id, _policy(policy)
                )
        except InvalidRequest as exc:
            error = exc.detail
    return render(
        request,
        visitor,
        "department/_preview.html",
        {"problems": problems, "preview": result, "error": error, **_words(request, visitor)},
    )


@router.post("/console/department/datasets/{dataset_id}/policy", dependencies=[CsrfChecked])
def replace(
    request: Request,
    visitor: SignedIn,
    dataset_id: str,
    policy: Annotated[str, Form(max_length=policy_editor.MAX_TEXT)],
) -> Response:
    ctx = context_of(request)
    _dataset(request, visitor, dataset_id)
    if policy_editor.check_text(policy, ctx.access.hierarchy):
        raise InvalidRequest("the policy document does not pass the check")
    with ctx.store.sessions() as session:
        lifecycle.replace_policy(session, ctx, principal_of(visitor), dataset_id, _policy(policy))
        session.commit()
    return RedirectResponse(f"/console/department/datasets/{dataset_id}?replaced=1", 303)


# -- the request queue ------------------------------------------------------------------


def _explained(request: Request, visitor: Visitor, row: Any) -> Any:
    """Why the policy would allow or refuse the request now (the explain service)."""
    ctx = context_of(request)
    try:
        body = ExplainRequest(
            dataset=row.dataset,
            purpose=row.purpose,
            spec=QuerySpec.model_validate(row.spec, context={"stored": True}),
            app=row.app,
        )
        with ctx.store.sessions() as session:
            return explain(session, ctx, principal_of(visitor), body)
    except (GatewayError, ValidationError):
        return None


@router.get("/console/department/requests")
def queue(request: Request, visitor: SignedIn, done: str = "") -> Response:
    who = principal_of(visitor)
    permissions.require_caller("request.approve", who)  # the queue is for deciding
    permissions.require("request.list", who)
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        rows = requests.list_requests(session, who, None, 500)
        names = {d.id: d.name for d in catalog.list_datasets(session, who)}
        people = wording.display_names(session)
    pending = [r for r in rows if r.status == "pending"]
    approved = [r for r in rows if r.status == "approved"]
    closed = [r for r in rows if r.status not in ("pending", "approved")]
    return render(
        request,
        visitor,
        "department/requests.html",
        {
            "pending": [(r, _explained(request, visitor, r)) for r in pending],
            "approved": approved,
            "closed": closed[:50],
            "done": done if done in ("approved", "rejected", "revoked") else "",
            "dataset_names": names,
            "who": lambda name: wording.who_label(people, name),
            "spec_json": lambda spec: json.dumps(spec, ensure_ascii=False, indent=2),
            **_words(request, visitor),
        },
    )


@router.post("/console/department/requests/{query_request}/approve", dependencies=[CsrfChecked])
def approve(
    request: Request,
    visitor: SignedIn,
    query_request: str,
    note: Annotated[str, Form(max_length=2000)] = "",
    max_runs: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    ctx = context_of(request)
    try:
        runs = int(max_runs) if max_runs.strip() else None
        body = Approval(note=note.strip(), max_runs=runs)
    except (ValueError, ValidationError):
        raise InvalidRequest("Some fields of the form are not valid.") from None
    with ctx.store.sessions() as session:
        requests.approve(session, ctx, principal_of(visitor), query_request, body)
        session.commit()
    return RedirectResponse("/console/department/requests?done=approved", 303)


def _close(
    request: Request, visitor: Visitor, query_request: str, note: str, done: str
) -> Response:
    """Reject a pending request or revoke an approved one: the same form, one service each."""
    ctx = context_of(request)
    close = requests.reject if done == "rejected" else requests.revoke
    with ctx.store.sessions() as session:
        close(session, ctx, principal_of(visitor), query_request, Rejection(reason=note.strip()))
        session.commit()
    return RedirectResponse(f"/console/department/requests?done={done}", 303)


@router.post("/console/department/requests/{query_request}/reject", dependencies=[CsrfChecked])
def reject(
    request: Request,
    visitor: SignedIn,
    query_request: str,
    note: Annotated[str, Form(min_length=1, max_length=2000)],
) -> Response:
    return _close(request, visitor, query_request, note, "rejected")


@router.post("/console/department/requests/{query_request}/revoke", dependencies=[CsrfChecked])
def revoke(
    request: Request,
    visitor: SignedIn,
    query_request: str,
    note: Annotated[str, Form(min_length=1, max_length=2000)],
) -> Response:
    return _close(request, visitor, query_request, note, "revoked")


# -- budgets ----------------------------------------------------------------------------


@router.get("/console/department/budgets")
def budgets(request: Request, visitor: SignedIn) -> Response:
    who = principal_of(visitor)
    permissions.require_caller("budget.read", who)
    ctx = context_of(request)
    with ctx.store.sessions() as session:
        rows = list_budgets(session, who)
        people = wording.display_names(session)
    per_dataset: dict[str, float] = {}
    for b in rows:
        per_dataset[b.dataset] = max(per_dataset.get(b.dataset, 0.0), b.dataset_spent)
    return render(
        request,
        visitor,
        "department/budgets.html",
        {
            "rows": rows,
            "per_dataset": per_dataset,
            "who": lambda name: wording.who_label(people, name),
        },
    )
