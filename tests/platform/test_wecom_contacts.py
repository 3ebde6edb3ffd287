"""The WeCom address book as the HR master: names, departments, positions, e-mails and line
managers follow it; it registers nobody (an address book has no ID number or hire date), so a
member the register lacks is reported unmatched; a leaver is a note; it is read with the address
book's own secret, and WeCom away is a 503 with nothing changed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from db.models import Employee
from domain.roles import Role
from tests.live_server import serving_in_a_thread
from tests.platform.test_employee_import import resident_id
from tests.processes.support import add_employee
from tests.simulators.wecom import SimulatedWeCom

DEPARTMENTS = [{"id": 1, "name": "示例集团", "parentid": 0}, {"id": 2, "name": "华东销售部", "parentid": 1},
               {"id": 3, "name": "人事部", "parentid": 1}]


@pytest.fixture(scope="module")
def wecom() -> Iterator[tuple[SimulatedWeCom, str]]:
    sim = SimulatedWeCom(departments=DEPARTMENTS)
    with serving_in_a_thread(sim.app()) as url:
        yield sim, url


@pytest.fixture
def settings(settings, wecom):
    sim, url = wecom
    sim.outage = False
    sim.directory = [
        {"userid": "E1", "name": "员工E1", "department": [2], "main_department": 2, "position": "销售经理",
         "email": "e1@example.cn", "direct_leader": ["E2"], "status": 1},
        {"userid": "E2", "name": "员工E2", "department": [3], "main_department": 3, "position": "", "status": 1},
        {"userid": "E3", "name": "员工E3", "department": [2], "status": 5},  # 退出企业
        {"userid": "W9", "name": "新同事", "department": [2], "status": 1},  # not in the register
    ]
    return settings.model_copy(update={"wecom_corp_id": sim.corp_id, "wecom_api_base": url,
                                       "wecom_contacts_secret": SecretStr(sim.contacts_secret)})


async def test_the_address_book_updates_whom_it_knows_and_reports_whom_it_cannot_match(api, auth,
                                                                                        session_factory) -> None:
    for n, emp in enumerate(("E1", "E2", "E3"), start=1):
        add_employee(session_factory, emp, resident_id_number=resident_id("19900101", n), name=f"员工{emp}",
                     department="销售部")  # position Adviser
    hr = auth(Role.HR_MANAGER, "mgr.wang")
    r = await api.post("/employees/sync", params={"dry_run": "true"}, headers=hr)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["source"] == "企业微信通讯录 (WeCom contacts)" and report["registered"] == [] and not report["problems"]
    assert {(c["employee_id"], c["field"], c["after"]) for c in report["changes"]} == {
        ("E1", "department", "华东销售部"), ("E1", "position", "销售经理"), ("E1", "email", "e1@example.cn"),
        ("E1", "manager_id", "E2"), ("E2", "department", "人事部")}  # E2's blank position keeps hers
    noted = {n["employee_id"]: n["message"] for n in report["notes"]}
    assert "未匹配" in noted["W9"] and "离职" in noted["E3"]
    assert not any(n["employee_id"] == "E1" for n in report["notes"])  # nothing the address book cannot know

    r = await api.post("/employees/sync", headers=hr)
    assert r.status_code == 200 and r.json()["applied"], r.text
    with session_factory() as s:
        e1 = s.get(Employee, "E1")
        assert (e1.department, e1.position, e1.email, e1.manager_id) == ("华东销售部", "销售经理", "e1@example.cn", "E2")
        assert s.get(Employee, "E2").position == "Adviser" and s.get(Employee, "W9") is None


async def test_wecom_away_is_a_503_and_a_wrong_email_is_refused(api, auth, session_factory, wecom) -> None:
    sim, _ = wecom
    add_employee(session_factory, "E1", resident_id_number=resident_id("19900101", 1), name="员工E1")
    hr = auth(Role.HR_MANAGER, "mgr.wang")
    sim.directory = [{"userid": "E1", "name": "员工E1", "department": [2], "email": "not-an-address", "status": 1}]
    r = await api.post("/employees/sync", headers=hr)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "email", r.text
    sim.outage = True
    r = await api.post("/employees/sync", headers=hr)
    assert r.status_code == 503 and r.json()["error"] == "master_unavailable"
    with session_factory() as s:
        assert s.get(Employee, "E1").email is None
