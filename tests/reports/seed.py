"""A small company, seeded by hand, whose November 2026 report is worked out in the tests' comments.

Three departments (销售部 sales, 研发部 R&D, 人事部 HR), 24 employees, all hired 2020-01-01 in
Beijing on a base of 10000 unless a line says otherwise. Beijing's average wage on 2026-11-30 is
12116 (catalogue rule beijing.contribution_bases.beijing.2026), so the 60%-300% band is
7269.60..36348.00, and the personal monthly contribution on 10000 is 800 + (200 + 3) + 50 = 1053.00
(on 12000: 960 + 243 + 60 = 1263.00).

    id  dept  position  notes
    S1  销售部 销售顾问    returned 2026-01-10, left 2026-06-30; advances 2025-10..12 open, nothing deducted
    S2  销售部 销售顾问    returned 2026-03-01, left 2026-09-15; advances 2025-12..2026-02 all deducted
    S3  销售部 销售顾问    base 36348.00 (exactly 300%: inside)
    S4  销售部 销售经理    base 40000 (above 300%)
    W2  销售部 销售顾问    base 12000, on leave; 2026-11 advance booked 1200 (expected 1263.00); 2026-12 booked
                         2026-12-01 00:30 China time (after November in China, still November in UTC)
    R1  研发部 工程师      returned 2026-02-01; advances 2025-11, 12 deducted, 2026-01 1000 of 1053 deducted,
                         2026-02 reversed
    R2  研发部 工程师      returned 2026-04-01, leaves 2026-12-15 (after the month); advances 2025-12..2026-03 deducted
    R3  研发部 架构师      left 2026-05-31 owing a loan of 5000
    R4  研发部 工程师      left 2026-08-31; loan settled, an open asset record (no money), a fully settled
                         receivable still marked open
    R5  研发部 工程师      base 7000 (below 60%)
    R6  研发部 工程师      base 7269.60 (exactly 60%: inside)
    R7  研发部 工程师      left 2025-11-15 (before the 12 months)
    R8  研发部 工程师      hired 2026-03-01
    R9  研发部 工程师      returned 2024-10-01, left 2025-12-20; an open loan record without an amount
    W1  研发部 工程师      returned 2026-11-10 (in the month: not yet due); advances 2026-09, 10 open;
                         2026-11 booked 999.00 then reversed
    W3  研发部 工程师      on leave; 2026-11 advance 1053.00
    N1  研发部 工程师      hired 2026-12-01, base 5000
    H1  人事部 招聘专员    city Shanghai (no average wage in the catalogue for 2026-11)
    H2  人事部 招聘专员    overpayments open: 300 booked 2026-10-31 (30 days), 200 booked 2026-10-30 (31 days)
    H3  人事部 招聘专员    left 2026-07-31 during leave; advances 2026-06, 07 open
    H4  人事部 招聘专员    returned 2026-02-15, left 2026-10-31
    H5  人事部 招聘专员    returned 2026-03-10
    H6  人事部 招聘专员    returned 2026-05-01
    W4  人事部 招聘专员    city 三沙 (not in the catalogue), base 8000, on leave; 2026-11 advance 640

Advances are booked on the 25th at 10:00 China time unless said otherwise. Transfers: T1 (R6) filed
2026-11-03, pension completed in 10 days; T2 (R8) filed 2026-11-20, rejected for a missing
material; T3 (R6) filed 2026-10-15, pension completed in 3 days.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from db import audit
from db.models import Employee, EmployeeRecord, Receivable, Settlement, Transfer, TransferBranch, TransferReview
from db.report import ADVANCE, DEPARTED, RETURNED

CHINA = dt.timezone(dt.timedelta(hours=8))
SALES, RND, HR = "销售部", "研发部", "人事部"

_HIRED = dt.date(2020, 1, 1)
# id: (department, position, base, city, hire date)
EMPLOYEES: dict[str, tuple[str, str, str, str, dt.date]] = {
    "S1": (SALES, "销售顾问", "10000.00", "Beijing", _HIRED),
    "S2": (SALES, "销售顾问", "10000.00", "Beijing", _HIRED),
    "S3": (SALES, "销售顾问", "36348.00", "Beijing", _HIRED),
    "S4": (SALES, "销售经理", "40000.00", "Beijing", _HIRED),
    "W2": (SALES, "销售顾问", "12000.00", "Beijing", _HIRED),
    "R1": (RND, "工程师", "10000.00", "Beijing", _HIRED),
    "R2": (RND, "工程师", "10000.00", "Beijing", _HIRED),
    "R3": (RND, "架构师", "10000.00", "Beijing", _HIRED),
    "R4": (RND, "工程师", "10000.00", "Beijing", _HIRED),
    "R5": (RND, "工程师", "7000.00", "Beijing", _HIRED),
    "R6": (RND, "工程师", "7269.60", "Beijing", _HIRED),
    "R7": (RND, "工程师", "10000.00", "Beijing", _HIRED),
    "R8": (RND, "工程师", "10000.00", "Beijing", dt.date(2026, 3, 1)),
    "R9": (RND, "工程师", "10000.00", "Beijing", _HIRED),
    "W1": (RND, "工程师", "10000.00", "Beijing", _HIRED),
    "W3": (RND, "工程师", "10000.00", "Beijing", _HIRED),
    "N1": (RND, "工程师", "5000.00", "Beijing", dt.date(2026, 12, 1)),
    "H1": (HR, "招聘专员", "10000.00", "Shanghai", _HIRED),
    "H2": (HR, "招聘专员", "10000.00", "Beijing", _HIRED),
    "H3": (HR, "招聘专员", "10000.00", "Beijing", _HIRED),
    "H4": (HR, "招聘专员", "10000.00", "Beijing", _HIRED),
    "H5": (HR, "招聘专员", "10000.00", "Beijing", _HIRED),
    "H6": (HR, "招聘专员", "10000.00", "Beijing", _HIRED),
    "W4": (HR, "招聘专员", "8000.00", "三沙", _HIRED),
}

RETURNS = {"S1": dt.date(2026, 1, 10), "S2": dt.date(2026, 3, 1), "R1": dt.date(2026, 2, 1),
           "R2": dt.date(2026, 4, 1), "R9": dt.date(2024, 10, 1), "W1": dt.date(2026, 11, 10),
           "H4": dt.date(2026, 2, 15), "H5": dt.date(2026, 3, 10), "H6": dt.date(2026, 5, 1)}
DEPARTURES = {"S1": dt.date(2026, 6, 30), "S2": dt.date(2026, 9, 15), "R2": dt.date(2026, 12, 15),
              "R3": dt.date(2026, 5, 31), "R4": dt.date(2026, 8, 31), "R7": dt.date(2025, 11, 15),
              "R9": dt.date(2025, 12, 20), "H3": dt.date(2026, 7, 31), "H4": dt.date(2026, 10, 31)}

FULL = Decimal("1053.00")


def _booked(month: str, day: int = 25, hour: int = 10, minute: int = 0) -> dt.datetime:
    year, number = int(month[:4]), int(month[5:])
    return dt.datetime(year, number, day, hour, minute, tzinfo=CHINA)


# (employee, kind, month, amount, settled, status, booked at)
RECEIVABLES: list[tuple[str, str, str, Decimal, Decimal, str, dt.datetime]] = [
    *[("S1", ADVANCE, m, FULL, Decimal(0), "open", _booked(m)) for m in ("2025-10", "2025-11", "2025-12")],
    *[("S2", ADVANCE, m, FULL, FULL, "settled", _booked(m)) for m in ("2025-12", "2026-01", "2026-02")],
    ("R1", ADVANCE, "2025-11", FULL, FULL, "settled", _booked("2025-11")),
    ("R1", ADVANCE, "2025-12", FULL, FULL, "settled", _booked("2025-12")),
    ("R1", ADVANCE, "2026-01", FULL, Decimal("1000.00"), "open", _booked("2026-01")),
    ("R1", ADVANCE, "2026-02", FULL, Decimal(0), "reversed", _booked("2026-02")),
    *[("R2", ADVANCE, m, FULL, FULL, "settled", _booked(m)) for m in ("2025-12", "2026-01", "2026-02", "2026-03")],
    ("R4", "overpayment", "2026-07", Decimal("500.00"), Decimal("500.00"), "open", _booked("2026-07")),
    ("H3", ADVANCE, "2026-06", FULL, Decimal(0), "open", _booked("2026-06")),
    ("H3", ADVANCE, "2026-07", FULL, Decimal(0), "open", _booked("2026-07")),
    ("W1", ADVANCE, "2026-09", FULL, Decimal(0), "open", _booked("2026-09")),
    ("W1", ADVANCE, "2026-10", FULL, Decimal(0), "open", _booked("2026-10")),
    ("W1", ADVANCE, "2026-11", Decimal("999.00"), Decimal(0), "reversed", _booked("2026-11")),
    ("W2", ADVANCE, "2026-11", Decimal("1200.00"), Decimal(0), "open", _booked("2026-11", 30, 23, 30)),
    ("W2", ADVANCE, "2026-12", Decimal("1263.00"), Decimal(0), "open",
     dt.datetime(2026, 12, 1, 0, 30, tzinfo=CHINA)),
    ("W3", ADVANCE, "2026-11", FULL, Decimal(0), "open", _booked("2026-11")),
    ("W4", ADVANCE, "2026-11", Decimal("640.00"), Decimal(0), "open", _booked("2026-11")),
    ("H2", "overpayment", "2026-10", Decimal("300.00"), Decimal(0), "open", _booked("2026-10", 31)),
    ("H2", "overpayment", "2026-09", Decimal("200.00"), Decimal(0), "open", _booked("2026-10", 30)),
]

# (employee, kind, amount, status)
RECORDS = [("R3", "loan", Decimal("5000.00"), "open"), ("R4", "loan", Decimal("3000.00"), "settled"),
           ("R4", "asset", None, "open"), ("R9", "loan", None, "open")]


def _case(employee_id: str) -> str:
    return f"maternity-leave-{employee_id}"


def seed(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        for n, (employee_id, (department, position, base, city, hired)) in enumerate(sorted(EMPLOYEES.items())):
            s.add(Employee(employee_id=employee_id, resident_id_number=f"110105199001{n:06d}", name=f"员工{n}",
                           department=department, position=position, hire_date=hired, si_province=city,
                           si_city=city, contribution_base=Decimal(base)))
        s.flush()
        for employee_id, day in sorted(RETURNS.items(), key=lambda kv: kv[1]):
            audit.append(s, audit.AuditEntry(
                actor="hr.li", actor_role="hr_specialist", action=RETURNED, workflow_id=_case(employee_id),
                subject=employee_id, after={"returned_on": day}),
                at=dt.datetime.combine(day, dt.time(10), tzinfo=CHINA))
        for employee_id, day in sorted(DEPARTURES.items(), key=lambda kv: kv[1]):
            audit.append(s, audit.AuditEntry(
                actor="system", actor_role="system", action=DEPARTED, workflow_id=f"offboarding-{employee_id}-{day}",
                subject=employee_id, after={"end_date": day, "position": EMPLOYEES[employee_id][1]}),
                at=dt.datetime.combine(day, dt.time(18), tzinfo=CHINA))
        for employee_id, kind, month, amount, settled, status, booked in RECEIVABLES:
            s.add(Receivable(employee_id=employee_id, workflow_id=_case(employee_id), kind=kind, month=month,
                             amount=amount, settled=settled, status=status, booked_at=booked))
            if settled:
                s.add(Settlement(workflow_id=_case(employee_id), step=f"deduct-{month}-{kind}",
                                 employee_id=employee_id, method="payroll_deduction", amount=settled,
                                 confirmed_by="fin.zhou", at=booked + dt.timedelta(days=40)))
        for employee_id, kind, amount, status in RECORDS:
            s.add(EmployeeRecord(employee_id=employee_id, kind=kind, title=f"{kind} of {employee_id}", amount=amount,
                                 status=status, recorded_by="fin.zhou"))
        _transfers(s)


def _transfers(s: Session) -> None:
    filed = {"T1": ("R6", dt.datetime(2026, 11, 3, 10, tzinfo=CHINA)),
             "T2": ("R8", dt.datetime(2026, 11, 20, 10, tzinfo=CHINA)),
             "T3": ("R6", dt.datetime(2026, 10, 15, 10, tzinfo=CHINA))}
    for key, (employee_id, at) in filed.items():
        s.add(Transfer(workflow_id=key, employee_id=employee_id, department=RND, origin_province="Beijing",
                       origin_city="Beijing", destination_province="Sichuan", destination_city="Chengdu",
                       types=["pension"], reason="move", applicant=employee_id, stage="seeded", created_at=at,
                       updated_at=at))
    s.flush()
    for key, days in (("T1", 10), ("T3", 3)):
        started = filed[key][1] + dt.timedelta(days=1)
        s.add(TransferBranch(workflow_id=key, kind="pension", status="completed", started_at=started,
                             completed_at=started + dt.timedelta(days=days)))
    s.add(TransferReview(workflow_id="T2", decision="rejected", reason_code="missing_material", actor="hr.li",
                         at=filed["T2"][1] + dt.timedelta(hours=3)))
