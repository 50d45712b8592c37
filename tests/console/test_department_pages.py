"""Department pages over HTTP: datasets, the YAML editor, scan, policy preview, the queue."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import yaml

from gateway.demo.community import Community
from tests.conftest import Gateway
from tests.console.test_app_pages import events, file_home_visit
from tests.console.world import World, make_world


@pytest.fixture
def world(gateway: Gateway, small_community: Community, tmp_path: Path) -> World:
    return make_world(gateway, small_community, tmp_path)


def textarea(page: str, name: str) -> str:
    found = re.search(rf'<textarea id="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, name
    return html.unescape(found.group(1))


def test_sources_and_own_datasets_only(world: World) -> None:
    dept, _ = world.browser("civil-affairs")
    page = dept.get("/console/department/datasets").text
    assert "residents" in page and "src-residents" in page
    assert "checkups" not in page  # the health commission's


def test_register_from_the_editor_with_check_and_tests(world: World) -> None:
    dept, csrf = world.browser("civil-affairs")
    editor = dept.get("/console/department/datasets/new").text
    document, tests = textarea(editor, "document"), textarea(editor, "tests")
    assert "source: src-residents" in document

    broken = document.replace("access: aggregate", "access: everything")
    check = dept.post(
        "/console/department/datasets/check", data={"csrf": csrf, "document": broken}
    ).text
    line = 1 + broken.splitlines().index("    access: everything")
    assert f"第 {line} 行" in check and "policy.purposes.0.access" in check

    ok = dept.post("/console/department/datasets/check", data={"csrf": csrf, "document": document})
    assert "文档通过检查" in ok.text
    ran = dept.post(
        "/console/department/datasets/test",
        data={"csrf": csrf, "document": document, "tests": tests},
    ).text
    assert "2 项中 2 项通过" in ran
    failing = tests.replace("deny: role_not_granted", "allow: true")
    ran = dept.post(
        "/console/department/datasets/test",
        data={"csrf": csrf, "document": document, "tests": failing},
    ).text
    assert "2 项中 1 项通过" in ran and "✗ property companies get nothing" in ran

    refused = dept.post(
        "/console/department/datasets", data={"csrf": csrf, "document": broken, "tests": tests}
    )
    assert (
        refused.status_code == 422
        and "new_dataset" not in dept.get("/console/department/datasets").text.split("<h2>")[1]
    )
    r = dept.post(
        "/console/department/datasets",
        data={"csrf": csrf, "document": document, "tests": tests},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = dept.get(r.headers["location"]).text
    assert "数据集已登记" in page and "new_dataset" in page
    assert "dataset.registered" in events(world)


def test_scan_findings_per_column(world: World) -> None:
    dept, csrf = world.browser("civil-affairs")
    r = dept.post(
        f"/console/department/datasets/{world.residents}/scan",
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert r.status_code == 200 and "<html" not in r.text
    assert "<code>mobile</code>" in r.text and "不显示任何取值" in r.text
    assert not re.search(r"1[3-9]\d{9}", r.text)  # counts only, never a phone number


def test_policy_preview_names_the_queries_it_breaks_then_replace_revokes(world: World) -> None:
    request_id = file_home_visit(world)
    dept, csrf = world.browser("civil-affairs")
    dept.post(f"/console/department/requests/{request_id}/approve", data={"csrf": csrf})
    page = dept.get(f"/console/department/datasets/{world.residents}").text
    policy = textarea(page, "policy")
    assert "public-service.elderly-care.home-visit" in policy
    data = yaml.safe_load(policy)
    del data["purposes"][0]["columns"]["name"]  # the filed request selects it
    narrowed = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    preview = dept.post(
        f"/console/department/datasets/{world.residents}/policy/preview",
        data={"csrf": csrf, "policy": narrowed},
    ).text
    assert "1 项已批准的查询将被撤销" in preview and "heping-committee" in preview
    assert "删除用途" not in preview
    r = dept.post(
        f"/console/department/datasets/{world.residents}/policy",
        data={"csrf": csrf, "policy": narrowed},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "使用策略已替换" in dept.get(r.headers["location"]).text
    app, _ = world.browser("heping-committee")
    assert "已撤销" in app.get(f"/console/app/requests/{request_id}").text


def test_reject_and_revoke_with_a_note(world: World) -> None:
    first = file_home_visit(world)
    second = file_home_visit(world)
    dept, csrf = world.browser("civil-affairs")
    r = dept.post(
        f"/console/department/requests/{first}/reject",
        data={"csrf": csrf, "note": "范围过大"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    dept.post(f"/console/department/requests/{second}/approve", data={"csrf": csrf})
    dept.post(
        f"/console/department/requests/{second}/revoke", data={"csrf": csrf, "note": "服务结束"}
    )
    queue = dept.get("/console/department/requests").text
    assert "范围过大" in queue and "服务结束" in queue
    assert events(world)[-3:] == ["request.rejected", "request.approved", "request.revoked"]
    app, _ = world.browser("heping-committee")
    assert "范围过大" in app.get(f"/console/app/requests/{first}").text
    empty = dept.post(f"/console/department/requests/{second}/revoke", data={"csrf": csrf})
    assert empty.status_code == 422  # a note is required
