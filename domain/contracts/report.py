"""The monthly report: the figures computed for a month and the alerts past their thresholds.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from domain.contracts import ActivityRef


class Alert(BaseModel):
    """A figure past its threshold, as the report and its e-mail show it."""

    model_config = ConfigDict(frozen=True)
    metric: str
    dimension: str
    value: Decimal | None
    threshold: str
    message: str  # Chinese, for the report page, the e-mail and the Temporal UI
    message_en: str = ""  # the same in English (empty in reports stored before it existed)


class ComputeMonth(BaseModel):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    computed_at: dt.datetime  # the workflow's clock, so a retry stores the same run


class MonthComputed(BaseModel):
    month: str
    figures: int
    alerts: list[Alert]
    summary: str
    unchecked_cities: list[str] = Field(default_factory=list, description="cities the catalogue has no figures for")


# The activities, by the names recorded in every history.
COMPUTE_MONTH: ActivityRef[ComputeMonth, MonthComputed] = ActivityRef("report.compute_month", MonthComputed)
