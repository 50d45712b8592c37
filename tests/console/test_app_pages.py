"""App pages over HTTP: catalogue, a request built from the form, status, run, result."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.auditlog.models import AuditEntryRow
from gateway.demo.community import Community
from tests.conftest import Gateway
from tests.console.world import FOLLOW_UP, HOME_VISIT, World, make_world


@pytest.fixture
def world(gateway: Gateway, small_community: Community, tmp_path: Path) -> World:
    return make_world(gateway, small_community, tmp_path)


def events(w: World) -> list[str]:
    with w.gw.ctx.store.sessions() as session:
        rows = session.scalars(select(AuditEntryRow.entry).order_by(AuditEntryRow.index)).all()
    return [e for e in (json.loads(r)["event"] for r in rows) if not e.startswith("console.")]


def test_catalogue_shows_each_purpose_with_its_treatments(world: World) -> None:
    app, _ = world.browser("heping-committee")
    page = app.get("/console/app/catalogue")
    assert page.status_code == 200
    assert "居家探访" in page.text or HOME_VISIT in page.text
    assert "部分遮盖" in page.text and "假名化" in page.text  # name masked, resident_id pseudonym
    assert "checkups" not in page.text  # offers the committee nothing
    eldercare, _ = world.browser("guangming-eldercare")
    dp = eldercare.get("/console/app/catalogue").text
    assert "隐私预算" in dp and "下次运行可用" in dp


def file_home_visit(world: World, app_name: str = "heping-committee") -> str:
    app, csrf = world.browser(app_name)
    form = app.get(
        "/console/app/requests/new", params={"dataset": world.residents, "purpose": HOME_VISIT}
    )
    assert form.status_code == 200 and 'name="select"' in form.text
    r = app.post(
        "/console/app/requests",
        data={
            "csrf": csrf,
            "dataset": world.residents,
            "purpose": HOME_VISIT,
            "justification": "每月走访独居老人",
            "kind": "rows",
            "select": ["resident_id", "name", "age", "building"],
            "filter_column_0": "age",
            "filter_op_0": ">=",
            "filter_ask_0": "1",
            "filter_value_0": "70",
            "filter_column_1": "lives_alone",
            "filter_op_1": "=",
            "filter_value_1": "1",
            "order_by": "age",
            "order_desc": "1",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return r.headers["location"].split("/")[-1].split("?")[0]


def test_an_app_files_from_the_form_and_runs_once_approved(world: World) -> None:
    request_id = file_home_visit(world)
    app, csrf = world.browser("heping-committee")
    status = app.get(f"/console/app/requests/{request_id}?filed=1")
    assert "待审批" in status.text and "等待数据所属部门审批" in status.text
    assert '"param": "age_0"' in status.text.replace("&#34;", '"')
    assert "运行查询" not in status.text  # nothing to run yet
    assert events(world)[-1] == "request.filed"

    dept, dept_csrf = world.browser("civil-affairs")
    queue = dept.get("/console/department/requests")
    assert "heping-committee" in queue.text and "允许" in queue.text  # the explanation
    r = dept.post(
        f"/console/department/requests/{request_id}/approve",
        data={"csrf": dept_csrf, "note": "同意，请按月走访", "max_runs": "5"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "申请已批准" in dept.get(r.headers["location"]).text

    status = app.get(f"/console/app/requests/{request_id}")
    assert "已批准" in status.text and "同意，请按月走访" in status.text
    ran = app.post(
        f"/console/app/requests/{request_id}/run", data={"csrf": csrf, "param_age_0": "75"}
    )
    assert ran.status_code == 200, ran.text
    table = re.search(r'<table id="result-table">(.*?)</table>', ran.text, re.S)
    assert table is not None
    cells = re.findall(r"<td>([^<]*)</td>", table.group(1))
    assert cells and any(c.endswith("*") or "*" in c for c in cells)  # names masked
    assert any(c.startswith("p1_") for c in cells)  # pseudonyms, never ID numbers
    assert not re.search(r"\d{17}[\dX]", ran.text)
    href = re.search(r'href="(data:text/csv;charset=utf-8;base64,[^"]+)"', ran.text)
    assert href is not None
    data = base64.b64decode(href.group(1).split(",", 1)[1])
    assert data.startswith(b"\xef\xbb\xbf") and data[3:].decode().startswith("resident_id,name")
    assert events(world)[-1] == "query.run"
    assert "1 / 5" in app.get(f"/console/app/requests/{request_id}").text


def test_a_refused_run_value_is_explained_on_the_page(world: World) -> None:
    request_id = file_home_visit(world)
    dept, dept_csrf = world.browser("civil-affairs")
    dept.post(f"/console/department/requests/{request_id}/approve", data={"csrf": dept_csrf})
    app, csrf = world.browser("heping-committee")
    bad = app.post(
        f"/console/app/requests/{request_id}/run", data={"csrf": csrf, "param_age_0": "x"}
    )
    assert bad.status_code == 422 and "age_0" in bad.text


def test_a_policy_refusal_keeps_the_form_and_says_why(world: World) -> None:
    app, csrf = world.browser("heping-committee")
    r = app.post(
        "/console/app/requests",
        data={
            "csrf": csrf,
            "dataset": world.residents,
            "purpose": HOME_VISIT,
            "justification": "按姓氏查找",
            "kind": "rows",
            "select": ["age"],
            "filter_column_0": "name",
            "filter_op_0": "prefix",
            "filter_value_0": "张",
        },
    )
    assert r.status_code == 422
    assert "申请未提交" in r.text and "按姓氏查找" in r.text  # the form keeps what was typed
    assert events(world)[-1] == "request.denied"


def test_an_empty_form_is_refused_without_filing(world: World) -> None:
    app, csrf = world.browser("heping-committee")
    before = events(world)
    r = app.post(
        "/console/app/requests",
        data={"csrf": csrf, "dataset": world.residents, "purpose": HOME_VISIT, "kind": "rows"},
    )
    assert r.status_code == 422
    assert "请至少选择一列" in r.text and "请填写需要这些数据的理由" in r.text
    assert events(world) == before


def test_the_form_preview_shows_the_request_json(world: World) -> None:
    app, csrf = world.browser("heping-committee")
    r = app.post(
        "/console/app/requests/preview",
        data={
            "dataset": world.residents,
            "purpose": HOME_VISIT,
            "kind": "rows",
            "select": ["age"],
        },
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert r.status_code == 200 and "<html" not in r.text
    assert '"select": [' in r.text.replace("&#34;", '"')


def test_dp_run_shows_intervals_and_budget(world: World) -> None:
    query = world.gw.approved_query(
        "guangming-eldercare",
        world.checkups,
        FOLLOW_UP,
        {"aggregates": [{"fn": "count", "as": "checkups"}], "group_by": ["hypertension"]},
    )
    app, csrf = world.browser("guangming-eldercare")
    ran = app.post(f"/console/app/requests/{query}/run", data={"csrf": csrf})
    assert ran.status_code == 200, ran.text
    assert 'class="interval"' in ran.text and "差分隐私" in ran.text and "剩余预算" in ran.text
    dept, _ = world.browser("health-commission")
    budgets = dept.get("/console/department/budgets").text
    assert "guangming-eldercare" in budgets and "0.50" in budgets
