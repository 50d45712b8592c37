"""In a real browser (Debian's Chromium through Playwright) against a real server seeded
with the demo community: an app files a request from the form; the department signs in,
registers a dataset from the YAML editor (check, tests) and approves the request with a
note; the app runs it and sees masked rows, downloads the CSV; pages fit a phone.

Screenshots go to CDG_SCREENSHOTS (default: a temporary folder of the run); the README's
two come from here (docs/img/console-*.png).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from gateway.api.app import create_app
from gateway.context import GatewayContext
from gateway.demo.seed import seed_demo
from tests.conftest import make_settings

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = os.environ.get("CDG_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium installed")
HOME_VISIT = "public-service.elderly-care.home-visit"


@dataclass
class Demo:
    base: str
    keys: dict[str, str]
    datasets: dict[str, str]
    shots: Path
    state: dict[str, Any] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``cdg demo`` in a temporary home, served by uvicorn on a free port."""
    tmp = tmp_path_factory.mktemp("console-demo")
    port = _free_port()
    settings = make_settings(tmp / "home", public_url=f"http://127.0.0.1:{port}")
    ctx = GatewayContext.open(settings)
    summary = seed_demo(ctx, residents=1500)
    server = uvicorn.Server(
        uvicorn.Config(create_app(ctx=ctx), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    shots = Path(os.environ.get("CDG_SCREENSHOTS", str(tmp / "screenshots")))
    shots.mkdir(parents=True, exist_ok=True)
    yield Demo(
        base=f"http://127.0.0.1:{port}",
        keys={p["name"]: p["api_key"] for p in summary["principals"]},
        datasets={d["name"]: d["id"] for d in summary["datasets"]},
        shots=shots,
    )
    server.should_exit = True
    thread.join(timeout=10)
    ctx.close()


@pytest.fixture(scope="module")
def browser(demo: Demo) -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def new_page(browser: Any, width: int = 1280, height: int = 900, locale: str = "zh-CN") -> Any:
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale=locale, accept_downloads=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.cdg_errors = errors  # CSP violations show up as console errors
    return page


def sign_in(page: Any, demo: Demo, who: str) -> None:
    page.goto(demo.base + "/console/")
    assert page.url.startswith(demo.base + "/console/sign-in")
    page.get_by_label("API 密钥").fill(demo.keys[who])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(demo.base + "/console/")


def shot(page: Any, demo: Demo, name: str) -> None:
    page.screenshot(path=str(demo.shots / f"{name}.png"), full_page=True)


def test_1_an_app_files_a_request_from_the_form(demo: Demo, browser: Any) -> None:
    expect = playwright_api.expect
    page = new_page(browser)
    sign_in(page, demo, "heping-committee")
    page.get_by_role("navigation").get_by_role("link", name="数据目录").click()
    expect(page.get_by_role("heading", name="数据目录")).to_be_visible()
    purpose = page.locator("article.purpose", has=page.locator(f"code:text-is('{HOME_VISIT}')"))
    expect(purpose).to_contain_text("部分遮盖")
    purpose.get_by_role("link", name="按此用途提交申请").click()

    page.get_by_label("为什么需要这些数据？").fill("每月走访独居高龄老人")
    for column in ("resident_id", "name", "age", "building", "unit"):
        page.locator(f"input[name=select][value={column}]").check()
    page.get_by_label("条件 1：列").select_option("age")
    page.get_by_label("比较方式").first.select_option(">=")
    page.get_by_label("取值").first.fill("80")
    page.get_by_label("每次运行时填写取值").first.check()
    page.get_by_label("排序").select_option("building")
    # htmx shows the request JSON as the form changes
    expect(page.locator("#spec-preview")).to_contain_text('"param": "age_0"')
    shot(page, demo, "app-request-form")
    page.get_by_role("button", name="提交申请").click()

    expect(page.locator("#request-status")).to_have_text("待审批")
    expect(page.get_by_role("status")).to_contain_text("等待数据所属部门审批")
    demo.state["request"] = page.url.split("/")[-1].split("?")[0]
    assert not page.cdg_errors, page.cdg_errors


def test_2_the_department_registers_a_dataset_and_approves(demo: Demo, browser: Any) -> None:
    expect = playwright_api.expect
    page = new_page(browser)
    sign_in(page, demo, "civil-affairs")
    page.get_by_role("navigation").get_by_role("link", name="数据集").click()
    page.get_by_role("link", name="登记数据集").click()
    editor = page.get_by_label("数据集及使用策略（YAML）")
    text = editor.input_value()
    editor.fill(
        text.replace("name: new_dataset", "name: elderly_planning").replace(
            "access: aggregate", "access: everything"
        )
    )
    page.get_by_role("button", name="检查").click()
    expect(page.locator("#check-result")).to_contain_text("policy.purposes.0.access")
    expect(page.locator("#check-result")).to_contain_text("第 ")
    editor.fill(text.replace("name: new_dataset", "name: elderly_planning"))
    page.get_by_role("button", name="检查").click()
    expect(page.locator("#check-result")).to_contain_text("文档通过检查")
    page.get_by_role("button", name="运行测试").click()
    expect(page.locator("#test-result")).to_contain_text("2 项中 2 项通过")
    shot(page, demo, "department-dataset-editor")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("数据集已登记")
    expect(page.get_by_role("heading", name="elderly_planning")).to_be_visible()

    page.get_by_role("navigation").get_by_role("link", name="查询申请").click()
    card = page.locator("section.request", has_text="每月走访独居高龄老人")
    expect(card).to_contain_text("允许")  # the policy's explanation
    expect(card).to_contain_text("和平社区居委会 (heping-committee)")  # its display name
    card.get_by_label("给应用的意见（可选）").fill("同意，每月一次")
    shot(page, demo, "department-queue")
    card.get_by_role("button", name="批准").click()
    expect(page.get_by_role("status")).to_contain_text("申请已批准")
    assert not page.cdg_errors, page.cdg_errors


def test_3_the_app_runs_the_approved_query_and_downloads_csv(demo: Demo, browser: Any) -> None:
    expect = playwright_api.expect
    page = new_page(browser)
    sign_in(page, demo, "heping-committee")
    page.get_by_role("navigation").get_by_role("link", name="我的申请").click()
    page.get_by_role("link", name="每月走访独居高龄老人").click()
    expect(page.locator("#request-status")).to_have_text("已批准")
    expect(page.locator("main")).to_contain_text("同意，每月一次")
    expect(page.get_by_label("age_0")).to_have_value("80")
    page.get_by_role("button", name="运行", exact=True).click()
    table = page.locator("#result-table")
    expect(table).to_be_visible()
    expect(table.locator("thead")).to_contain_text("部分遮盖")
    names = table.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert names and all("*" in n for n in names)  # masked as released
    ids = table.locator("tbody tr td:nth-child(1)").all_inner_texts()
    assert all(i.startswith("p1_") for i in ids)  # pseudonyms, never ID numbers
    shot(page, demo, "app-result")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载 CSV").click()
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data[3:].decode("utf-8").splitlines()[0] == "resident_id,name,age,building,unit"
    assert len(data[3:].decode("utf-8").splitlines()) == len(names) + 1
    assert not page.cdg_errors, page.cdg_errors


def test_4_a_dp_result_warns_when_noise_dominates(demo: Demo, browser: Any) -> None:
    expect = playwright_api.expect
    page = new_page(browser)
    sign_in(page, demo, "guangming-eldercare")
    page.get_by_role("navigation").get_by_role("link", name="我的申请").click()
    page.get_by_role("link", name="慢病随访服务规划").first.click()
    page.get_by_role("button", name="运行", exact=True).click()
    expect(page.locator("#result-table .interval").first).to_be_visible()
    expect(page.locator("main")).to_contain_text("差分隐私")
    noisy = page.locator("#result-table td.noisy").count()
    if noisy:
        expect(page.locator("p.warning")).to_contain_text("噪声大于数值本身")
    else:
        expect(page.locator("p.warning")).to_have_count(0)


@pytest.mark.parametrize("width", [390, 1280])
def test_5_pages_fit_a_phone_and_a_desktop(demo: Demo, browser: Any, width: int) -> None:
    pages = {
        "heping-committee": ("/console/", "/console/app/catalogue", "/console/app/requests"),
        "civil-affairs": (
            "/console/department/datasets",
            "/console/department/requests",
            "/console/department/budgets",
            f"/console/department/datasets/{demo.datasets['residents']}",
        ),
    }
    for who, paths in pages.items():
        page = new_page(browser, width=width, height=844)
        sign_in(page, demo, who)
        for path in paths:
            page.goto(demo.base + path)
            fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            assert fits, path
            assert page.get_attribute("html", "lang") == "zh-CN"
        if width == 390:
            shot(page, demo, f"phone-{who}")


def test_6_english_through_the_switch(demo: Demo, browser: Any) -> None:
    expect = playwright_api.expect
    page = new_page(browser, locale="zh-CN")
    page.goto(demo.base + "/console/sign-in")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.get_attribute("html", "lang") == "en"
    page.get_by_label("API key").fill(demo.keys["civil-affairs"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="Requests")).to_be_visible()
