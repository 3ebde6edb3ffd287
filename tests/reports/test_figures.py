"""The report's figures on the hand-seeded company (tests/reports/seed.py), each one worked out by
hand below, and the alerts it must raise: sales mothers all left within a year (at least 2x the
company's attrition), advances not deducted well above 5%, positions with more than 10% of leavers
owing money, bases outside the band, and an advance booked at the wrong amount."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from db import report, report_members
from db.models import Receivable, ReportFigure, ReportRun
from db.report import Period, ReportThresholds
from tests.reports.conftest import COMPUTED_AT
from tests.reports.seed import HR, RND, SALES
from workflows.monthly_report import previous_month

D = Decimal
F, T = False, True

# November 2026: the month runs 11-01..11-30; the 12 months 2025-12-01..2026-11-30.
NOVEMBER: dict[tuple[str, str], tuple[Decimal | None, Decimal | None, Decimal | None, bool]] = {
    # Company: on the books 2025-12-01 = 24 employees - R7 (left 2025-11-15) - R8, N1 (hired later) = 21;
    # left within the 12 months: S1, S2, R3, R4, R9, H3, H4 = 7 (R2 leaves 12-15, R7 before). 7/21.
    ("company_attrition", "all"): (D("0.3333"), D(7), D(21), F),
    # Returns confirmed in the 12 months: S1, S2 | R1, R2, W1 | H4, H5, H6 (R9's was 2024).
    # Left within 365 days and by 11-30: S1, S2 | none (R2 leaves 12-15) | H4.
    # Alert at 2 x 7/21: sales 2/2 (2*21 >= 2*7*2); HR 1/3 (1*21 < 2*7*3) does not.
    ("maternity_return_attrition", SALES): (D("1.0000"), D(2), D(2), T),
    ("maternity_return_attrition", RND): (D("0.0000"), D(0), D(3), F),
    ("maternity_return_attrition", HR): (D("0.3333"), D(1), D(3), F),
    ("maternity_return_attrition", "all"): (D("0.3750"), D(3), D(8), F),
    # Advances due (returned or left before 11-01): S1 3x1053 all open, S2 3x1053 deducted;
    # R1 3x1053 with 53 open (2026-02 reversed: not owed), R2 4x1053 deducted; H3 left, 2x1053 open.
    # W1 returned 11-10, W2/W3/W4 still on leave: not due. Alert above 5%.
    ("undeducted_rate", SALES): (D("0.5000"), D("3159.00"), D("6318.00"), T),
    ("undeducted_rate", RND): (D("0.0072"), D("53.00"), D("7371.00"), F),  # 53/7371 = 0.00719
    ("undeducted_rate", HR): (D("1.0000"), D("2106.00"), D("2106.00"), T),
    ("undeducted_rate", "all"): (D("0.3367"), D("5318.00"), D("15795.00"), F),  # 0.336689
    # Left in the 12 months, by position; owing: S1 (open advances), R3 (open loan 5000), H3 (open
    # advances). Not owing: S2, R4 (loan settled, asset has no money, receivable fully settled),
    # R9 (loan without an amount), H4. Alert above 10%.
    ("departed_unsettled_share", "销售顾问"): (D("0.5000"), D(1), D(2), T),
    ("departed_unsettled_share", "架构师"): (D("1.0000"), D(1), D(1), T),
    ("departed_unsettled_share", "工程师"): (D("0.0000"), D(0), D(2), F),
    ("departed_unsettled_share", "招聘专员"): (D("0.5000"), D(1), D(2), T),
    ("departed_unsettled_share", "all"): (D("0.4286"), D(3), D(7), F),
    # Open yuan by days from booking (China date) to 11-30; W2's 2026-12 advance was booked
    # 12-01 00:30 China time and is not counted; fully settled or reversed rows are not open money.
    # 0-30: W2 1200 (booked 11-30 23:30, 0 days), W3 1053, W4 640 (5 days), H2 300 (30 days)
    ("receivable_ageing", "0-30"): (D("3193.00"), D(4), None, F),
    # 31-90: W1 1053 (66 days) + 1053 (36 days), H2 200 (31 days)
    ("receivable_ageing", "31-90"): (D("2306.00"), D(3), None, F),
    # 91-180: H3 1053 (158 days) + 1053 (128 days)
    ("receivable_ageing", "91-180"): (D("2106.00"), D(2), None, F),
    # 181+: S1 3 x 1053 (401, 370, 340 days), R1 53 (309 days)
    ("receivable_ageing", "181+"): (D("3212.00"), D(4), None, F),
    # On the books 11-30 with a known average wage (Beijing 12116: band 7269.60..36348.00):
    # sales S3 (36348.00, inside), S4 (40000, above), W2; R&D R1, R2, R5 (7000, below), R6 (7269.60,
    # inside), R8, W1, W3; HR H2, H5, H6. H1 (Shanghai) and W4 (三沙) cannot be checked.
    ("base_outside_band", SALES): (D("0.3333"), D(1), D(3), T),
    ("base_outside_band", RND): (D("0.1429"), D(1), D(7), T),
    ("base_outside_band", HR): (D("0.0000"), D(0), D(3), F),
    ("base_outside_band", "all"): (D("0.1538"), D(2), D(13), F),
    ("base_unknown_city", "Shanghai"): (D(1), D(1), None, F),
    ("base_unknown_city", "三沙"): (D(1), D(1), None, F),
    # Advances booked for 2026-11 (W1's reversed one left out): W2 1200 against 960 + 243 + 60 =
    # 1263.00 on 12000; W3 1053 = 1053.00; W4 in 三沙 has no rates in the catalogue.
    ("deduction_mismatch", SALES): (D("1.0000"), D(1), D(1), T),
    ("deduction_mismatch", RND): (D("0.0000"), D(0), D(1), F),
    ("deduction_mismatch", "all"): (D("0.5000"), D(1), D(2), F),
    ("deduction_unknown_rate", "三沙"): (D(1), D(1), None, F),
    # Transfers filed in November: T1 (pension done in 10 days) and T2 (rejected); T3 was October's.
    ("transfers_filed", "all"): (D(2), D(2), None, F),
    ("transfers_completed", "pension"): (D(1), D(1), None, F),
    ("transfers_processing_days", "pension"): (D("10.0"), D(1), None, F),
    ("transfers_processing_days_p90", "pension"): (D("10.0"), D(1), None, F),
    ("transfers_rejections", "missing_material"): (D(1), D(1), None, F),
    # Nothing waits on a missing policy figure in the seeded company.
    ("waiting_on_policy", "enrollment_by_hand"): (D(0), D(0), None, F),
    ("waiting_on_policy", "provincial_extension_unconfirmed"): (D(0), D(0), None, F),
    ("waiting_on_policy", "policy_lapse"): (D(0), D(0), None, F),
}


def _table(figures: list[report.Figure]) -> dict[tuple[str, str], tuple]:
    table = {(f.metric, f.dimension): (f.value, f.numerator, f.denominator, f.alert) for f in figures}
    assert len(table) == len(figures), "a metric repeats a dimension"
    return table


def test_the_seeded_november(seeded, compute, session_factory) -> None:
    result = compute("2026-11")
    with session_factory() as s:
        stored = report.load(s, "2026-11")
    assert stored is not None and stored.computed_at == COMPUTED_AT
    assert _table(stored.figures) == NOVEMBER
    assert {(a.metric, a.dimension) for a in result.alerts} == {
        ("maternity_return_attrition", SALES), ("undeducted_rate", SALES), ("undeducted_rate", HR),
        ("departed_unsettled_share", "销售顾问"), ("departed_unsettled_share", "架构师"),
        ("departed_unsettled_share", "招聘专员"), ("base_outside_band", SALES), ("base_outside_band", RND),
        ("deduction_mismatch", SALES)}
    assert stored.alerts == result.alerts and result.figures == len(NOVEMBER)
    messages = {(a.metric, a.dimension): a.message for a in result.alerts}
    assert messages[("maternity_return_attrition", SALES)] == (
        "销售部：2 名产假返岗员工中 2 名在一年内离职（100.0%），达到公司离职率 33.3% 的 2 倍或以上")
    assert messages[("undeducted_rate", HR)] == "人事部：到期应扣回的垫付社保 2106.00 元中 2106.00 元未扣回（100.0%，预警线 5.0%）"
    english = {(a.metric, a.dimension): a.message_en for a in result.alerts}
    assert english[("maternity_return_attrition", SALES)] == (
        "销售部: 2 of 2 employees who returned from maternity leave left within a year (100.0%),"
        " 2x or more the company's 33.3%")
    assert english[("undeducted_rate", HR)] == (
        "人事部: 2106.00 of 2106.00 yuan of advanced contributions due for recovery not deducted"
        " (100.0%, alert above 5.0%)")
    assert result.unchecked_cities == ["Shanghai", "三沙"]
    assert result.summary.startswith("2026-11 月报：9 项预警 (Report 2026-11: 9 alert(s))：销售部：2 名产假返岗员工")
    assert stored.thresholds == {"attrition_ratio_alert": "2", "undeducted_rate_alert": "0.05",
                                 "departed_unsettled_alert": "0.10", "base_low_share": "0.60",
                                 "base_high_share": "3.00"}


def test_october_feeds_the_trend(seeded, compute, session_factory) -> None:
    alerts = compute("2026-10").alerts
    compute("2026-11")
    with session_factory() as s:
        october = _table(report.load(s, "2026-10").figures)
        trend = report.trend(s, "2026-11")
    # 12 months 2025-11-01..2026-10-31. On the books 2025-11-01: 24 - R8 - N1 = 22 (R7 still there);
    # left: R7, R9, R3, S1, R4, S2, H3, H4 (10-31) = 8.
    assert october[("company_attrition", "all")] == (D("0.3636"), D(8), D(22), F)
    # Returns: S1, S2, R1, R2, H4, H5, H6 (W1's is November's); left within a year by 10-31: S1, S2, H4.
    assert october[("maternity_return_attrition", "all")] == (D("0.4286"), D(3), D(7), F)
    # Due before 10-01: the same advances as November's (W1 returned in November).
    assert october[("undeducted_rate", "all")] == (D("0.3367"), D("5318.00"), D("15795.00"), F)
    # Leavers R7, R9, R3, S1, R4, S2, H3, H4; owing S1, R3, H3.
    assert october[("departed_unsettled_share", "all")] == (D("0.3750"), D(3), D(8), F)
    assert october[("transfers_filed", "all")] == (D(1), D(1), None, F)
    # Sales returners 2/2 (2*22 >= 2*8*2); advances as in November; leavers owing per position as in
    # November; bases S4 and R5 (H4, leaving on 10-31, is still on the books: nothing outside in HR);
    # the only advance booked for 2026-10 with a base on file is W1's 1053, as expected.
    assert {(a.metric, a.dimension) for a in alerts} == {
        ("maternity_return_attrition", SALES), ("undeducted_rate", SALES), ("undeducted_rate", HR),
        ("departed_unsettled_share", "销售顾问"), ("departed_unsettled_share", "架构师"),
        ("departed_unsettled_share", "招聘专员"), ("base_outside_band", SALES), ("base_outside_band", RND)}
    assert october[("base_outside_band", HR)] == (D("0.0000"), D(0), D(4), F)
    assert october[("deduction_mismatch", "all")] == (D("0.0000"), D(0), D(1), F)
    assert trend == {
        "maternity_return_attrition": [("2026-10", D("0.4286")), ("2026-11", D("0.3750"))],
        "company_attrition": [("2026-10", D("0.3636")), ("2026-11", D("0.3333"))],
        "undeducted_rate": [("2026-10", D("0.3367")), ("2026-11", D("0.3367"))],
        "departed_unsettled_share": [("2026-10", D("0.3750")), ("2026-11", D("0.4286"))],
    }
    with session_factory() as s:
        assert report.trend(s, "2026-10")["company_attrition"] == [("2026-10", D("0.3636"))]
        assert [r.month for r in report.runs(s)] == ["2026-11", "2026-10"]


def test_recomputing_replaces_the_month(seeded, compute, session_factory) -> None:
    compute("2026-11")
    with session_factory.begin() as s:  # S1's advances recovered after all
        s.execute(update(Receivable).where(Receivable.employee_id == "S1")
                  .values(settled=Receivable.amount, status="settled"))
    later = COMPUTED_AT + dt.timedelta(days=3)
    result = compute("2026-11", ReportThresholds(attrition_ratio_alert=D("3"), undeducted_rate_alert=D("0.60")),
                     at=later)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(ReportRun)) == 1
        assert s.scalar(select(func.count()).select_from(ReportFigure)) == len(NOVEMBER)
        stored = report.load(s, "2026-11")
    table = _table(stored.figures)
    assert stored.computed_at == later and stored.thresholds["undeducted_rate_alert"] == "0.60"
    assert table[("undeducted_rate", SALES)] == (D("0.0000"), D("0.00"), D("6318.00"), F)
    # 2159/15795 = 0.13669: S1's 3159 no longer open
    assert table[("undeducted_rate", "all")] == (D("0.1367"), D("2159.00"), D("15795.00"), F)
    # Sales returners at exactly 3x the company's 1/3 still alert (the bound is inclusive and exact).
    assert table[("maternity_return_attrition", SALES)][3] is True
    alerted = {(a.metric, a.dimension) for a in result.alerts}
    assert ("undeducted_rate", HR) in alerted and ("undeducted_rate", SALES) not in alerted
    # S1 owes nothing any more: 销售顾问 leavers 0 of 2
    assert table[("departed_unsettled_share", "销售顾问")] == (D("0.0000"), D(0), D(2), F)
    assert ("departed_unsettled_share", "销售顾问") not in alerted


def test_an_empty_company_has_company_rows_and_no_alerts(compute, session_factory) -> None:
    result = compute("2026-11")
    with session_factory() as s:
        table = _table(report.load(s, "2026-11").figures)
    assert result.alerts == [] and result.summary == "2026-11 月报：无预警 (Report 2026-11: no alerts)"
    assert table == {
        ("company_attrition", "all"): (None, D(0), D(0), F),
        ("maternity_return_attrition", "all"): (None, D(0), D(0), F),
        ("undeducted_rate", "all"): (None, D(0), D(0), F),
        ("departed_unsettled_share", "all"): (None, D(0), D(0), F),
        **{("receivable_ageing", b): (D(0), D(0), None, F) for b in ("0-30", "31-90", "91-180", "181+")},
        ("base_outside_band", "all"): (None, D(0), D(0), F),
        ("deduction_mismatch", "all"): (None, D(0), D(0), F),
        ("transfers_filed", "all"): (D(0), D(0), None, F),
        **{("waiting_on_policy", k): (D(0), D(0), None, F)
           for k in ("enrollment_by_hand", "provincial_extension_unconfirmed", "policy_lapse")},
    }


@pytest.mark.parametrize(("month", "start", "end", "window"), [
    ("2026-11", dt.date(2026, 11, 1), dt.date(2026, 11, 30), dt.date(2025, 12, 1)),
    ("2026-12", dt.date(2026, 12, 1), dt.date(2026, 12, 31), dt.date(2026, 1, 1)),
    ("2028-02", dt.date(2028, 2, 1), dt.date(2028, 2, 29), dt.date(2027, 3, 1)),
])
def test_period(month: str, start: dt.date, end: dt.date, window: dt.date) -> None:
    p = Period.of(month)
    assert (p.start, p.end, p.window_start) == (start, end, window)


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-11", "2026-00", ""])
def test_period_refuses_what_is_not_a_month(month: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        Period.of(month)


def test_previous_month_is_taken_in_china_time() -> None:
    utc = dt.UTC
    assert previous_month(dt.datetime(2026, 11, 30, 15, 59, tzinfo=utc)) == "2026-10"  # 23:59 in Beijing
    assert previous_month(dt.datetime(2026, 11, 30, 16, 0, tzinfo=utc)) == "2026-11"  # Dec 1 00:00 in Beijing
    assert previous_month(dt.datetime(2027, 1, 1, 1, 0, tzinfo=utc)) == "2026-12"


def test_thresholds_from_settings(settings) -> None:
    assert ReportThresholds.from_settings(settings) == ReportThresholds()
    custom = settings.model_copy(update={"report_undeducted_rate_alert": D("0.08")})
    assert ReportThresholds.from_settings(custom).undeducted_rate_alert == D("0.08")


def test_work_waiting_on_a_missing_figure_is_listed_and_alerted(seeded, compute, session_factory) -> None:
    """A maternity leave counted on national days only and a lapse HR admins must enter: the report
    lists them per kind until someone acts, in Chinese first."""
    from db.models import ApprovalTask, Case
    from db.reminders import POLICY_WATCH

    leave, at = "maternity-leave-H5-2", COMPUTED_AT
    with session_factory.begin() as s:
        s.add_all([Case(workflow_id=leave, kind="maternity", employee_id="H5", stage="approved", opened_at=at),
                   Case(workflow_id=POLICY_WATCH, kind="policy_watch", employee_id=None, stage="watching",
                        opened_at=at)])
        s.flush()
        s.add_all([ApprovalTask(workflow_id=leave, task_key="confirm-provincial-extension-o9", title="确认",
                                role="hr_specialist", created_at=at, by_hand=True),
                   ApprovalTask(workflow_id=POLICY_WATCH, task_key="lapse-contribution_base:shanghai:2026-07-01",
                                title="录入", role="admin", created_at=at, by_hand=True),
                   ApprovalTask(workflow_id=POLICY_WATCH, task_key="lapse-holiday_arrangement:national:2027-01-01",
                                title="录入", role="admin", created_at=at, by_hand=True, status="cancelled")])
    result = compute("2026-11")
    table = _table(result_figures(session_factory))
    assert table[("waiting_on_policy", "provincial_extension_unconfirmed")] == (D(1), D(1), None, T)
    assert table[("waiting_on_policy", "policy_lapse")] == (D(1), D(1), None, T)  # the cancelled one is not waiting
    assert table[("waiting_on_policy", "enrollment_by_hand")] == (D(0), D(0), None, F)
    waiting = [(a.message, a.message_en) for a in result.alerts if a.metric == "waiting_on_policy"]
    assert len(waiting) == 2 and all(zh.startswith("1 ") and en.startswith("1 ") for zh, en in waiting)
    assert any("产假" in zh for zh, _ in waiting) and any("政策数据" in zh for zh, _ in waiting)
    assert any("provincial extension" in en for _, en in waiting)
    with session_factory() as s:  # the open lapse task is the one behind its figure, the cancelled one is not
        total, _, members = report_members.load(s, "2026-11", "waiting_on_policy", "policy_lapse", 10)
    assert total == 1 and members[0].workflow_id == POLICY_WATCH and members[0].facts["task"].startswith("lapse-")


def result_figures(session_factory) -> list[report.Figure]:
    with session_factory() as s:
        stored = report.load(s, "2026-11")
    assert stored is not None
    return stored.figures
