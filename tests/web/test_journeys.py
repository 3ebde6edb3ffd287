"""One journey per role through the pages, in Chromium, on the real stack: each signs in on the
sign-in page, works only with what a person sees (labels, links, buttons), and ends with no
console error, no failed request and nothing asked of any other address."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from playwright.async_api import Page, expect

from domain.roles import Role
from tests.domain.test_document_structure import MINIMAL_PDF
from tests.processes import test_maternity as maternity
from tests.processes import test_offboarding as offboarding
from tests.processes.support import env_today, until
from tests.web.conftest import EMPLOYEE, shoot, sign_in

BACK_PAY = {"employee_id": EMPLOYEE, "kind": "back_payment", "base": "10000.00",
            "months": ["2026-08", "2026-09", "2026-10"], "effective_month": "2026-11", "reason": "补缴入职前三个月"}


async def assert_every_control_labelled(page: Page) -> None:
    """Each visible form control has a name a screen reader announces (a label or aria-label)."""
    unnamed = await page.evaluate("""() => [...document.querySelectorAll('input, select, textarea, button')]
        .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                     && !(e.tagName === 'BUTTON' && e.textContent.trim()))
        .map(e => e.outerHTML)""")
    assert unnamed == []


async def test_hr_specialist_files_a_back_payment(site, open_page) -> None:
    page, watch = await open_page()
    await sign_in(page, site, "hr.li")
    await expect(page).to_have_url(re.compile(r"/app/inbox$"))
    await expect(page.get_by_role("heading", name="待办")).to_be_visible()
    await page.get_by_role("link", name="发起流程").click()
    await page.get_by_role("link", name="社保增减员变更").click()
    await assert_every_control_labelled(page)
    await page.get_by_label("员工编号").fill(EMPLOYEE)
    await page.get_by_label("类型").select_option(label="补缴")
    await page.get_by_label("缴费基数").fill("10000.00")
    await page.get_by_label(re.compile(r"^月份")).fill("2026-08, 2026-09, 2026-10")
    await page.get_by_label("生效月份").fill("2026-11")
    await page.get_by_label("原因").fill("补缴入职前三个月")
    await page.get_by_role("button", name="提交").click()
    await expect(page.locator(".done")).to_be_visible()
    await expect(page.locator(".facts .stage")).to_have_text("待审批")
    await expect(page.locator("table.timeline")).to_contain_text("社保增减员变更：发起")
    # The maker is not offered the approval: it is the checker's.
    assert await page.locator("a[href$='/do/approve']").count() == 0
    watch.assert_clean()


async def test_a_refused_field_is_named_beside_it_and_nothing_starts(site, open_page, auth) -> None:
    page, watch = await open_page()
    await sign_in(page, site, "hr.li")
    await page.goto(site + "/app/new/si_change")
    await page.get_by_label("员工编号").fill(EMPLOYEE)
    await page.get_by_label("类型").select_option(label="增员（参保登记）")
    await page.get_by_label("生效月份").fill("2026-11")
    await page.get_by_label("原因").fill("   ")
    await page.get_by_role("button", name="提交").click()
    error = page.locator("#f-reason-error")
    await expect(error).to_be_visible()
    assert re.search(r"[\u4e00-\u9fff]", await error.inner_text())  # in Chinese
    await expect(page.get_by_label("员工编号")).to_have_value(EMPLOYEE)  # what she typed is kept
    async with httpx.AsyncClient(base_url=site) as api:
        assert (await api.get("/cases", headers=auth(Role.HR_SPECIALIST, "hr.li"))).json()["items"] == []
    watch.assert_clean()


async def test_hr_manager_approves_a_back_payment_confirming_its_total(site, open_page, auth) -> None:
    async with httpx.AsyncClient(base_url=site) as api:
        r = await api.post("/si-changes", json=BACK_PAY, headers=auth(Role.HR_SPECIALIST, "hr.li"))
        assert r.status_code == 201, r.text
        workflow_id = r.json()["workflow_id"]
    page, watch = await open_page()
    await sign_in(page, site, "mgr.wang")
    row = page.locator("table.list tbody tr", has_text=workflow_id)
    await expect(row).to_be_visible()
    await shoot(page, "inbox")
    await row.get_by_role("link", name=workflow_id).click()
    await page.locator("a[href$='/do/approve']").click()
    confirm = page.locator(".confirm")
    await expect(confirm).to_contain_text("¥7,959.00")
    await expect(confirm).to_contain_text("柒仟玖佰伍拾玖元整")
    await expect(confirm).to_contain_text("滞纳金")  # what the figure leaves out
    await expect(confirm.locator(".warning")).to_contain_text("下限")  # employer rates missing: a floor
    await page.get_by_role("button", name="我已核对金额，批准").click()
    await expect(page.locator(".done")).to_be_visible()
    await expect(page.locator(".facts .stage")).to_have_text("已批准")
    await shoot(page, "case")
    watch.assert_clean()


async def test_finance_confirms_a_payroll_deduction(site, open_page, auth, temporal_env) -> None:
    async with httpx.AsyncClient(base_url=site) as api:
        workflow_id, v = await maternity.start_leave(api, auth, temporal_env, EMPLOYEE)
        await until(temporal_env, dt.date.fromisoformat(v["leave_start"]) + dt.timedelta(days=95))
        r = await maternity.post(api, auth, workflow_id, "return", Role.HR_SPECIALIST, maternity.HR,
                                 {"date": (await env_today(temporal_env)).isoformat()})
        assert r.status_code == 200, r.text
        v = await maternity.wait_view(api, auth, workflow_id, lambda v: v["stage"] == "deducting")
    owed = Decimal(v["outstanding"])
    page, watch = await open_page()
    await sign_in(page, site, "fin.zhao")
    await page.get_by_role("link", name="垫付款台账").click()
    await expect(page.locator("table.list")).to_contain_text(EMPLOYEE)
    await page.goto(f"{site}/app/cases/{workflow_id}")
    await page.locator("a[href$='/do/deductions']").click()
    await assert_every_control_labelled(page)
    await page.get_by_label(re.compile(r"^金额")).fill("1053.00")
    await page.get_by_label(re.compile(r"参考|凭证|编号")).first.fill("payroll 2026-12")
    await page.get_by_role("button", name="提交").click()
    await expect(page.locator(".done")).to_be_visible()
    async with httpx.AsyncClient(base_url=site) as api:
        after = (await api.get(f"/maternity-leaves/{workflow_id}", headers=auth(Role.FINANCE, "fin.zhao"))).json()
    assert Decimal(after["outstanding"]) == owed - Decimal("1053.00")
    watch.assert_clean()


async def test_compliance_exports_a_signed_evidence_bundle(site, open_page, auth, temporal_env) -> None:
    async with httpx.AsyncClient(base_url=site) as api:
        workflow_id = (await offboarding.start(api, auth, EMPLOYEE, await env_today(temporal_env)))["workflow_id"]
        await offboarding.wait_view(api, auth, workflow_id, lambda o: o["risk"])
        public_key = (await api.get("/evidence/public-key")).text
    page, watch = await open_page()
    await sign_in(page, site, "comp.sun")
    await page.get_by_role("link", name="案件", exact=True).click()
    await page.locator(f"a[href='/app/cases/{workflow_id}']").click()
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="导出证据包（签名）").click()
    download = await waiting.value
    bundle = zipfile.ZipFile(io.BytesIO(Path(await download.path()).read_bytes()))
    manifest = bundle.read("manifest.json")
    load_pem_public_key(public_key.encode()).verify(bytes.fromhex(bundle.read("manifest.sig").decode()), manifest)
    files = json.loads(manifest)["files"]
    assert set(files) == {"case.json", "audit.json", "chain.json"}
    for name, digest in files.items():
        assert hashlib.sha256(bundle.read(name)).hexdigest() == digest
    assert json.loads(bundle.read("chain.json"))["ok"] is True
    assert any(e["action"] == "offboarding.opened" for e in json.loads(bundle.read("audit.json")))
    # Her records: compliance records a dispute a departure must settle, and sees it listed.
    await page.get_by_role("link", name="合规记录").click()
    await page.get_by_label("员工").fill(EMPLOYEE)
    await page.get_by_role("button", name="筛选").click()
    await assert_every_control_labelled(page)
    await expect(page.get_by_label("类型")).to_contain_text("劳动争议")
    assert "借款" not in await page.get_by_label("类型").inner_text()  # finance records loans, not compliance
    await page.get_by_label("类型").select_option(label="劳动争议")
    await page.get_by_label(re.compile(r"^事项名称|^标题")).fill("加班费争议，已申请仲裁")
    await page.get_by_role("button", name="提交").click()
    await expect(page.locator(".done")).to_be_visible()
    await expect(page.locator("table.list")).to_contain_text("加班费争议")
    watch.assert_clean()


async def test_it_signs_off_the_account_revocation(site, open_page, auth, temporal_env) -> None:
    async with httpx.AsyncClient(base_url=site) as api:
        workflow_id = (await offboarding.start(api, auth, EMPLOYEE, await env_today(temporal_env)))["workflow_id"]
        await offboarding.wait_view(api, auth, workflow_id, lambda o: o["risk"])
    page, watch = await open_page()
    await sign_in(page, site, "it.zhou")
    await expect(page.locator("table.list")).to_contain_text(workflow_id)
    await page.get_by_role("link", name=workflow_id).first.click()
    row = page.locator("tr", has=page.locator("form.sign-off"))
    await expect(row).to_have_count(1)  # only her item: the accounts, not the handover or finance's
    await assert_every_control_labelled(page)
    await row.get_by_label("办理结果").select_option(label="已停用")
    await row.get_by_label("备注").fill("邮箱和 VPN 已停用")
    await row.get_by_role("button", name="签字确认").click()
    await expect(page.locator(".done")).to_be_visible()
    async with httpx.AsyncClient(base_url=site) as api:
        view = (await api.get(f"/offboardings/{workflow_id}", headers=auth(Role.IT, "it.zhou"))).json()
    assert [(i["gate"], i["status"], i["outcome"]) for i in view["items"] if i["gate"] == "it"] == [
        ("it", "done", "revoked")]
    watch.assert_clean()


async def test_admin_adds_a_staff_member(site, open_page) -> None:
    page, watch = await open_page()
    await sign_in(page, site, "ops.wu")
    await page.get_by_role("link", name="人员名录").click()
    await assert_every_control_labelled(page)
    await page.get_by_label("用户", exact=True).fill("hr.qian")
    await page.get_by_label("显示名称").fill("钱芳")
    await page.get_by_label("角色", exact=True).select_option("hr_specialist")
    await page.get_by_label("电子邮箱").fill("hr.qian@example.cn")
    await page.get_by_role("button", name="提交").click()
    await expect(page.locator("table.list")).to_contain_text("钱芳")
    await page.get_by_role("link", name="政策公告").click()
    await expect(page.get_by_role("heading", name="政策公告")).to_be_visible()
    watch.assert_clean()


async def test_employee_applies_for_a_transfer_on_her_phone(site, open_page) -> None:
    page, watch = await open_page(width=390, height=844)
    await sign_in(page, site, EMPLOYEE)
    await expect(page).to_have_url(re.compile(r"/app/my$"))
    await page.get_by_role("link", name="发起流程").click()
    await page.get_by_role("link", name="社保公积金跨省转移").click()
    await expect(page.get_by_label("员工编号")).to_have_value(EMPLOYEE)
    await page.get_by_label(re.compile(r"^转出")).fill("贵阳")
    await page.get_by_label(re.compile(r"^转入")).fill("哈尔滨")
    await page.get_by_label(re.compile(r"险种|类型")).fill("pension, medical")
    await page.get_by_label("原因").fill("随配偶调往哈尔滨工作")
    await page.get_by_role("button", name="提交").click()
    await expect(page.locator(".done")).to_be_visible()
    await expect(page.locator(".facts .stage")).to_have_text("收集材料")
    missing = page.locator("table.list tr", has=page.locator("strong.warning"))
    hers = missing.filter(has=page.locator("form.upload"))  # what she provides (not the offices' papers)
    before = await missing.count()
    assert await hers.count() > 0
    await hers.first.get_by_label("上传文件").set_input_files(
        files=[{"name": "户口簿.pdf", "mimeType": "application/pdf", "buffer": MINIMAL_PDF}])
    await hers.first.get_by_role("button", name="提交").click()
    await expect(page.locator(".done")).to_be_visible()
    await expect(missing).to_have_count(before - 1)  # one fewer still missing
    await expect(page.locator("section[aria-labelledby=docs]")).to_contain_text("户口簿.pdf")
    await page.get_by_role("link", name="我的事务").click()
    await expect(page.locator(".card")).to_contain_text("收集材料")
    await shoot(page, "employee-progress")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    watch.assert_clean()


async def test_employee_resigns_on_her_phone_and_hr_opens_her_departure_on_that_date(site, open_page) -> None:
    page, watch = await open_page(width=390, height=844)
    await sign_in(page, site, EMPLOYEE)
    await page.get_by_role("link", name="发起流程").click()
    await page.get_by_role("link", name="辞职通知").click()
    await page.get_by_label("希望的最后工作日").fill((dt.date.today() + dt.timedelta(days=35)).isoformat())
    await page.get_by_label("原因").fill("回老家照顾父母")
    await page.get_by_role("button", name="提交").click()
    await expect(page.locator(".done")).to_be_visible()
    await expect(page.locator(".facts .stage")).to_have_text("已提出辞职，待人事接办")
    await expect(page.get_by_role("link", name="撤回辞职通知")).to_be_visible()  # hers until HR acts
    notice_date = (await page.locator("code").first.text_content() or "")[-10:]
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    watch.assert_clean()

    hr, hr_watch = await open_page()
    await sign_in(hr, site, "hr.li")
    await hr.locator("tr", has_text="书面提出辞职").get_by_role("link").first.click()  # the task in her inbox
    await hr.get_by_role("link", name="据此辞职通知发起离职流程").click()
    await expect(hr.get_by_label("员工编号")).to_have_value(EMPLOYEE)
    await expect(hr.get_by_label("通知日期")).to_have_value(notice_date)
    hr_watch.assert_clean()


async def test_the_keyboard_alone_signs_in_and_moves_through_the_pages(site, open_page) -> None:
    page, watch = await open_page()
    await page.goto(site + "/")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "跳到正文"  # the skip link comes first
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"
    while await page.evaluate("document.activeElement.name") != "person":
        await page.keyboard.press("Tab")
    await page.keyboard.press("Space")  # the first person listed: the administrator
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent.trim()") == "登录"
    await page.keyboard.press("Enter")
    await expect(page.locator(".who strong")).to_have_text("ops.wu")
    for _ in range(30):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.textContent") == "人员名录":
            break
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="人员名录", exact=True)).to_be_visible()
    watch.assert_clean()
