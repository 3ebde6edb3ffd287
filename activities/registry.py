"""Every activity the worker registers, built with its dependencies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from activities.cases import CaseActivities


def all_activities(session_factory: sessionmaker[Session]) -> list[Callable[..., Any]]:
    return [*CaseActivities(session_factory).all()]
