"""A task's DingTalk work notification: an action card whose buttons open the task's decision
link, in DingTalk's own browser on her phone; 同意 there lands as the API's own decision."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect
from pydantic import SecretStr

from domain.roles import Role
from hrflow.delivery import DecisionLinks, Relay
from integrations.dingtalk import DingTalkApi, DingTalkMessages
from integrations.mail import SmtpMailer
from tests.conftest import JWT_SECRET
from tests.live_server import serving_in_a_thread
from tests.processes.support import eventually
from tests.simulators.dingtalk import SimulatedDingTalk
from tests.web.line_manager_cases import LINE, audit_actions, two_cases_at_her_step


@pytest.fixture(scope="module")
def dingtalk() -> Iterator[tuple[SimulatedDingTalk, str]]:
    sim = SimulatedDingTalk(members={LINE: "周敏"})
    with serving_in_a_thread(sim.app()) as url:
        yield sim, url


@pytest.fixture
def web_settings(settings, dingtalk):
    sim, url = dingtalk
    return settings.model_copy(update={
        "dev_sign_in": True, "dingtalk_app_key": sim.app_key, "dingtalk_app_secret": SecretStr(sim.app_secret),
        "dingtalk_agent_id": sim.agent_id, "dingtalk_oapi_base": url, "dingtalk_api_base": url,
        "dingtalk_login_base": url})


def _relay(session_factory, smtp: tuple[int, Path], site: str, sim: SimulatedDingTalk, url: str) -> Relay:
    api = DingTalkApi(sim.app_key, sim.app_secret, sim.agent_id, oapi_base=url, api_base=url)
    return Relay(session_factory, mailer=SmtpMailer(host="127.0.0.1", port=smtp[0], sender="hrflow@example.cn"),
                 robots={}, links=DecisionLinks(site, JWT_SECRET, 72), dingtalk=DingTalkMessages(api))


async def test_the_cards_approve_button_decides_as_the_api_would(site, open_page, auth, session_factory, smtp,
                                                                dingtalk) -> None:
    sim, url = dingtalk
    by_card, by_api = await two_cases_at_her_step(site, auth, session_factory)
    relay = _relay(session_factory, smtp, site, sim, url)
    await eventually(lambda: relay.drain().idle or None, what="cards sent")
    assert len(sim.todos) == 2 and not any(t["done"] for t in sim.todos.values())  # a to-do in her list per card
    card = next(c for c in sim.cards(LINE) if by_card in c["markdown"])
    approve, reject = card["btn_json_list"]
    assert (approve["title"], reject["title"]) == ("同意", "驳回（填写理由）")
    assert approve["action_url"].startswith(f"{site}/app/links/") and approve["action_url"].endswith("?choice=approve")

    async with httpx.AsyncClient(base_url=site) as api:
        r = await api.post(f"/si-changes/{by_api}/approve", json={}, headers=auth(Role.EMPLOYEE, LINE, "E-MGR"))
        assert r.status_code == 200, r.text
    page, watch = await open_page(width=390)
    await page.goto(approve["action_url"], wait_until="load")
    await expect(page.get_by_role("button", name="驳回")).to_have_count(0)  # only the choice she tapped
    await page.get_by_role("button", name="同意").click()
    await expect(page.locator("[role=status]")).to_contain_text("已处理")
    watch.assert_clean()
    await eventually(lambda: len(audit_actions(session_factory, by_api)) ==
                     len(audit_actions(session_factory, by_card)) - 1, what="both cases at the same point")
    assert [a for a in audit_actions(session_factory, by_card) if a[0] != "decision_link.used"] == \
        audit_actions(session_factory, by_api)

    def all_done() -> bool:
        relay.drain()
        return all(t["done"] for t in sim.todos.values())

    await eventually(all_done, what="her to-dos done")  # both tasks decided: one here, one through the API
