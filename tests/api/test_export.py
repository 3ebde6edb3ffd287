"""An export of a person's data (PIPL art. 45): one ZIP of everything hrflow holds about her, in
full, and nothing of anyone else's; each export logged and audited; herself through /me/export."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import select

from db.models import AuditEvent, PersonalDataAccess
from domain.roles import Role
from tests.api.people import HER, OTHER, PDF, case_id, seed, transfer_id


def _files(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as bundle:
        return {name: bundle.read(name) for name in bundle.namelist()}


async def test_the_export_holds_her_record_cases_money_and_documents_in_full(api, auth, session_factory) -> None:
    materials = seed(session_factory)
    r = await api.get("/employees/E1001/export", headers=auth(Role.COMPLIANCE, "cmp.sun"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["cache-control"] == "no-store"
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="personal-data-E1001-') and disposition.isascii()
    assert "filename*=UTF-8''%E4%B8%AA%E4%BA%BA%E4%BF%A1%E6%81%AF-E1001-" in disposition  # 个人信息-
    files = _files(r.content)
    document = f"documents/{materials['E1001']}-身份证.pdf"
    assert set(files) == {"index.html", "data.json", document}
    assert files[document] == PDF
    data = json.loads(files["data.json"])
    assert data["employee"]["resident_id_number"] == HER["resident_id_number"]
    assert data["employee"]["name"] == HER["name"] and data["employee"]["contribution_base"] == "10000.00"
    tables = data["tables"]
    assert {c["workflow_id"] for c in tables["cases"]} == {case_id(HER), transfer_id(HER)}
    assert [(x["amount"], x["settled"], x["status"]) for x in tables["receivables"]] == [("1234.56", "200.00", "open")]
    assert [x["amount"] for x in tables["receivable_claims"]] == ["200.00"]
    assert tables["cases"][0]["opened_at"].startswith("2026-11-02T09:30:00")
    assert [m["file"] for m in tables["transfer_materials"]] == [document]
    assert [n["recipient"] for n in tables["notifications"]] == ["E1001"] and tables["notifications"][0]["subject"]
    page = files["index.html"].decode()
    assert "个人信息副本" in page and "Copy of personal data" in page and HER["resident_id_number"] in page
    assert "href=\"documents/" in page and "1234.56" in page and "://" not in page  # nothing loaded from anywhere
    assert page.index("案件") < page.index("Cases")  # Chinese first


async def test_nothing_of_anyone_else_is_in_it(api, auth, session_factory) -> None:
    seed(session_factory)
    await api.get("/employees/E2002", headers=auth(Role.HR_SPECIALIST, "hr.li"))  # her log rows are hers alone
    r = await api.get("/employees/E1001/export", headers=auth(Role.HR_MANAGER, "mgr.wang"))
    assert r.status_code == 200, r.text
    for name, body in _files(r.content).items():
        for theirs in (OTHER["employee_id"], OTHER["resident_id_number"], OTHER["name"], case_id(OTHER)):
            assert theirs.encode() not in body, (name, theirs)


async def test_each_export_is_logged_and_audited(api, auth, session_factory) -> None:
    seed(session_factory)
    r = await api.get("/employees/E1001/export", headers=auth(Role.COMPLIANCE, "cmp.sun"))
    assert r.status_code == 200
    with session_factory() as s:
        [row] = s.scalars(select(PersonalDataAccess)).all()
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "employee.exported")).all()
    assert (row.actor, row.actor_role, row.employee_id, row.what, row.request_id) == (
        "cmp.sun", "compliance", "E1001", "export", r.headers["x-request-id"])
    assert (event.actor, event.subject, event.request_id) == ("cmp.sun", "E1001", r.headers["x-request-id"])
    assert set(event.after["files"]) == set(_files(r.content)) and event.after["self"] is False


async def test_she_exports_her_own_data_and_no_one_elses(api, auth, session_factory) -> None:
    seed(session_factory)
    her = auth(Role.EMPLOYEE, "E1001")
    r = await api.get("/me/export", headers=her)
    assert r.status_code == 200, r.text
    data = json.loads(_files(r.content)["data.json"])
    assert data["employee"]["employee_id"] == "E1001" and data["exported_by"] == "E1001"
    for path in ("/employees/E2002/export", "/employees/E1001/export"):
        r = await api.get(path, headers=her)
        assert r.status_code == 403 and "您的角色" in r.json()["detail"]
    # A delegation covers case decisions and the inbox: never another person's export.
    r = await api.get("/me/export", headers=her | {"X-On-Behalf-Of": "E2002"})
    assert r.status_code == 403, r.text
    with session_factory() as s:  # her own export is logged too: a whole file of her data left
        assert [(x.actor, x.employee_id, x.what) for x in s.scalars(select(PersonalDataAccess))] == [
            ("E1001", "E1001", "export")]


@pytest.mark.parametrize("role", [Role.HR_SPECIALIST, Role.FINANCE, Role.IT, Role.ADMIN])
async def test_other_roles_may_not_export(api, auth, session_factory, role: Role) -> None:
    seed(session_factory)
    r = await api.get("/employees/E1001/export", headers=auth(role, "someone"))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


async def test_an_unknown_employee_is_404_in_both_languages(api, auth, session_factory) -> None:
    r = await api.get("/employees/E9999/export", headers=auth(Role.COMPLIANCE, "cmp.sun"))
    assert r.status_code == 404 and "没有您可导出的员工 E9999" in r.json()["detail"]
    r = await api.get("/employees/E9999/export", headers=auth(Role.COMPLIANCE, "cmp.sun") | {"Accept-Language": "en"})
    assert r.json()["detail"] == "no employee E9999 you may export"
    r = await api.get("/me/export", headers=auth(Role.COMPLIANCE, "cmp.sun"))  # staff with no employee record
    assert r.status_code == 404 and "没有员工档案" in r.json()["detail"]
    with session_factory() as s:
        assert s.scalar(select(PersonalDataAccess.id)) is None
