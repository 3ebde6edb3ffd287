"""Fixtures of the report tests: the hand-seeded company, computing a month, the app."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from fastapi import FastAPI

from activities.report import ReportActivities
from api.app import create_app
from db.report import ReportThresholds
from domain.contracts.report import ComputeMonth, MonthComputed
from tests.reports.seed import seed

COMPUTED_AT = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def seeded(session_factory) -> None:
    seed(session_factory)


@pytest.fixture
def compute(session_factory) -> Callable[..., MonthComputed]:
    """``compute("2026-11")`` runs the real activity (catalogue lookups included) outside Temporal."""

    def run(month: str, thresholds: ReportThresholds | None = None, at: dt.datetime = COMPUTED_AT) -> MonthComputed:
        acts = ReportActivities(session_factory, thresholds or ReportThresholds())
        return acts.compute_month(ComputeMonth(month=month, computed_at=at))

    return run


def report_app(settings, engine, codec, temporal) -> FastAPI:
    return create_app(settings, engine=engine, temporal=temporal, codec=codec)
