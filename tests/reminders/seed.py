"""A small world of due and not-yet-due items around one instant, for the sweep and delivery tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from db.models import ApprovalTask, Case, CaseDeadline, Employee, Receivable, StaffMember, Transfer, TransferBranch

CHINA = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=CHINA)
DAY = dt.timedelta(days=1)


def employee(s: Session, emp: str, *, email: str | None = None, language: str = "zh") -> None:
    s.add(Employee(employee_id=emp, resident_id_number=f"ID{emp:0>16}", name="王芳", department="Sales",
                   position="Adviser", hire_date=dt.date(2021, 3, 1), si_province="Beijing", si_city="Beijing",
                   contribution_base=Decimal("10000.00"), email=email, language=language))


def case(s: Session, wf: str, emp: str, kind: str, stage: str = "open", status: str = "open") -> None:
    s.add(Case(workflow_id=wf, kind=kind, employee_id=emp, stage=stage, status=status, opened_at=NOW))
    s.flush()


def staff(s: Session, user: str, role: str, level: int = 1, *, email: str | None = None,
          language: str = "zh", active: bool = True) -> None:
    s.add(StaffMember(user_id=user, display_name=user, role=role, level=level, email=email or f"{user}@corp.test",
                      language=language, active=active))


def seed(factory: sessionmaker[Session], NOW: dt.datetime = NOW) -> None:
    """Everything is placed relative to ``NOW`` (the dev-stack test seeds around the real time)."""
    with factory.begin() as s:
        for emp in ("E1", "E2", "E3", "E4", "E5"):
            employee(s, emp, email=f"{emp.lower()}@corp.test", language="en" if emp == "E1" else "zh")
        staff(s, "hr.li", "hr_specialist", 1, language="en")
        staff(s, "hr.chen", "hr_specialist", 1)
        staff(s, "hr.wang", "hr_specialist", 2)
        staff(s, "mgr.zhao", "hr_manager", 1)
        staff(s, "fin.qian", "finance", 1)
        staff(s, "hr.gone", "hr_specialist", 1, active=False)
        s.flush()

        case(s, "si-change-E1-1", "E1", "si_change")
        task = {"workflow_id": "si-change-E1-1", "title": "Approve", "status": "open"}
        s.add_all([
            ApprovalTask(task_key="t1", role="hr_specialist", due_at=NOW - DAY, created_at=NOW - 5 * DAY, **task),
            ApprovalTask(task_key="t2", role="hr_specialist", assignee="hr.li", due_at=NOW - 5 * DAY,
                         created_at=NOW - 9 * DAY, **task),
            ApprovalTask(task_key="t3", role="finance", due_at=None, created_at=NOW - 4 * DAY, **task),
            ApprovalTask(task_key="t4", role="hr_specialist", due_at=NOW + DAY, created_at=NOW - DAY, **task),
            ApprovalTask(task_key="t6", role="finance", due_at=None, created_at=NOW - DAY, **task),
            ApprovalTask(task_key="t5", role="hr_specialist", due_at=NOW - 3 * DAY, created_at=NOW - 9 * DAY,
                         workflow_id="si-change-E1-1", title="Done", status="decided"),
        ])
        s.flush()

        case(s, "maternity-E1-1", "E1", "maternity", "on_leave")
        case(s, "maternity-E2-1", "E2", "maternity", "deducting")
        case(s, "offboarding-E3-1", "E3", "offboarding", "departed")
        case(s, "non-compete-E3-1", "E3", "non_compete", "active")
        deadline = {"status": "open", "updated_at": NOW}
        s.add_all([
            CaseDeadline(workflow_id="maternity-E1-1", kind="maternity_return", ref="main", employee_id="E1",
                         due_at=NOW + 3 * DAY, **deadline),
            CaseDeadline(workflow_id="maternity-E2-1", kind="maternity_return", ref="main", employee_id="E2",
                         due_at=NOW + 10 * DAY, **deadline),
            CaseDeadline(workflow_id="offboarding-E3-1", kind="departure_filing", ref="main", employee_id="E3",
                         due_at=NOW - 2 * DAY, **deadline),
            CaseDeadline(workflow_id="non-compete-E3-1", kind="non_compete_proof", ref="2026-10", employee_id="E3",
                         due_at=NOW + 2 * DAY, details={"month": "2026-10"}, **deadline),
            CaseDeadline(workflow_id="non-compete-E3-1", kind="non_compete_proof", ref="2026-09", employee_id="E3",
                         due_at=NOW - 20 * DAY, details={"month": "2026-09"}, status="met", updated_at=NOW),
        ])

        money = {"kind": "maternity_advance", "amount": Decimal("2000.00"), "booked_at": NOW - 10 * DAY}
        s.add_all([
            Receivable(employee_id="E2", workflow_id="maternity-E2-1", month="2026-09", **money),  # R1: remind
            Receivable(employee_id="E1", workflow_id="maternity-E1-1", month="2026-09", **money),  # on leave
            Receivable(employee_id="E2", workflow_id="maternity-E2-1", month="2026-10",
                       followed_up_at=NOW - 2 * DAY, **money),  # followed up lately
            Receivable(employee_id="E2", workflow_id="maternity-E2-1", month="2026-08", status="settled",
                       settled=Decimal("2000.00"), **money),
        ])

        case(s, "transfer-E4-1", "E4", "transfer", "in_progress")
        s.add(Transfer(workflow_id="transfer-E4-1", employee_id="E4", department="Sales", origin_province="Beijing",
                       origin_city="Beijing", destination_province="Shanghai", destination_city="Shanghai",
                       types=["pension", "medical", "housing_fund"], reason="moved", applicant="E4",
                       stage="in_progress", created_at=NOW - 30 * DAY, updated_at=NOW))
        s.flush()
        today = NOW.astimezone(CHINA).date()
        s.add_all([
            TransferBranch(workflow_id="transfer-E4-1", kind="pension", status="transferring",
                           current_step="destination_acceptance", step_due=today - 3 * DAY),
            TransferBranch(workflow_id="transfer-E4-1", kind="medical", status="completed",
                           current_step="done", step_due=today - 9 * DAY),
            TransferBranch(workflow_id="transfer-E4-1", kind="housing_fund", status="transferring",
                           current_step="origin_transfer", step_due=today + 2 * DAY),
        ])


# What the sweep at NOW must queue: (category, recipient kind, recipient, template)
EXPECTED_AT_NOW = sorted([
    ("approval_overdue", "role", "hr_specialist", "reminder.approval_overdue"),  # t1, 1 day late
    ("approval_overdue", "user", "hr.li", "reminder.approval_overdue"),  # t2, 5 days late: assignee ...
    ("approval_overdue", "role", "hr_specialist/2", "reminder.approval_overdue"),  # ... and level 2 (the top)
    ("approval_overdue", "role", "finance", "reminder.approval_overdue"),  # t3: undated, open 4 > 3 days
    ("maternity_return", "employee", "E1", "reminder.maternity_return_due"),
    ("maternity_return", "role", "hr_specialist", "reminder.maternity_return_due"),
    ("departure_filing", "role", "hr_specialist", "reminder.departure_filing_overdue"),
    ("departure_filing", "role", "hr_manager", "reminder.departure_filing_overdue"),
    ("non_compete_proof", "employee", "E3", "reminder.non_compete_proof_due"),
    ("receivable_no_followup", "role", "finance", "reminder.receivable_no_followup"),
    ("transfer_step_overdue", "role", "hr_specialist", "reminder.transfer_step_overdue"),
    ("policy_lapse", "role", "admin", "reminder.policy_lapse"),  # 2027's holiday arrangement, due from November
])


# Each expected reminder as e-mails: roles reach their active level members (hr_specialist: hr.li and
# hr.chen; level 2: hr.wang), users and employees their own address.
EXPECTED_EMAILS = 4 * 2 + 1 + 1 + 2 + 1 + 1 + 1
