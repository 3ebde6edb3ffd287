"""A task's Feishu card, decided by its button: the relay sends the interactive card, the member
presses 同意, Feishu's signed and encrypted card.action.trigger reaches hrflow and lands as the API's
own decision, once however often it comes, answered with the card as it now stands; a forged,
tampered, stale or someone else's callback changes nothing. The scheme is checked against
Feishu's published sample."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from domain.roles import Role
from hrflow.delivery import DecisionLinks, Relay
from integrations.feishu import FeishuApi, FeishuMessages
from integrations.feishu_crypto import CallbackRefused, FeishuCrypto, signature
from integrations.mail import SmtpMailer
from tests.conftest import JWT_SECRET
from tests.live_server import serving_in_a_thread
from tests.processes.support import eventually
from tests.simulators.feishu import SimulatedFeishu
from tests.web.line_manager_cases import LINE, audit_actions, two_cases_at_her_step

CALLBACK = "/integrations/feishu/callback"


def test_the_scheme_matches_feishus_published_sample() -> None:
    """Feishu's own example (事件订阅 → 加密): this text under "test key" is "hello world"."""
    crypto = FeishuCrypto("test key")
    assert crypto.decrypt("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == "hello world"
    assert crypto.decrypt(crypto.encrypt("同意")) == "同意"
    with pytest.raises(CallbackRefused):
        FeishuCrypto("another key").decrypt("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")
    good = signature("1700000000", "n1", "test key", b'{"encrypt":"x"}')
    crypto.verify("1700000000", "n1", b'{"encrypt":"x"}', good)
    with pytest.raises(CallbackRefused):
        crypto.verify("1700000000", "n1", b'{"encrypt":"y"}', good)


@pytest.fixture(scope="module")
def feishu() -> Iterator[tuple[SimulatedFeishu, str]]:
    sim = SimulatedFeishu(members={LINE: "周敏"})
    with serving_in_a_thread(sim.app()) as url:
        yield sim, url


@pytest.fixture
def web_settings(settings, feishu):
    sim, url = feishu
    return settings.model_copy(update={
        "dev_sign_in": True, "feishu_app_id": sim.app_id, "feishu_app_secret": SecretStr(sim.app_secret),
        "feishu_verification_token": SecretStr(sim.verification_token),
        "feishu_encrypt_key": SecretStr(sim.encrypt_key), "feishu_api_base": url, "feishu_accounts_base": url})


def _relay(session_factory, smtp: tuple[int, Path], site: str, sim: SimulatedFeishu, url: str) -> Relay:
    return Relay(session_factory, mailer=SmtpMailer(host="127.0.0.1", port=smtp[0], sender="hrflow@example.cn"),
                 robots={}, links=DecisionLinks(site, JWT_SECRET, 72),
                 feishu=FeishuMessages(FeishuApi(sim.app_id, sim.app_secret, api_base=url)))


def _buttons(card: dict) -> list[dict]:
    return next(e["actions"] for e in card["elements"] if e["tag"] == "action")


async def test_a_card_pressed_twice_decides_once_as_the_api_would(site, auth, session_factory, smtp, feishu) -> None:
    sim, url = feishu
    by_card, by_api = await two_cases_at_her_step(site, auth, session_factory)
    relay = _relay(session_factory, smtp, site, sim, url)
    await eventually(lambda: relay.drain().idle or None, what="cards sent")
    cards = [c for c in sim.cards(LINE) if by_card in c["elements"][0]["text"]["content"]]
    assert len(cards) == 1 and len(sim.cards(LINE)) == 2
    approve, reject = _buttons(cards[0])
    assert approve["text"]["content"] == "同意" and approve["value"]["choice"] == "approve"
    assert reject["url"].startswith(f"{site}/app/links/")  # a reason needs the page

    async with httpx.AsyncClient(base_url=site) as api:
        r = await api.post(f"/si-changes/{by_api}/approve", json={}, headers=auth(Role.EMPLOYEE, LINE, "E-MGR"))
        assert r.status_code == 200, r.text
    first = await asyncio.to_thread(sim.press, site + CALLBACK, LINE, approve["value"])
    assert first.status_code == 200 and first.json()["toast"] == {"type": "success", "content": "已同意"}
    assert first.json()["card"]["data"]["elements"][0]["text"]["content"] == "**已同意**"
    repeat = await asyncio.to_thread(sim.press, site + CALLBACK, LINE, approve["value"])
    assert repeat.status_code == 200 and repeat.json() == {}

    await eventually(lambda: len(audit_actions(session_factory, by_api)) ==
                     len(audit_actions(session_factory, by_card)) - 1, what="both cases at the same point")
    assert [a for a in audit_actions(session_factory, by_card) if a[0] != "decision_link.used"] == \
        audit_actions(session_factory, by_api)
    assert [a for a in audit_actions(session_factory, by_card) if a[0] == "decision_link.used"] == [
        ("decision_link.used", LINE)]

    # the card of the case she decided through the API is closed in Feishu too, once
    other = next(c for c in sim.cards(LINE) if by_api in c["elements"][0]["text"]["content"])
    def closed() -> bool:
        relay.drain()
        return other["message_id"] in sim.replaced and cards[0]["message_id"] in sim.replaced

    await eventually(closed, what="both cards closed")
    assert sim.replaced[other["message_id"]]["elements"][0]["text"]["content"] == "**已处理：已同意**"
    # the pressed one too: its task is no longer open
    assert relay.drain().closed == 0
    assert len(sim.tasks) == 2 and all(t["completed_at"] != "0" for t in sim.tasks.values())  # her Feishu tasks


async def test_forged_tampered_stale_or_foreign_callbacks_change_nothing(site, auth, session_factory, smtp,
                                                                         feishu) -> None:
    sim, url = feishu
    workflow_id, _ = await two_cases_at_her_step(site, auth, session_factory)
    await eventually(lambda: _relay(session_factory, smtp, site, sim, url).drain().idle or None, what="cards sent")
    card = next(c for c in sim.cards(LINE) if workflow_id in c["elements"][0]["text"]["content"])
    value = _buttons(card)[0]["value"]
    callback = site + CALLBACK
    assert (await asyncio.to_thread(sim.press, callback, LINE, value, token="not-ours")).status_code == 403
    assert (await asyncio.to_thread(sim.press, callback, LINE, value, tamper=True)).status_code == 403
    assert (await asyncio.to_thread(sim.press, callback, LINE, value, timestamp=1_700_000_000)).status_code == 403
    foreign = await asyncio.to_thread(sim.press, callback, "someone.else", value)
    assert foreign.status_code == 200 and foreign.json() == {}
    reject = await asyncio.to_thread(sim.press, callback, LINE, {"link": value["link"], "choice": "reject"})
    assert reject.json()["toast"]["type"] == "warning"  # a reason is needed: no callback decides a rejection
    check = await asyncio.to_thread(sim.url_check, callback)
    assert check.status_code == 200 and set(check.json()) == {"challenge"}
    assert (await asyncio.to_thread(sim.url_check, callback, token="not-ours")).status_code == 403
    async with httpx.AsyncClient(base_url=site) as api:
        v = (await api.get(f"/si-changes/{workflow_id}", headers=auth(Role.HR_MANAGER, "mgr.wang"))).json()
    assert v["approval"]["current"] == 0 and v["approval"]["steps"][0]["signed_by"] == []
    assert all(a != "decision_link.used" for a, _ in audit_actions(session_factory, workflow_id))
