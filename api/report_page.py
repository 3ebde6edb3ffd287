"""The monthly report as one self-contained HTML page for an HR director's browser.

Jinja2 (autoescaped) fills ``templates/report_monthly.html`` with the alerts, the charts
(``api.report_charts``: trends over the last stored months, bars for the month) and the figures
behind them. The page loads nothing: no script, no stylesheet, no font, no image from anywhere, and
its Content-Security-Policy says so to the browser as well.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api import report_charts as charts
from db.report import AGE_BUCKETS, ALL, Figure, StoredReport
from db.report_members import LISTINGS, Member

CHINA = dt.timezone(dt.timedelta(hours=8))
# Inline SVG carries <style> elements, hence 'unsafe-inline' for styles; nothing else is allowed.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

# metric -> (label, what its dimension is, how its value reads), from ``report_metrics.yaml``
METRICS: dict[str, tuple[str, str, str]] = {
    metric: (said["label"], said["dimension"], said["reads"])
    for metric, said in yaml.safe_load(resources.files("api").joinpath("report_metrics.yaml").read_text("utf-8")).items()
}

_env = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                   autoescape=select_autoescape(default=True), undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Chart:
    id: str
    svg: str
    caption: str


@dataclass(frozen=True)
class Row:
    dimension: str  # as stored: the drill-down's key
    shown: str  # as a reader sees it (``all`` in words)
    value: str
    numerator: str
    denominator: str
    alert: bool


@dataclass(frozen=True)
class Group:
    metric: str
    label: str
    dimension_label: str
    figures: list[Row]


COMPANY = "全公司 company"
# the facts a member carries (``db.report_members``), in words
FACT_LABELS = {
    "left_on": "最后工作日 last day", "returned_on": "返岗日 returned on", "month": "所属月份 month",
    "booked_on": "入账日 booked on", "age_days": "账龄（天） age, days", "kind": "类别 kind", "city": "参保城市 city",
    "base": "缴费基数 base", "average_wage": "社平工资 average wage", "expected": "应为 expected",
    "origin": "转出地 from", "destination": "转入地 to", "stage": "阶段 stage", "days": "办理天数 days",
    "rejected_at": "驳回时间 rejected at", "task": "待办 task", "due_at": "到期 due",
}
# what a list of members is, by ``Listing.lists``
LISTED = {"denominator": "列出分母中的全部，“计入”的构成分子 (everyone the figure divides by; those counted make its numerator)",
          "numerator": "列出计入这个数字的全部 (everyone counted in the figure)"}


# the alert thresholds, in words
THRESHOLDS = {
    "attrition_ratio_alert": "返岗离职率预警倍数（相对公司离职率） return attrition alert, x the company's",
    "undeducted_rate_alert": "未扣回率预警线 undeducted rate alert", "departed_unsettled_alert":
    "离职未结清占比预警线 departed unsettled alert", "base_low_share": "缴费基数下限（社平工资倍数） base band, low",
    "base_high_share": "缴费基数上限（社平工资倍数） base band, high",
}


def dimension_shown(dimension: str) -> str:
    return COMPANY if dimension == ALL else dimension


def _shown(value: Decimal | None, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "rate":
        return f"{(value * 100).quantize(Decimal('0.01'))}%"
    if kind == "count":
        return f"{value.normalize():f}"
    return f"{value.quantize(Decimal('0.01') if kind == 'yuan' else Decimal('0.1'))}"


def _plain(value: Decimal | None) -> str:
    return "-" if value is None else f"{value.normalize():f}"


def groups(report: StoredReport) -> list[Group]:
    """The figures per metric, in the catalogue order above, for the tables under the charts."""
    by_metric: dict[str, list[Figure]] = {}
    for f in report.figures:
        by_metric.setdefault(f.metric, []).append(f)
    out = []
    for metric in [m for m in METRICS if m in by_metric] + sorted(set(by_metric) - set(METRICS)):
        label, dimension, kind = METRICS.get(metric, (metric, "dimension", "count"))
        out.append(Group(metric=metric, label=label, dimension_label=dimension or COMPANY,
                         figures=[Row(f.dimension, dimension_shown(f.dimension), _shown(f.value, kind), _plain(f.numerator),
                                      _plain(f.denominator), f.alert) for f in by_metric[metric]]))
    return out


def _of(report: StoredReport, metric: str) -> dict[str, Decimal | None]:
    return {f.dimension: f.value for f in report.figures if f.metric == metric and f.dimension != ALL}


def build_charts(report: StoredReport, trend: dict[str, list[tuple[str, Decimal | None]]]) -> list[Chart]:
    def limit(name: str) -> Decimal | None:
        value = report.thresholds.get(name)
        return None if value is None else Decimal(str(value))

    out = [
        Chart("trend-attrition", charts.trend_chart(
            "trend-attrition", "Attrition within a year of maternity return vs company",
            {"returned mothers": trend.get("maternity_return_attrition", []),
             "company": trend.get("company_attrition", [])}),
            "产假返岗员工一年内离职率与公司整体离职率，近12个已出报告的月份 · Returners' attrition against the"
            " company's, last 12 reported months"),
        Chart("trend-undeducted", charts.trend_chart(
            "trend-undeducted", "Advanced contributions due but not deducted",
            {"undeducted rate": trend.get("undeducted_rate", [])}, limit("undeducted_rate_alert")),
            "垫付社保到期未扣回率 · Share of advances due for recovery still open, last 12 reported months"),
        Chart("trend-departed", charts.trend_chart(
            "trend-departed", "Departed employees with money unsettled",
            {"departed unsettled": trend.get("departed_unsettled_share", [])}, limit("departed_unsettled_alert")),
            "离职员工未结清占比 · Share of leavers with money unsettled, last 12 reported months"),
    ]
    attrition, undeducted, band = (_of(report, m) for m in
                                   ("maternity_return_attrition", "undeducted_rate", "base_outside_band"))
    departments = sorted(set(attrition) | set(undeducted) | set(band))
    out.append(Chart("bars-departments", charts.bar_chart(
        "bars-departments", f"Per department, {report.month}", departments,
        {"return attrition": [attrition.get(d) for d in departments],
         "undeducted rate": [undeducted.get(d) for d in departments],
         "bases outside band": [band.get(d) for d in departments]}, percent=True),
        f"{report.month} 各部门：返岗离职率、未扣回率、基数超区间占比 · Per department: return attrition,"
        " undeducted rate, share of bases outside the band"))
    departed = _of(report, "departed_unsettled_share")
    positions = sorted(departed)
    out.append(Chart("bars-positions", charts.bar_chart(
        "bars-positions", f"Departed with money unsettled per position, {report.month}", positions,
        {"departed unsettled": [departed.get(p) for p in positions]}, percent=True),
        f"{report.month} 各岗位离职未结清占比 · Share of leavers with money unsettled, per position"))
    ageing = _of(report, "receivable_ageing")
    buckets = [label for label, _, _ in AGE_BUCKETS]
    out.append(Chart("bars-ageing", charts.bar_chart(
        "bars-ageing", f"Open receivables by age (days), {report.month}", buckets,
        {"yuan open": [ageing.get(b) for b in buckets]}, percent=False),
        f"{report.month} 应收未结清金额（元）按账龄 · Yuan still open by days since booked"))
    return out


def _computed(at: dt.datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def render(report: StoredReport, trend: dict[str, list[tuple[str, Decimal | None]]]) -> str:
    return _env.get_template("report_monthly.html").render(
        report=report, computed_at=_computed(report.computed_at), charts=build_charts(report, trend),
        groups=groups(report), thresholds=THRESHOLDS, drill=LISTINGS, csp=CSP)


def render_members(report: StoredReport, metric: str, dimension: str, listed: str, total: int, counted: int,
                   members: list[Member]) -> str:
    """The page of one figure's members: who, which case, what money, what facts; each case links
    to its page in the web app."""
    label, dimension_label, kind = METRICS.get(metric, (metric, "", "count"))
    figure = next((f for f in report.figures if f.metric == metric and f.dimension == dimension), None)
    row = None if figure is None else Row(figure.dimension, dimension_shown(figure.dimension),
                                          _shown(figure.value, kind), _plain(figure.numerator),
                                          _plain(figure.denominator), figure.alert)
    return _env.get_template("report_members.html").render(
        report=report, computed_at=_computed(report.computed_at), label=label,
        dimension_label=dimension_label or COMPANY, dimension=dimension_shown(dimension), figure=row,
        listed=LISTED[listed], total=total, counted=counted, members=members, facts=FACT_LABELS, csp=CSP)
