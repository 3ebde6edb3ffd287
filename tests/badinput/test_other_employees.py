"""An employee guessing the ids of a colleague's cases, documents, tasks and money: every answer is
a 403 or a 404 in the JSON error shape, never a byte of the colleague's data, and nothing is written.

Ids follow visible patterns (``transfer-E2002-1``, ``maternity-leave-E2002-<date>``, material and
receivable numbers counting up), so the guesses below are the ones an employee would make.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from api.auth import mint_token
from db.models import ApprovalTask, AuditEvent, Case, Notification, NotificationRead, Receivable, TransferMaterial
from domain.roles import Role
from tests.badinput.conftest import EMPLOYEE, OTHER, SharedDatabase
from tests.conftest import JWT_SECRET
from tests.domain.test_document_structure import ONE_PAGE, pdf_of
from tests.processes.support import eventually

SECRET = "secret-of-E2002"  # in what is hers, so any leak shows
OTHER_NAME, OTHER_ID_NUMBER = "张伟", "360426199101010071"
NOW = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
TODAY = dt.date.today()
MINE = f"maternity-leave-{EMPLOYEE}-2026-12-01"
HER_SI_CHANGE, HER_TASK_CASE = f"si-change-{OTHER}-1", f"maternity-leave-{OTHER}-2026-12-01"


@pytest.fixture(scope="module")
async def hers(module_stack: httpx.AsyncClient, shared_database: SharedDatabase) -> dict[str, str]:
    """Her running cases, started by HR (so a missing check would hand out a real view), a document
    in her transfer, and rows of hers the processes would have written: a case with an open task for
    her, a social-insurance change, a receivable, a notification. Plus one case of the employee who
    goes guessing."""
    hr = _bearer(Role.HR_SPECIALIST, "hr.li")
    started = {}
    for kind, url, body in [
        ("maternity", "/maternity-leaves", {"employee_id": OTHER, "company_pays_salary": False,
                                            "expected_delivery_date": (TODAY + dt.timedelta(days=90)).isoformat()}),
        ("transfer", "/transfers", {"employee_id": OTHER, "origin_city": "Guiyang", "destination_city": "Harbin",
                                    "types": ["pension"], "reason": SECRET}),
        ("offboarding", "/offboardings", {"employee_id": OTHER, "kind": "resignation", "notice_date": TODAY.isoformat(),
                                          "monthly_wage": "10000.00", "minimum_wage": "2540.00",
                                          "handover": [{"key": "files", "title": SECRET, "receiver": "hr.li"}]}),
        ("non_compete", "/non-competes", {"employee_id": OTHER, "start": (TODAY + dt.timedelta(days=30)).isoformat(),
                                          "months": 6, "monthly_compensation": "1234.56"}),
    ]:
        r = await module_stack.post(url, json=body, headers=hr)
        assert r.status_code == 201, r.text
        started[kind] = r.json()["workflow_id"]
    document = (f"{SECRET}.pdf", pdf_of(*ONE_PAGE, b"(" + SECRET.encode() + b")"), "application/pdf")
    upload = await module_stack.post(f"/transfers/{started['transfer']}/materials/resident_id_card", headers=hr,
                                     files={"file": document})
    assert upload.status_code == 201, upload.text
    with shared_database.session_factory.begin() as s:
        for workflow_id, employee in [(HER_TASK_CASE, OTHER), (HER_SI_CHANGE, OTHER), (MINE, EMPLOYEE)]:
            s.add(Case(workflow_id=workflow_id, kind=workflow_id.split("-E")[0].replace("-leave", "").replace("-", "_"),
                       employee_id=employee, stage="open", summary=SECRET if employee == OTHER else "mine",
                       opened_at=NOW))
        s.flush()
        s.add(ApprovalTask(workflow_id=HER_TASK_CASE, task_key="report_birth", title=SECRET, role="employee",
                           created_at=NOW))
        s.add(Receivable(employee_id=OTHER, workflow_id=HER_TASK_CASE, kind="maternity_advance", month="2026-12",
                         amount=Decimal("1234.56"), booked_at=NOW))
        s.add(Notification(dedupe_key=SECRET, recipient_kind="employee", recipient=OTHER, template="birth_due",
                           params={"note": SECRET}, workflow_id=HER_TASK_CASE, created_at=NOW))

    def recorded() -> bool:  # the workflows write their case rows; the employee's check reads them
        with shared_database.session_factory() as s:
            return s.scalar(select(func.count()).select_from(Case).where(Case.workflow_id.in_(started.values()))) == 4

    await eventually(recorded)
    return started | {"material": str(upload.json()["material"]["id"])}


def _guesses(her: dict[str, str]) -> list[tuple[str, str, dict | None]]:
    m, t, o, n = her["maternity"], her["transfer"], her["offboarding"], her["non_compete"]
    return [
        ("GET", f"/cases/{m}", None),
        ("GET", f"/cases/{HER_TASK_CASE}", None),
        ("GET", f"/employees/{OTHER}", None),
        ("PATCH", f"/employees/{OTHER}/contact", {"language": "en"}),
        ("GET", f"/employees/{OTHER}/records", None),
        ("GET", f"/maternity-leaves/{m}", None),
        ("POST", f"/maternity-leaves/{m}/withdraw", {"reason": "not hers to withdraw"}),
        ("POST", f"/maternity-leaves/{m}/birth", {"birth_date": TODAY.isoformat()}),
        ("POST", "/maternity-leaves", {"employee_id": OTHER, "company_pays_salary": True,
                                       "expected_delivery_date": (TODAY + dt.timedelta(days=91)).isoformat()}),
        ("GET", f"/offboardings/{o}", None),
        ("POST", f"/offboardings/{o}/withdraw", {"reason": "x"}),
        ("GET", f"/non-competes/{n}", None),
        ("POST", f"/non-competes/{n}/proof", {"employer": "x", "reference": "y"}),
        ("POST", f"/non-competes/{n}/release-claim", None),
        ("GET", f"/si-changes/{HER_SI_CHANGE}", None),
        ("GET", f"/transfers/{t}", None),
        ("POST", f"/transfers/{t}/cancel", {"reason": "x"}),
        ("POST", "/transfers", {"employee_id": OTHER, "origin_city": "Guiyang", "destination_city": "Harbin",
                                "types": ["pension"], "reason": "x"}),
        ("GET", f"/transfers/{t}/materials", None),
        *[("GET", f"/transfers/{t}/materials/{i}/content", None) for i in range(1, int(her["material"]) + 3)],
        ("GET", "/receivables", None),
        ("GET", f"/receivables/{OTHER}", None),
        ("GET", f"/audit/events?subject={OTHER}", None),
        ("GET", "/transfers/statistics", None),
        *[("POST", f"/me/notifications/{i}/read", None) for i in range(1, 4)],
    ]


def _bearer(role: Role, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(JWT_SECRET, user=user, role=role)}"}


ME = _bearer(Role.EMPLOYEE, EMPLOYEE)


def _no_trace_of_her(response: httpx.Response) -> None:
    for secret in (SECRET, OTHER_NAME, OTHER_ID_NUMBER, "1234.56"):
        assert secret not in response.text, (response.request.url, response.text)


def _written_by_the_guesser(shared_database: SharedDatabase) -> tuple[int, ...]:
    """What the guessing employee's requests could have written: audited actions in her name (every
    change the API or a workflow makes is audited with its actor), documents, notification reads.
    Her colleague's workflows keep writing meanwhile, so whole-table counts would not do."""
    with shared_database.session_factory() as s:
        return (s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.actor == EMPLOYEE)),
                s.scalar(select(func.count()).select_from(TransferMaterial)),
                s.scalar(select(func.count()).select_from(NotificationRead)))


