"""The report page in headless Chromium (Debian's package) against a live uvicorn server: the
charts render as SVG with real size, the trend lines and bars are drawn, Chinese stays text, the
alert list shows the seeded alerts, and the page asks nothing of any other address."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.async_api import Route, async_playwright

from db import report
from domain.roles import Role
from tests.live_server import serving_in_a_thread
from tests.reports.conftest import report_app

CHROMIUM = os.environ.get("HRFLOW_CHROMIUM", "/usr/bin/chromium")  # as run.py installs it
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
CHARTS = ["trend-attrition", "trend-undeducted", "trend-departed", "bars-departments", "bars-positions",
          "bars-ageing"]


class _NoTemporal:
    """The page never reaches Temporal; this keeps the app from connecting to one."""


@pytest.fixture
def live_server(settings, engine, codec) -> Iterator[str]:
    with serving_in_a_thread(report_app(settings, engine, codec, _NoTemporal())) as url:
        yield url


@pytest.fixture
def two_months(seeded, compute) -> None:
    compute("2026-10")
    compute("2026-11")


async def test_the_page_renders_its_charts_and_alerts(live_server, token, session_factory, two_months) -> None:
    with session_factory() as s:
        expected_alerts = [f"{a.message} ({a.message_en})" for a in report.load(s, "2026-11").alerts]
    requested: list[str] = []
    refused: list[str] = []

    async def only_local(route: Route) -> None:
        url = route.request.url
        if url.startswith(live_server + "/"):
            await route.continue_()
        else:
            refused.append(url)
            await route.abort()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = await browser.new_context()  # a plain browser: the sign-in link sets a cookie
            await context.route("**/*", only_local)
            context.on("request", lambda r: requested.append(r.url))  # redirects included
            page = await context.new_page()
            login = f"{live_server}/reports/monthly/login?month=2026-11&token={token(Role.HR_MANAGER, 'director.chen')}"
            response = await page.goto(login, wait_until="load")
            assert response is not None and response.status == 200
            assert page.url == f"{live_server}/reports/monthly/2026-11/page"
            assert "2026-11" in await page.title()

            items = page.locator("#alerts li")
            assert await items.all_inner_texts() == expected_alerts and len(expected_alerts) == 9
            assert await page.locator("#alerts li[data-metric='maternity_return_attrition']").get_attribute(
                "data-dimension") == "销售部"

            assert [await f.get_attribute("id") for f in await page.locator("figure").all()] == CHARTS
            for chart in CHARTS:
                svg = page.locator(f"#{chart} svg")
                box = await svg.bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 50, chart
                assert (await page.locator(f"#{chart} figcaption").inner_text()).strip(), chart

            # Trend lines: two series over October and November, drawn as paths with width.
            for chart, series in (("trend-attrition", 2), ("trend-undeducted", 1), ("trend-departed", 1)):
                lines = page.locator(f"#{chart} g[id$='series-0'] > path, #{chart} g[id$='series-1'] > path")
                assert await lines.count() == series, chart
                for line in await lines.all():
                    box = await line.bounding_box()
                    assert box is not None and box["width"] > 50, chart
            assert await page.locator("#trend-undeducted g[id$='threshold'] path").count() == 1

            # Bars per department: 3 departments x 3 series; zero values draw nothing. Non-zero:
            # attrition HR, sales; undeducted all three; bases outside R&D, sales = 7.
            bars = page.locator("#bars-departments g[id*='-bar-'] path")
            assert await bars.count() == 9
            heights = [(await b.bounding_box() or {}).get("height", 0) for b in await bars.all()]
            assert sum(1 for h in heights if h > 0) == 7
            assert await page.locator("#bars-positions g[id*='-bar-'] path").count() == 4
            assert await page.locator("#bars-ageing g[id*='-bar-'] path").count() == 4
            # Chinese department names are text in the SVG, not outlines.
            labels = await page.locator("#bars-departments svg text").all_text_contents()
            assert {"人事部", "研发部", "销售部"} <= set(labels)

            assert await page.locator("script").count() == 0
            html = await page.content()
            assert "http://" not in html and "https://" not in html

            # The sales mothers' numerator opens the two of them, each with her maternity case.
            await page.locator("#metric-maternity_return_attrition + table tr.alert a").click()
            await page.wait_for_load_state("load")
            assert page.url.startswith(f"{live_server}/reports/monthly/2026-11/members.html?metric=")
            rows = page.locator("#members tbody tr")
            assert await rows.count() == 2
            assert [await c.inner_text() for c in await page.locator("#members tbody tr td:nth-child(2)").all()] == [
                "maternity-leave-S1", "maternity-leave-S2"]
            assert "共 2 条，计入 2 条" in await page.locator("#counts").inner_text()
            await page.get_by_role("link", name="返回 2026-11 月报").click()
            await page.wait_for_load_state("load")
            assert page.url == f"{live_server}/reports/monthly/2026-11/page"
        finally:
            await browser.close()
    assert refused == []
    drill = f"{live_server}/reports/monthly/2026-11/members.html?metric=maternity_return_attrition&dimension=%E9%94%80%E5%94%AE%E9%83%A8"
    assert requested == [login, f"{live_server}/reports/monthly/2026-11/page", drill,
                         f"{live_server}/reports/monthly/2026-11/page"]


async def test_the_page_needs_a_reader(live_server, token, two_months) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page()
            anonymous = await page.goto(f"{live_server}/reports/monthly/2026-11/page")
            assert anonymous is not None and anonymous.status == 401
            await page.set_extra_http_headers({"Authorization": f"Bearer {token(Role.HR_SPECIALIST)}"})
            specialist = await page.goto(f"{live_server}/reports/monthly/2026-11/page")
            assert specialist is not None and specialist.status == 403
        finally:
            await browser.close()


async def test_the_report_cookie_opens_report_pages_only(live_server, token, two_months) -> None:
    """The sign-in cookie is for reading reports: not other routes, not writes, not other roles."""
    import httpx

    async with httpx.AsyncClient(base_url=live_server) as client:
        refused = await client.get("/reports/monthly/login", params={"month": "2026-11",
                                                                     "token": token(Role.HR_SPECIALIST)})
        assert refused.status_code == 403 and "set-cookie" not in refused.headers
        signed = await client.get("/reports/monthly/login", params={"month": "2026-11",
                                                                    "token": token(Role.COMPLIANCE, "c.li")})
        assert signed.status_code == 303
        cookie = signed.cookies.get("hrflow_report_token")
        assert cookie and "httponly" in signed.headers["set-cookie"].lower()
        jar = {"Cookie": f"hrflow_report_token={cookie}"}  # sent by hand: the server's rule is under test
        assert (await client.get("/reports/monthly/2026-11/page", headers=jar)).status_code == 200
        assert (await client.get("/reports/monthly/2026-11/figures.csv", headers=jar)).status_code == 200
        assert (await client.get("/inbox", headers=jar)).status_code == 401
        assert (await client.post("/reports/monthly/2026-11/compute", headers=jar)).status_code == 401
