"""The web app on the real stack: the API and a worker (time-skipping Temporal, real PostgreSQL)
served by uvicorn in the test's own event loop, and headless Chromium (Debian's) that may reach
nothing but that server. Each journey's browser collects console errors and failed requests; a
test ends by asserting there were none."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, ConsoleMessage, Page, Request, Route, async_playwright

from api.app import create_app
from db.models import StaffMember
from hrflow import mail_sink
from integrations.si_agency import SimulatedAgency
from tests.live_server import free_port
from tests.processes.support import add_employee, terminate_cases, time_skipping_env
from worker import build_worker

CHROMIUM = os.environ.get("HRFLOW_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
STAFF = [("hr.li", "李娜", "hr_specialist", 1), ("mgr.wang", "王强", "hr_manager", 1),
         ("director.chen", "陈静", "hr_manager", 2), ("fin.zhao", "赵敏", "finance", 1),
         ("comp.sun", "孙立", "compliance", 1), ("it.zhou", "周杰", "it", 1), ("ops.wu", "吴刚", "admin", 1)]
EMPLOYEE = "E1001"


@pytest.fixture
async def temporal_env(codec) -> AsyncIterator[object]:
    """A time-skipping server per test, its clock at the real date (a journey may skip months)."""
    async with time_skipping_env(codec) as env:
        yield env


@pytest.fixture
def web_settings(settings):
    return settings.model_copy(update={"dev_sign_in": True, "temporal_ui_url": "http://127.0.0.1:8233"})


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A real SMTP server on a free port that keeps each message as a file: (port, folder)."""
    port = free_port()
    controller = mail_sink.start(tmp_path / "mail", port=port)
    yield port, tmp_path / "mail"
    controller.stop()


@pytest.fixture
def site_port() -> int:
    """The port hrflow is served on: any free one (a module whose provider must know the address
    beforehand picks one)."""
    return 0


@pytest.fixture
async def site(temporal_env, web_settings, engine, session_factory, codec, site_port) -> AsyncIterator[str]:
    """The base URL of hrflow served on a free port, with the staff and one employee registered."""
    add_employee(session_factory, EMPLOYEE, name="王芳")
    with session_factory.begin() as s:
        for user, name, role, level in STAFF:
            s.add(StaffMember(user_id=user, display_name=name, role=role, level=level, email=f"{user}@example.cn"))
    app = create_app(web_settings, engine=engine, temporal=temporal_env.client, codec=codec)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=site_port, log_level="warning",
                                           lifespan="on"))
    serving = asyncio.create_task(server.serve())
    async with build_worker(temporal_env.client, web_settings, session_factory,
                            agency=SimulatedAgency(session_factory)):
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
        server.should_exit = True
        await serving
        await terminate_cases(temporal_env.client, session_factory)


@dataclass
class Watch:
    """What a browser did that a user would call broken: console errors, failed or foreign requests."""

    base: str
    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.console_errors == [], self.console_errors
        assert self.failed == [], self.failed
        assert self.foreign == [], self.foreign


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
def open_page(browser: Browser, site: str) -> Callable[..., object]:
    """``page, watch = await open_page(width=390)``: a fresh browser context (no cookies) that may
    reach only the site (and the sign-in providers named in ``also``)."""

    async def make(width: int = 1280, height: int = 900, locale: str = "zh-CN",
                   also: tuple[str, ...] = ()) -> tuple[Page, Watch]:
        watch = Watch(site)
        context = await browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        reachable = tuple(f"{origin}/" for origin in (site, *also))

        def ours(url: str) -> bool:  # a page of hrflow's (a provider's own pages are not judged here)
            return url.startswith(site + "/")

        async def only_local(route: Route) -> None:
            if route.request.url.startswith(reachable):
                await route.continue_()
            else:
                if ours(route.request.frame.url) or not also:
                    watch.foreign.append(route.request.url)
                await route.abort()

        await context.route("**/*", only_local)
        page = await context.new_page()
        page.set_default_timeout(10_000)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and (ours(page.url) or not also):
                watch.console_errors.append(message.text)

        def on_failed(request: Request) -> None:
            # ERR_ABORTED is the browser cancelling a load it no longer needs (a favicon when the
            # next page is already on its way), not an answer of the server.
            if request.url.startswith(site + "/") and request.failure != "net::ERR_ABORTED":
                watch.failed.append(f"{request.method} {request.url}: {request.failure}")

        async def on_response(response: object) -> None:
            status = getattr(response, "status", 200)
            if status >= 400:
                watch.failed.append(f"{getattr(response, 'url', '')}: {status}")

        page.on("console", on_console)
        page.on("requestfailed", on_failed)
        page.on("response", on_response)
        return page, watch

    return make


async def sign_in(page: Page, site: str, user: str) -> None:
    """Through the sign-in page, as a person would: choose her, press the button."""
    await page.goto(site + "/", wait_until="load")
    await page.locator(f"input[name=person][value$=':{user}']").check()
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_load_state("load")


async def api_token_client(site: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=site, headers={"authorization": f"Bearer {token}"})


SCREENSHOTS = os.environ.get("HRFLOW_SCREENSHOTS")  # a folder: the README's pictures are taken there


async def shoot(page: Page, name: str) -> None:
    """Keep a picture of the page for the README when ``HRFLOW_SCREENSHOTS`` names a folder."""
    if SCREENSHOTS:
        await page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


@pytest.fixture
async def web(site) -> AsyncIterator[httpx.AsyncClient]:
    """The pages over HTTP, no browser: a client of the served site that follows redirects."""
    async with httpx.AsyncClient(base_url=site, follow_redirects=True) as client:
        yield client


async def as_person(web: httpx.AsyncClient, user: str, role: str) -> str:
    """Sign in as ``user`` (the dev sign-in); answers the form token her pages carry."""
    r = await web.post("/app/sign-in", data={"person": f"{role}:{user}"})
    assert r.status_code == 200, r.text
    found = re.search(r'name="_csrf" value="([0-9a-f]+)"', r.text)
    assert found, r.text[:500]
    return found.group(1)