async def test_guessed_ids_of_a_colleague_answer_403_or_404_and_nothing_else(module_stack, shared_database,
                                                                            hers) -> None:
    before = _written_by_the_guesser(shared_database)
    for method, url, body in _guesses(hers):
        r = await module_stack.request(method, url, json=body, headers=ME)
        assert r.status_code in (403, 404), (method, url, r.status_code, r.text)
        assert r.headers["content-type"] == "application/json"
        assert set(r.json()) == {"error", "detail"} and r.json()["error"] in ("forbidden", "not_found")
        assert isinstance(r.json()["detail"], str)
        _no_trace_of_her(r)
    upload = await module_stack.post(f"/transfers/{hers['transfer']}/materials/resident_id_card",
                                     files={"file": ("x.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
                                     headers=ME)
    assert upload.status_code == 404
    assert _written_by_the_guesser(shared_database) == before == (0, 1, 0)


@pytest.mark.parametrize("url", ["/cases", f"/cases?employee_id={OTHER}", "/cases?kind=maternity", "/inbox",
                                 "/me/notifications"])
async def test_lists_show_her_own_cases_and_none_of_the_colleague(module_stack, hers, url: str) -> None:
    r = await module_stack.get(url, headers=ME)
    assert r.status_code == 200, r.text
    _no_trace_of_her(r)
    if url.startswith("/cases"):
        assert [c["workflow_id"] for c in r.json()["items"]] == [MINE]


async def test_her_own_case_is_there_to_read(module_stack, hers) -> None:
    """The guesses above fail because the cases are someone else's, not because nothing can be read."""
    r = await module_stack.get(f"/cases/{MINE}", headers=ME)
    assert r.status_code == 200 and r.json()["employee_id"] == EMPLOYEE
    hr = _bearer(Role.HR_MANAGER, "mgr.wang")
    assert SECRET in (await module_stack.get(f"/transfers/{hers['transfer']}/materials", headers=hr)).text
    assert SECRET in (await module_stack.get(f"/cases/{HER_TASK_CASE}", headers=hr)).json()["summary"]
