"""The transfer statistics drawn as charts (inline SVG, by ``api.report_charts``), in the reader's words.

Each chart has its table beside it on the page: the table is what a screen reader and a keyboard
use, and where each figure links to the cases behind it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api import report_charts
from api.web.texts import Texts


def draw(stats: dict[str, Any], t: Texts) -> dict[str, str]:
    """One SVG per figure that has something to show, keyed by the figure's name."""
    charts: dict[str, str] = {}
    count = t("app.transfers_count")
    if stats["per_month"]:
        charts["per_month"] = report_charts.bar_chart(
            "per-month", t("app.per_month"), [m["month"] for m in stats["per_month"]],
            {count: [Decimal(m["transfers"]) for m in stats["per_month"]]}, percent=False)
    for name in ("by_origin", "by_destination"):
        if stats[name]:
            charts[name] = report_charts.bar_chart(
                name.replace("_", "-"), t(f"app.{name}"), [p["province"] for p in stats[name]],
                {count: [Decimal(p["transfers"]) for p in stats[name]]}, percent=False)
    if stats["processing_days"]:
        rows = stats["processing_days"]
        charts["processing_days"] = report_charts.bar_chart(
            "processing-days", t("app.processing_days"), [t.option(r["kind"]) for r in rows],
            {t("app.average_days"): [Decimal(str(r["average_days"])) for r in rows],
             t("app.p90_days"): [Decimal(str(r["p90_days"])) for r in rows]}, percent=False)
    if stats["rejection_reasons"]:
        rows = stats["rejection_reasons"]
        charts["rejection_reasons"] = report_charts.bar_chart(
            "rejection-reasons", t("app.rejection_reasons"), [t.option(r["reason_code"]) for r in rows],
            {count: [Decimal(r["rejections"]) for r in rows]}, percent=False)
    return charts
