"""The annual base adjustment in the web app (over HTTP, no browser): the maker checks and starts a
batch from her wage file, the checker approves with the total shown and echoed, and the batch's
page shows its progress and results: counts, cost, declared pages, the agency's refusals with
their reasons, the CSV."""

from __future__ import annotations

import datetime as dt
import re

import httpx

from integrations.si_agency import SimulatedAgency
from tests.processes.support import eventually
from tests.processes.test_base_adjustment import hire, wages
from tests.web.conftest import as_person


async def upload(web: httpx.AsyncClient, csrf: str, content: bytes, *, dry_run: bool) -> httpx.Response:
    data = {"_csrf": csrf, "_request_id": f"req-{dry_run}-{len(content)}", "city": "Beijing",
            "effective_month": "2026-07", "reason": "京人社发〔2026〕号"} | ({"dry_run": "on"} if dry_run else {})
    return await web.post("/app/base-adjustments", data=data, files={"file": ("工资.csv", content, "text/csv")})


async def test_a_batch_from_upload_to_declared_on_its_page(web, site, session_factory, temporal_env) -> None:
    agency = SimulatedAgency(session_factory)
    hire(session_factory, agency, "W1", 901, "10000.00")
    hire(session_factory, agency, "W2", 902, "7162.00")
    hire(session_factory, agency, "W3", 903, "10000.00")
    with session_factory.begin() as s:  # W3 is insured here on our record, but the agency has no enrollment
        from sqlalchemy import delete

        from db.models import SimAgencyRequest
        s.execute(delete(SimAgencyRequest).where(SimAgencyRequest.reference == "seed:W3"))
    csrf = await as_person(web, "hr.li", "hr_specialist")
    r = await web.get("/app/base-adjustments")
    assert r.status_code == 200 and "发起年度缴费基数调整" in r.text and 'href="/app/base-adjustments"' in r.text

    # A bad file: each problem by row, in words, nothing started.
    r = await upload(web, csrf, wages([("W1", "12000.00"), ("W2", "abc"), ("NOBODY", "9000.00")]), dry_run=False)
    assert r.status_code == 200 and "第 3 行" in r.text and "没有员工 NOBODY" in r.text
    assert "/app/cases/" not in str(r.url)
    good = wages([("W1", "12000.00"), ("W2", "5000.00"), ("W3", "12000.00")])
    r = await upload(web, csrf, good, dry_run=True)
    assert "文件已检查：3 行" in r.text
    r = await upload(web, csrf, good, dry_run=False)
    assert "/app/cases/base-adjustment-beijing-2026-07-" in str(r.url), r.text[:2000]
    wf = str(r.url).rsplit("/", 1)[-1]

    async def page_says(words: str) -> str | None:
        got = await web.get(f"/app/cases/{wf}")
        return got.text if words in got.text else None

    text = await eventually(lambda: page_says("待审批"), what="the batch submitted")
    assert "低于下限，按下限核定" in text and "每月费用变化" in text and "待申报" in text

    csrf = await as_person(web, "mgr.wang", "hr_manager")
    r = await web.get(f"/app/cases/{wf}/do/approve")
    total = re.search(r'name="confirm_total" value="([0-9.]+)"', r.text).group(1)
    assert r.status_code == 200 and "补缴差额" in r.text and f"¥{float(total):,.2f}"[:4] in r.text
    r = await web.post(f"/app/cases/{wf}/do/approve", data={"_csrf": csrf, "_request_id": "approve-1",
                                                            "confirm_total": total})
    assert r.status_code == 200 and "done=approve" in str(r.url), r.text[:2000]

    await temporal_env.sleep(dt.timedelta(hours=73))
    text = await eventually(lambda: page_says("部分被退回"), what="the batch declared, W3 refused")
    assert "被经办机构退回的行" in text and "W3" in text and "not insured here" in text
    assert re.search(r"<td>BD\d{8}[0-9A-F]{10}</td>", text)  # the declared page's acceptance number
    r = await web.get(f"/app/base-adjustments/{wf}/results.csv")
    assert r.status_code == 200 and r.content.startswith("\ufeff".encode()) and "已受理 (accepted)" in r.content.decode()

    await as_person(web, "it.zhou", "it")
    r = await web.get("/app/base-adjustments")
    assert r.status_code == 403 and "W1" not in r.text
    assert 'href="/app/base-adjustments"' not in (await web.get("/app/inbox")).text
