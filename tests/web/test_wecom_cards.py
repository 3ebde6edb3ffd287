"""A task's WeCom card, decided by its button: the relay sends the card (WeCom's template_card), the
member presses 同意, WeCom's signed and encrypted callback reaches hrflow and lands as the API's own
decision, once however often WeCom repeats it, and the card shows the outcome; a forged, stale or
someone else's callback changes nothing. The scheme itself is checked against WeCom's published
sample."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from domain.roles import Role
from hrflow.delivery import DecisionLinks, Relay
from integrations.mail import SmtpMailer
from integrations.wecom import WeComApi, WeComMessages
from integrations.wecom_crypto import CallbackRefused, WeComCrypto
from tests.conftest import JWT_SECRET
from tests.live_server import free_port, serving_in_a_thread
from tests.processes.support import eventually
from tests.simulators.wecom import SimulatedWeCom
from tests.web.line_manager_cases import LINE, audit_actions, two_cases_at_her_step

CALLBACK = "/integrations/wecom/callback"


def test_the_scheme_matches_wecoms_published_sample() -> None:
    """WeCom's own example (加解密方案说明): this address check decrypts to this echo."""
    crypto = WeComCrypto("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
    echo = ("P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==")
    assert crypto.opened("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", echo) == \
        "1616140317555161061"
    with pytest.raises(CallbackRefused):  # one digit of the signature changed
        crypto.opened("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd4", "1409659589", "263014780", echo)
    other_corp = WeComCrypto("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "ww-another-corp")
    with pytest.raises(CallbackRefused):
        other_corp.decrypt(echo)
    assert crypto.decrypt(crypto.encrypt("<xml>同意</xml>")) == "<xml>同意</xml>"


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture
def site_port(port: int) -> int:
    return port


@pytest.fixture(scope="module")
def wecom() -> Iterator[tuple[SimulatedWeCom, str]]:
    sim = SimulatedWeCom(members={LINE: "周敏"})
    with serving_in_a_thread(sim.app()) as url:
        yield sim, url


@pytest.fixture
def web_settings(settings, wecom, port):
    sim, url = wecom
    return settings.model_copy(update={
        "dev_sign_in": True, "public_url": f"http://127.0.0.1:{port}", "wecom_corp_id": sim.corp_id,
        "wecom_agent_id": sim.agent_id, "wecom_secret": SecretStr(sim.secret), "wecom_api_base": url,
        "wecom_callback_token": SecretStr(sim.callback_token),
        "wecom_encoding_aes_key": SecretStr(sim.encoding_aes_key)})


def _relay(session_factory, smtp: tuple[int, Path], site: str, sim: SimulatedWeCom, url: str) -> Relay:
    return Relay(session_factory, mailer=SmtpMailer(host="127.0.0.1", port=smtp[0], sender="hrflow@example.cn"),
                 robots={}, links=DecisionLinks(site, JWT_SECRET, 72),
                 wecom=WeComMessages(WeComApi(sim.corp_id, sim.agent_id, sim.secret, api_base=url)))


async def test_a_card_pressed_twice_decides_once_as_the_api_would(site, auth, session_factory, smtp, wecom) -> None:
    sim, url = wecom
    by_card, by_api = await two_cases_at_her_step(site, auth, session_factory)
    relay = _relay(session_factory, smtp, site, sim, url)
    await eventually(lambda: relay.drain().idle or None, what="cards sent")
    cards = {c["task_id"]: c for c in sim.cards(LINE)}
    assert len(cards) == 2
    card = next(c for c in cards.values() if c["horizontal_content_list"][0]["value"] == by_card)
    approve, reject = card["button_list"]
    assert approve == {"text": "同意", "style": 1, "key": "approve"}
    assert reject["type"] == 1 and reject["url"].startswith(f"{site}/app/links/")  # a reason needs the page

    async with httpx.AsyncClient(base_url=site) as api:
        r = await api.post(f"/si-changes/{by_api}/approve", json={}, headers=auth(Role.EMPLOYEE, LINE, "E-MGR"))
        assert r.status_code == 200, r.text

    statuses = await asyncio.to_thread(sim.press, site + CALLBACK, LINE, card["task_id"], "approve", repeat=3)
    assert statuses == [200, 200, 200]  # WeCom repeats; hrflow answers each

    async def signed() -> bool:
        async with httpx.AsyncClient(base_url=site) as api:
            v = (await api.get(f"/si-changes/{by_card}", headers=auth(Role.HR_MANAGER, "mgr.wang"))).json()
        return v["approval"]["current"] == 1 and v["approval"]["steps"][0]["signed_by"] == [LINE]

    await eventually(signed, what="her signature from the card")
    await eventually(lambda: len(audit_actions(session_factory, by_api)) == len(audit_actions(session_factory, by_card)) - 1,
                     what="both cases at the same point")
    assert [a for a in audit_actions(session_factory, by_card) if a[0] != "decision_link.used"] == \
        audit_actions(session_factory, by_api)
    assert [a for a in audit_actions(session_factory, by_card) if a[0] == "decision_link.used"] == [
        ("decision_link.used", LINE)]  # once, for three callbacks
    assert [u["button"]["replace_name"] for u in sim.card_updates] == ["已同意"]

    again = await asyncio.to_thread(sim.press, site + CALLBACK, LINE, card["task_id"], "approve")
    assert again == [200]
    assert len([a for a in audit_actions(session_factory, by_card) if a[0] == "decision_link.used"]) == 1


async def test_forged_stale_or_foreign_callbacks_change_nothing(site, auth, session_factory, smtp, wecom) -> None:
    sim, url = wecom
    workflow_id, _ = await two_cases_at_her_step(site, auth, session_factory)
    await eventually(lambda: _relay(session_factory, smtp, site, sim, url).drain().idle or None, what="cards sent")
    card = next(c for c in sim.cards(LINE) if c["horizontal_content_list"][0]["value"] == workflow_id)
    async with httpx.AsyncClient(base_url=site) as wecom_server:
        query, body = sim.callback_body(LINE, card["task_id"], "approve", token="not-the-token")
        assert (await wecom_server.post(CALLBACK, params=query, content=body)).status_code == 403
        query, body = sim.callback_body(LINE, card["task_id"], "approve", timestamp=1_409_659_589)
        assert (await wecom_server.post(CALLBACK, params=query, content=body)).status_code == 403
        query, body = sim.callback_body(LINE, card["task_id"], "approve")
        tampered = body.replace(b"<Encrypt><![CDATA[", b"<Encrypt><![CDATA[A")
        assert (await wecom_server.post(CALLBACK, params=query, content=tampered)).status_code == 403
        query, body = sim.callback_body("someone.else", card["task_id"], "approve")  # genuine, but not her card
        assert (await wecom_server.post(CALLBACK, params=query, content=body)).status_code == 200
        query, body = sim.callback_body(LINE, card["task_id"], "reject")  # a reason is needed: no callback decides it
        assert (await wecom_server.post(CALLBACK, params=query, content=body)).status_code == 200
        check = await wecom_server.get(CALLBACK, params={"msg_signature": "0" * 40, "timestamp": "1", "nonce": "1",
                                                         "echostr": "x"})
        assert check.status_code == 403
        for odd in ("é", "²"):  # what an attacker types is refused, never a 500
            query, body = sim.callback_body(LINE, card["task_id"], "approve")
            assert (await wecom_server.post(CALLBACK, params=query | {"msg_signature": odd}, content=body)).status_code == 403
            assert (await wecom_server.post(CALLBACK, params=query | {"timestamp": odd}, content=body)).status_code == 403
            assert (await wecom_server.get(CALLBACK, params={"msg_signature": odd, "timestamp": "1", "nonce": "1",
                                                             "echostr": "x"})).status_code == 403
        assert (await wecom_server.post(CALLBACK, params=query, content=b"<xml><Encrypt>")).status_code == 403
        v = (await wecom_server.get(f"/si-changes/{workflow_id}", headers=auth(Role.HR_MANAGER, "mgr.wang"))).json()
    assert v["approval"]["current"] == 0 and v["approval"]["steps"][0]["signed_by"] == []
    assert all(a != "decision_link.used" for a, _ in audit_actions(session_factory, workflow_id))
