"""Every activity the worker registers, built with its dependencies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from activities.approval import ApprovalActivities
from activities.audit import AuditActivities
from activities.base_adjustment import BaseAdjustmentActivities
from activities.cases import CaseActivities
from activities.employment import EmploymentActivities
from activities.erasure import ErasureActivities
from activities.maternity import MaternityActivities
from activities.non_compete import NonCompeteActivities
from activities.offboarding import OffboardingActivities
from activities.outbox import NoticeActivities
from activities.reminders import ReminderActivities
from activities.report import ReportActivities
from activities.si_change import SocialInsuranceActivities
from activities.transfer import TransferActivities
from db.audit_anchors import AnchorStore
from db.reminders import SweepPolicy
from db.report import ReportThresholds
from integrations.si_agency import SocialInsuranceAgency

DEFAULT_SWEEP_POLICY = SweepPolicy()
DEFAULT_REPORT_THRESHOLDS = ReportThresholds()


def all_activities(session_factory: sessionmaker[Session], agency: SocialInsuranceAgency, *,
                   sweep_policy: SweepPolicy = DEFAULT_SWEEP_POLICY, sweep_batch: int = 200,
                   report_thresholds: ReportThresholds = DEFAULT_REPORT_THRESHOLDS,
                   anchors: AnchorStore | None = None) -> list[Callable[..., Any]]:
    return [
        *CaseActivities(session_factory).all(),
        *ApprovalActivities(session_factory).all(),
        *NoticeActivities(session_factory).all(),
        *EmploymentActivities(session_factory).all(),
        *SocialInsuranceActivities(session_factory, agency).all(),
        *BaseAdjustmentActivities(session_factory, agency).all(),
        *MaternityActivities(session_factory, agency).all(),
        *OffboardingActivities(session_factory, agency).all(),
        *NonCompeteActivities(session_factory).all(),
        *TransferActivities(session_factory, agency).all(),
        *ReminderActivities(session_factory, sweep_policy, sweep_batch).all(),
        *ReportActivities(session_factory, report_thresholds).all(),
        *AuditActivities(session_factory, anchors).all(),
        *ErasureActivities(session_factory).all(),
    ]
