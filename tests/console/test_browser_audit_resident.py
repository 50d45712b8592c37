"""In a real browser (Debian's Chromium through Playwright): the auditor finds the run an
app made, opens it with its proof and sees the log verified; a department issues a
resident's link, the resident opens it and sees who received their data, and a second
open and an expired link fail. Screenshots go to CDG_SCREENSHOTS (default: a temporary
folder of the run)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn

from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway, make_settings, open_gateway
from tests.gateway.auditlog.test_resident_history import PURPOSE, SPEC, register, released_ids

playwright_api = pytest.importorskip("playwright.sync_api")
# The journeys' launch arguments and pages (which record console errors: CSP violations).
from tests.console.test_browser_journeys import ARGS, CHROMIUM  # noqa: E402
from tests.console.test_browser_journeys import new_page as journey_page  # noqa: E402

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium installed")


@dataclass
class Site:
    gw: Gateway
    base: str
    run_index: int
    resident: str
    shots: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, small_community: Community) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("browser")
    source = f"sqlite:///{tmp / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, source))
    port = _free_port()
    gw = open_gateway(make_settings(tmp / "home", public_url=f"http://127.0.0.1:{port}"))
    dataset = register(gw, "civil-affairs", "residents-ca", source, "resident_id")
    query = gw.approved_query("heping-committee", dataset, PURPOSE, SPEC)
    ran = gw.run("heping-committee", query)
    assert ran.status_code == 200, ran.text
    index = int(ran.json()["receipt"]["entry_index"])
    assert gw.run("jianshe-property", query).status_code == 404  # a denial for the chart
    resident = released_ids(gw, source, index)[0]
    with gw.ctx.store.transaction() as session:  # the names people read, as in the demo
        for name, display in (
            ("heping-committee", "和平社区居委会"),
            ("civil-affairs", "区民政局"),
        ):
            session.execute(
                sa.text("UPDATE principals SET display_name = :d WHERE name = :n"),
                {"d": display, "n": name},
            )
    server = uvicorn.Server(
        uvicorn.Config(gw.client.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    shots = Path(os.environ.get("CDG_SCREENSHOTS", str(tmp / "screenshots")))
    shots.mkdir(parents=True, exist_ok=True)
    yield Site(gw, f"http://127.0.0.1:{port}", index, resident, shots)
    server.should_exit = True
    thread.join(timeout=10)
    gw.client.close()
    gw.ctx.close()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def new_page(browser: object, width: int = 1280, height: int = 900) -> object:
    return journey_page(browser, width, height)


def no_console_errors(page: object) -> None:
    errors = page.cdg_errors  # type: ignore[attr-defined]
    assert not errors, errors


def sign_in(page: object, site: Site, who: str) -> None:
    page.goto(site.base + "/console/sign-in")  # type: ignore[attr-defined]
    page.get_by_label("API 密钥").fill(site.gw.keys[who])  # type: ignore[attr-defined]
    page.get_by_role("button", name="登录").click()  # type: ignore[attr-defined]
    page.wait_for_url(site.base + "/console/")  # type: ignore[attr-defined]


def fits_the_width(page: object) -> bool:
    return bool(
        page.evaluate(  # type: ignore[attr-defined]
            "document.documentElement.scrollWidth <= window.innerWidth + 1"
        )
    )


def test_the_auditor_finds_the_run_opens_its_proof_and_sees_the_log_verified(
    site: Site, browser: object
) -> None:
    page = new_page(browser)
    sign_in(page, site, "district-auditor")
    expect = playwright_api.expect
    page.get_by_role("navigation").get_by_role("link", name="审计概览").click()  # type: ignore[attr-defined]
    expect(page.locator("#verify-result")).to_contain_text("访问日志完整无损")  # type: ignore[attr-defined]
    expect(page.locator("#checkpoint")).to_contain_text("有效")  # type: ignore[attr-defined]
    assert page.locator("figure svg").count() == 3  # type: ignore[attr-defined]
    page.screenshot(path=str(site.shots / "auditor-overview.png"), full_page=True)  # type: ignore[attr-defined]

    page.get_by_role("navigation").get_by_role("link", name="访问日志").click()  # type: ignore[attr-defined]
    page.get_by_label("应用或主体").select_option("heping-committee")  # type: ignore[attr-defined]
    page.get_by_label("事件").select_option("query.run")  # type: ignore[attr-defined]
    page.get_by_label("居民(身份证号)").fill(site.resident)  # type: ignore[attr-defined]
    page.get_by_role("button", name="查询", exact=True).click()  # type: ignore[attr-defined]
    run = page.get_by_role("link", name=str(site.run_index), exact=True)  # type: ignore[attr-defined]
    expect(run).to_be_visible()
    assert site.resident not in page.url  # type: ignore[attr-defined]
    page.screenshot(path=str(site.shots / "auditor-search.png"), full_page=True)  # type: ignore[attr-defined]
    run.click()
    heading = page.get_by_role("heading", name=f"条目 {site.run_index}")  # type: ignore[attr-defined]
    expect(heading).to_be_visible()
    if page.get_by_role("button", name="立即签署检查点").count():  # type: ignore[attr-defined]
        page.get_by_role("button", name="立即签署检查点").click()  # type: ignore[attr-defined]
        page.goto(f"{site.base}/console/audit/entries/{site.run_index}")  # type: ignore[attr-defined]
    expect(page.locator("main")).to_contain_text("已证明:该条目在已签名的日志中。")  # type: ignore[attr-defined]
    expect(page.locator("main")).to_contain_text("query.run")  # type: ignore[attr-defined]
    page.screenshot(path=str(site.shots / "auditor-entry-proof.png"), full_page=True)  # type: ignore[attr-defined]
    no_console_errors(page)


def _issue_in_the_console(site: Site, browser: object) -> str:
    clerk = new_page(browser)
    sign_in(clerk, site, "civil-affairs")
    clerk.get_by_role("navigation").get_by_role("link", name="居民查询链接").click()  # type: ignore[attr-defined]
    clerk.get_by_label("居民身份证号").fill(site.resident)  # type: ignore[attr-defined]
    clerk.get_by_label("有效期").select_option("24")  # type: ignore[attr-defined]
    clerk.get_by_role("button", name="签发链接").click()  # type: ignore[attr-defined]
    link = clerk.get_by_label("链接", exact=True)  # type: ignore[attr-defined]
    playwright_api.expect(link).to_be_visible()
    url = str(link.input_value())
    assert site.resident not in clerk.content()  # type: ignore[attr-defined]
    clerk.screenshot(path=str(site.shots / "department-resident-link.png"), full_page=True)  # type: ignore[attr-defined]
    clerk.context.close()  # type: ignore[attr-defined]
    return url


def test_a_resident_opens_their_link_once_and_sees_who_received_their_data(
    site: Site, browser: object
) -> None:
    url = _issue_in_the_console(site, browser)
    assert url.startswith(site.base + "/console/resident/open/")
    expect = playwright_api.expect
    phone = new_page(browser, 390, 844)  # the resident is on a phone
    phone.goto(url)  # type: ignore[attr-defined]
    expect(phone.get_by_role("heading", name="谁获取了我的信息")).to_be_visible()  # type: ignore[attr-defined]
    phone.get_by_role("button", name="查看我的记录").click()  # type: ignore[attr-defined]
    phone.wait_for_url(site.base + "/console/resident")  # type: ignore[attr-defined]
    main = phone.locator("main")  # type: ignore[attr-defined]
    expect(main).to_contain_text("和平社区居委会")
    expect(main).to_contain_text("区民政局")
    expect(main).to_contain_text("获取了您的信息")
    expect(main).to_contain_text("独居老人上门探访")
    expect(main).to_contain_text("《个人信息保护法》")
    assert site.resident not in main.inner_text()
    assert fits_the_width(phone)
    no_console_errors(phone)  # before the pages that answer 410 and 401 on purpose
    phone.screenshot(path=str(site.shots / "resident-history-phone.png"), full_page=True)  # type: ignore[attr-defined]
    # The same link a second time, in another browser: refused.
    other = new_page(browser)
    other.goto(url)  # type: ignore[attr-defined]
    expect(other.get_by_role("heading", name="此链接已经使用过")).to_be_visible()  # type: ignore[attr-defined]
    assert other.get_by_role("button", name="查看我的记录").count() == 0  # type: ignore[attr-defined]
    other.screenshot(path=str(site.shots / "resident-link-used.png"))  # type: ignore[attr-defined]
    # Leaving ends the page at once.
    phone.get_by_role("button", name="退出").click()  # type: ignore[attr-defined]
    expect(phone.get_by_role("heading", name="您已退出")).to_be_visible()  # type: ignore[attr-defined]
    phone.goto(site.base + "/console/resident")  # type: ignore[attr-defined]
    expect(phone.get_by_role("heading", name="页面已关闭")).to_be_visible()  # type: ignore[attr-defined]


def test_an_expired_link_fails_in_the_browser(site: Site, browser: object) -> None:
    r = site.gw.post("civil-affairs", "/v1/subjects/links", {"id_number": site.resident})
    assert r.status_code == 201
    with site.gw.ctx.store.transaction() as session:
        session.execute(
            sa.text("UPDATE resident_links SET expires_at = :t WHERE id = :i"),
            {
                "t": (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None),
                "i": r.json()["id"],
            },
        )
    page = new_page(browser, 390, 844)
    page.goto(r.json()["url"])  # type: ignore[attr-defined]
    playwright_api.expect(page.get_by_role("heading", name="此链接已过期")).to_be_visible()  # type: ignore[attr-defined]
    assert page.get_by_role("button", name="查看我的记录").count() == 0  # type: ignore[attr-defined]
    page.screenshot(path=str(site.shots / "resident-link-expired.png"))  # type: ignore[attr-defined]


@pytest.mark.parametrize("width", [390, 1280])
def test_the_pages_fit_a_phone_and_a_desktop(site: Site, browser: object, width: int) -> None:
    pages = {
        "district-auditor": [
            "/console/audit",
            "/console/audit/entries",
            f"/console/audit/entries/{site.run_index}",
        ],
        "civil-affairs": ["/console/department/resident-links"],
    }
    for who, paths in pages.items():
        page = new_page(browser, width, 844)
        sign_in(page, site, who)
        for path in paths:
            page.goto(site.base + path)  # type: ignore[attr-defined]
            wide = page.evaluate(  # type: ignore[attr-defined]
                "[...document.querySelectorAll('body *')].filter(e => "
                "e.getBoundingClientRect().right > window.innerWidth + 1)"
                ".map(e => e.tagName + '.' + e.className).slice(0, 8)"
            )
            assert fits_the_width(page), (width, path, wide)
            if width == 390:
                name = path.strip("/").replace("/", "-")
                page.screenshot(path=str(site.shots / f"phone-{name}.png"), full_page=True)  # type: ignore[attr-defined]
        no_console_errors(page)
