"""A task decided from the link in its e-mail: the notice reaches her mailbox (real SMTP) with a
link naming her; the link's page decides through the API as her, the same audited decision the web
app makes; a used, forged, expired or someone else's link decides nothing."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx
from playwright.async_api import expect
from sqlalchemy import update

from db.models import ActionLink
from domain.roles import Role
from hrflow import mail_sink
from hrflow.delivery import DecisionLinks, Relay
from integrations.mail import SmtpMailer
from tests.conftest import JWT_SECRET
from tests.processes.support import eventually
from tests.web.line_manager_cases import LINE, audit_actions, two_cases_at_her_step

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/app/links/[0-9]+\.[0-9a-f]+)")


def _relay(session_factory, smtp: tuple[int, Path], site: str) -> Relay:
    return Relay(session_factory, mailer=SmtpMailer(host="127.0.0.1", port=smtp[0], sender="hrflow@example.cn"),
                 robots={}, links=DecisionLinks(site, JWT_SECRET, 72))


def _links_to(folder: Path, address: str) -> list[str]:
    found = []
    for m in mail_sink.read_folder(folder):
        if m["To"] == address:
            found += LINK.findall(m.get_body(preferencelist=("plain",)).get_content())
    return found


async def test_her_signature_from_the_e_mail_is_the_one_the_web_app_makes(site, open_page, auth, session_factory,
                                                                          smtp) -> None:
    by_link, by_api = await two_cases_at_her_step(site, auth, session_factory)
    await eventually(lambda: _relay(session_factory, smtp, site).drain().idle or None, what="mail sent")
    links = _links_to(smtp[1], "mgr.li@example.cn")
    assert len(links) == 2, links  # one link per task's e-mail, each naming her

    async with httpx.AsyncClient(base_url=site) as api:  # case 2: she signs through the API, as the web app does
        r = await api.post(f"/si-changes/{by_api}/approve", json={}, headers=auth(Role.EMPLOYEE, LINE, "E-MGR"))
        assert r.status_code == 200, r.text

    link = next(x for x in links if _link_case(session_factory, x) == by_link)
    page, watch = await open_page(width=390)  # on her phone, not signed in
    await page.goto(link, wait_until="load")
    await expect(page.locator("main")).to_contain_text("此链接仅供本人使用：周敏")
    await page.get_by_role("button", name="同意").click()
    await expect(page.locator("[role=status]")).to_contain_text("已处理")
    watch.assert_clean()

    async def at_hr_step() -> bool:
        async with httpx.AsyncClient(base_url=site) as api:
            v = (await api.get(f"/si-changes/{by_link}", headers=auth(Role.HR_MANAGER, "mgr.wang"))).json()
        return v["approval"]["current"] == 1 and v["approval"]["steps"][0]["signed_by"] == [LINE]

    await eventually(at_hr_step, what="her signature on the route")
    await eventually(lambda: len(audit_actions(session_factory, by_api)) == len(audit_actions(session_factory, by_link)) - 1,
                     what="both cases at the same point")
    linked = [a for a in audit_actions(session_factory, by_link) if a[0] != "decision_link.used"]
    assert linked == audit_actions(session_factory, by_api)  # the same audited decision, by her
    assert ("decision_link.used", LINE) in audit_actions(session_factory, by_link)

    again = await httpx.AsyncClient().post(link, data={"choice": "approve"})
    assert again.status_code == 410 and "已使用" in again.text


def _link_case(session_factory, link: str) -> str:
    with session_factory() as s:
        return s.get(ActionLink, int(link.rsplit("/", 1)[1].split(".")[0])).workflow_id


async def test_a_link_decides_nothing_when_forged_expired_or_in_someone_elses_browser(site, auth, session_factory,
                                                                                     smtp) -> None:
    workflow_id, _ = await two_cases_at_her_step(site, auth, session_factory)
    await eventually(lambda: _relay(session_factory, smtp, site).drain().idle or None, what="mail sent")
    link = next(x for x in _links_to(smtp[1], "mgr.li@example.cn") if _link_case(session_factory, x) == workflow_id)
    async with httpx.AsyncClient() as browser:
        forged = link[:-1] + ("0" if link[-1] != "0" else "1")
        assert (await browser.get(forged)).status_code == 404
        assert (await browser.post(forged, data={"choice": "approve"})).status_code == 404
        other = link.replace("/links/", "/links/9") if "/links/9" not in link else link.replace("/links/9", "/links/8")
        assert (await browser.get(other)).status_code == 404
        number = link.rsplit("/", 1)[1].split(".")[0]
        for odd in (f"{number}.%C3%A9", "%C2%B2.abc", f"{number}.", "."):  # non-ASCII, a superscript digit, empty
            assert (await browser.get(f"{site}/app/links/{odd}")).status_code == 404, odd

        reject = await browser.post(link, data={"choice": "reject", "reason": ""})
        assert reject.status_code == 200 and "驳回须填写理由" in reject.text

    async with httpx.AsyncClient(base_url=site) as someone:  # a browser signed in as HR
        await someone.post("/app/sign-in", data={"person": "hr_specialist:hr.li"})
        assert "hrflow_session" in someone.cookies
        theirs = await someone.get(link.removeprefix(site))
        assert theirs.status_code == 403 and "另一位人员" in theirs.text

    with session_factory.begin() as s:
        s.execute(update(ActionLink).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
    async with httpx.AsyncClient() as browser:
        expired = await browser.post(link, data={"choice": "approve"})
        assert expired.status_code == 410 and "已过期" in expired.text

    async with httpx.AsyncClient(base_url=site) as api:
        v = (await api.get(f"/si-changes/{workflow_id}", headers=auth(Role.HR_MANAGER, "mgr.wang"))).json()
    assert v["approval"]["current"] == 0 and v["approval"]["steps"][0]["signed_by"] == []  # nothing was decided
    assert all(a != "decision_link.used" for a, _ in audit_actions(session_factory, workflow_id))
