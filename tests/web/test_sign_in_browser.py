"""Single sign-on in Chromium: through a real OpenID provider's pages and through WeCom's web
login (simulated), back into the web app as the person the directory knows, then signed out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from tests.idp import CLIENT_ID, CLIENT_SECRET, running_provider
from tests.live_server import free_port, serving_in_a_thread
from tests.simulators.wecom import SimulatedWeCom


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture
def site_port(port: int) -> int:
    return port


@pytest.fixture(scope="module")
def issuer(port: int) -> Iterator[str]:
    accounts = {"mgr.wang": {"preferred_username": "mgr.wang", "name": "Someone Else"}}
    with running_provider([f"http://127.0.0.1:{port}/app/sign-in/oidc/callback"], accounts) as url:
        yield url


@pytest.fixture(scope="module")
def wecom() -> Iterator[tuple[SimulatedWeCom, str]]:
    sim = SimulatedWeCom(members={"E1001": "王芳"})
    with serving_in_a_thread(sim.app()) as url:
        yield sim, url


@pytest.fixture
def web_settings(settings, issuer, wecom):
    sim, wecom_url = wecom
    return settings.model_copy(update={
        "dev_sign_in": False, "oidc_issuer": issuer, "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": SecretStr(CLIENT_SECRET), "wecom_corp_id": sim.corp_id, "wecom_agent_id": sim.agent_id,
        "wecom_secret": SecretStr(sim.secret), "wecom_api_base": wecom_url, "wecom_login_base": wecom_url})


async def test_sign_in_through_the_company_provider_and_out_again(open_page, site, issuer) -> None:
    page, watch = await open_page(also=(issuer,))
    await page.goto(site + "/app/cases", wait_until="load")
    assert "/app/sign-in" in page.url
    await page.get_by_role("link", name="使用企业账号登录（单点登录）").click()
    await page.locator("input[name=login]").fill("mgr.wang")
    await page.locator("input[name=password]").fill("whatever")
    await page.get_by_role("button", name="Sign-in").click()
    await page.get_by_role("button", name="Continue").click()
    await page.wait_for_url(site + "/app/cases")
    assert await page.locator("header strong").first.inner_text() == "mgr.wang"
    assert "人事经理" in await page.locator("header").inner_text()
    assert "Someone Else" not in await page.content()
    await page.get_by_role("button", name="退出").click()
    await page.wait_for_url(site + "/app/sign-in")
    await page.goto(site + "/app/cases", wait_until="load")
    assert "/app/sign-in" in page.url  # signed out is signed out
    watch.assert_clean()


async def test_sign_in_with_wecom(open_page, site, wecom) -> None:
    _, wecom_url = wecom
    page, watch = await open_page(width=390, also=(wecom_url,))
    await page.goto(site + "/app/sign-in", wait_until="load")
    assert "开发环境登录" not in await page.content()  # no chooser in production
    await page.get_by_role("link", name="使用企业微信登录").click()
    await page.get_by_role("button", name="王芳（E1001）").click()
    await page.wait_for_url(site + "/app**")
    assert "E1001" in await page.locator("header").inner_text()
    watch.assert_clean()
