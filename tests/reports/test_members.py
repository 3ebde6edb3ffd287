"""The members behind each figure of the hand-seeded November (tests/reports/seed.py): they add up
to every stored figure, they name the people and cases worked out in test_figures' comments, and
they stay as they were counted when the ledger moves on."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from db import report, report_members
from db.models import Receivable, ReportMember
from db.report import ALL
from tests.reports.conftest import COMPUTED_AT
from tests.reports.seed import HR, RND, SALES
from tests.reports.test_figures import NOVEMBER

D = Decimal


def _members(session_factory, metric: str, dimension: str = ALL) -> tuple[int, int, list[report_members.Member]]:
    with session_factory() as s:
        return report_members.load(s, "2026-11", metric, dimension, limit=1000)


def test_every_figure_is_the_sum_of_its_members(seeded, compute, session_factory) -> None:
    compute("2026-11")
    with session_factory() as s:
        figures = report.load(s, "2026-11").figures
    checked = 0
    for f in figures:
        listing = report_members.LISTINGS[f.metric]
        total, counted, members = _members(session_factory, f.metric, f.dimension)
        assert total == len(members), f.metric
        assert counted == sum(m.counted for m in members)
        where = (f.metric, f.dimension)
        if listing.sums == "outstanding/amount":
            assert sum((m.outstanding for m in members), D(0)) == f.numerator, where
            assert sum((m.amount for m in members), D(0)) == f.denominator, where
        elif listing.sums == "outstanding":
            assert sum((m.outstanding for m in members), D(0)) == f.value, where
            assert len(members) == f.numerator, where
        elif listing.lists == "denominator":
            assert (counted, total) == (f.numerator, f.denominator), where
        else:
            assert total == counted == f.numerator, where
        checked += 1
    assert checked == len(figures) == len(NOVEMBER)


def test_the_members_are_the_people_worked_out_by_hand(seeded, compute, session_factory) -> None:
    compute("2026-11")
    _, _, leavers = _members(session_factory, "company_attrition")
    assert [m.employee_id for m in leavers] == ["R9", "R3", "S1", "H3", "R4", "S2", "H4"]  # by last day
    assert leavers[0].workflow_id == "offboarding-R9-2025-12-20" and leavers[0].facts == {"left_on": "2025-12-20"}

    total, counted, mothers = _members(session_factory, "maternity_return_attrition", SALES)
    assert (total, counted) == (2, 2)
    assert {(m.employee_id, m.workflow_id, m.facts["left_on"]) for m in mothers} == {
        ("S1", "maternity-leave-S1", "2026-06-30"), ("S2", "maternity-leave-S2", "2026-09-15")}
    _, _, rnd = _members(session_factory, "maternity_return_attrition", RND)
    # R2 leaves 12-15, after the month: listed, not counted, her last day shown
    assert {(m.employee_id, m.counted, m.facts.get("left_on")) for m in rnd} == {
        ("R1", False, None), ("R2", False, "2026-12-15"), ("W1", False, None)}

    _, _, hr_advances = _members(session_factory, "undeducted_rate", HR)
    assert [(m.employee_id, m.facts["month"], m.amount, m.outstanding) for m in hr_advances] == [
        ("H3", "2026-06", D("1053.00"), D("1053.00")), ("H3", "2026-07", D("1053.00"), D("1053.00"))]
    _, _, rnd_advances = _members(session_factory, "undeducted_rate", RND)
    # counted first: R1's 2026-01 advance with 53 open; her reversed 2026-02 is not owed, not listed
    assert [(m.employee_id, m.facts["month"], m.counted) for m in rnd_advances][:1] == [("R1", "2026-01", True)]
    assert "2026-02" not in {m.facts["month"] for m in rnd_advances if m.employee_id == "R1"}

    _, _, band = _members(session_factory, "base_outside_band")
    assert {(m.employee_id, m.facts["base"], m.facts["average_wage"]) for m in band} == {
        ("S4", "40000", "12116"), ("R5", "7000", "12116")}

    _, _, owed = _members(session_factory, "departed_unsettled_share", "架构师")
    assert [(m.employee_id, m.counted, m.workflow_id) for m in owed] == [("R3", True, "offboarding-R3-2026-05-31")]

    _, _, aged = _members(session_factory, "receivable_ageing", "31-90")
    assert sorted((m.employee_id, m.facts["age_days"]) for m in aged) == [("H2", "31"), ("W1", "36"), ("W1", "66")]

    _, _, mismatch = _members(session_factory, "deduction_mismatch", SALES)
    assert [(m.employee_id, m.amount, m.facts["expected"], m.counted) for m in mismatch] == [
        ("W2", D("1200.00"), "1263", True)]

    _, _, days = _members(session_factory, "transfers_processing_days", "pension")
    assert [(m.workflow_id, m.facts["days"], m.metric) for m in days] == [("T1", "10", "transfers_processing_days")]
    _, _, rejected = _members(session_factory, "transfers_rejections", "missing_material")
    assert [(m.workflow_id, m.employee_id) for m in rejected] == [("T2", "R8")]


def test_the_members_stay_as_counted_until_the_month_is_recomputed(seeded, compute, session_factory) -> None:
    compute("2026-11")
    with session_factory.begin() as s:  # S1's advances recovered the next morning
        s.execute(update(Receivable).where(Receivable.employee_id == "S1")
                  .values(settled=Receivable.amount, status="settled"))
    _, counted, sales = _members(session_factory, "undeducted_rate", SALES)
    assert counted == 3 and {m.outstanding for m in sales if m.employee_id == "S1"} == {D("1053.00")}

    compute("2026-11", at=COMPUTED_AT + dt.timedelta(days=1))
    _, counted, sales = _members(session_factory, "undeducted_rate", SALES)
    assert counted == 0 and {m.outstanding for m in sales} == {D("0.00")}
    with session_factory() as s:  # replaced, not added to
        assert s.scalar(select(func.count()).select_from(ReportMember)
                        .where(ReportMember.metric == "undeducted_rate", ReportMember.dimension == SALES)) == 6


@pytest.mark.parametrize("metric", sorted(report_members.LISTINGS))
def test_an_empty_company_lists_no_one(compute, session_factory, metric: str) -> None:
    compute("2026-11")
    assert _members(session_factory, metric) == (0, 0, [])
