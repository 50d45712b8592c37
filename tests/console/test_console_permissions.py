"""Console routes ask the same permission rules as the API: wrong kinds and other owners
are refused (404 where the API hides existence), every page needs a session."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.demo.community import Community
from tests.conftest import Gateway
from tests.console.test_app_pages import file_home_visit
from tests.console.world import FOLLOW_UP, World, make_world


@pytest.fixture
def world(gateway: Gateway, small_community: Community, tmp_path: Path) -> World:
    return make_world(gateway, small_community, tmp_path)


def test_another_departments_dataset_is_not_found(world: World) -> None:
    health, csrf = world.browser("health-commission")
    for r in (
        health.get(f"/console/department/datasets/{world.residents}"),
        health.post(f"/console/department/datasets/{world.residents}/scan", data={"csrf": csrf}),
        health.post(
            f"/console/department/datasets/{world.residents}/policy/preview",
            data={"csrf": csrf, "policy": "purposes: []"},
        ),
    ):
        assert r.status_code == 404, r.text
        assert "<html" in r.text and "数据集不存在" in r.text
    assert health.get(f"/console/department/datasets/{world.checkups}").status_code == 200


def test_another_departments_request_cannot_be_decided(world: World) -> None:
    request_id = file_home_visit(world)
    health, csrf = world.browser("health-commission")
    r = health.post(f"/console/department/requests/{request_id}/approve", data={"csrf": csrf})
    assert r.status_code == 404
    assert request_id not in health.get("/console/department/requests").text


@pytest.mark.parametrize(
    "path",
    [
        "/console/department/datasets",
        "/console/department/datasets/new",
        "/console/department/requests",
    ],
)
def test_an_app_on_department_pages_is_refused(world: World, path: str) -> None:
    app, _ = world.browser("heping-committee")
    r = app.get(path)
    assert r.status_code == 403 and "无权操作" in r.text


def test_an_app_cannot_approve(world: World) -> None:
    request_id = file_home_visit(world)
    app, csrf = world.browser("heping-committee")
    r = app.post(f"/console/department/requests/{request_id}/approve", data={"csrf": csrf})
    assert r.status_code == 403


def test_a_department_on_app_pages_is_refused(world: World) -> None:
    dept, csrf = world.browser("civil-affairs")
    assert dept.get("/console/app/catalogue").status_code == 403
    request_id = file_home_visit(world)
    dept.post(f"/console/department/requests/{request_id}/approve", data={"csrf": csrf})
    r = dept.post(f"/console/app/requests/{request_id}/run", data={"csrf": csrf})
    assert r.status_code in (403, 404)


def test_an_app_sees_only_its_own_requests_and_offers(world: World) -> None:
    request_id = file_home_visit(world)
    other, csrf = world.browser("jianshe-property")
    assert other.get(f"/console/app/requests/{request_id}").status_code == 404
    assert (
        other.post(f"/console/app/requests/{request_id}/run", data={"csrf": csrf}).status_code
        == 404
    )
    r = other.get(
        "/console/app/requests/new", params={"dataset": world.checkups, "purpose": FOLLOW_UP}
    )
    assert r.status_code == 404  # the dataset offers it nothing


def test_menus_follow_the_permission_module(world: World) -> None:
    app, _ = world.browser("heping-committee")
    home = app.get("/console/").text
    assert "/console/app/catalogue" in home and "/console/department/requests" not in home
    dept, _ = world.browser("civil-affairs")
    home = dept.get("/console/").text
    assert "/console/department/requests" in home and "/console/app/catalogue" not in home


@pytest.mark.parametrize(
    "path",
    [
        "/console/app/catalogue",
        "/console/app/requests",
        "/console/department/datasets",
        "/console/department/requests",
        "/console/department/budgets",
    ],
)
def test_every_page_needs_a_session(gateway: Gateway, path: str) -> None:
    r = gateway.client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in?next=")


def test_a_post_without_csrf_changes_nothing(world: World) -> None:
    request_id = file_home_visit(world)
    dept, _ = world.browser("civil-affairs")
    r = dept.post(f"/console/department/requests/{request_id}/approve", data={"note": "x"})
    assert r.status_code == 403
    app, _ = world.browser("heping-committee")
    assert "待审批" in app.get(f"/console/app/requests/{request_id}").text
