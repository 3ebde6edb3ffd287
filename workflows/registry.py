"""Every workflow class the worker registers. Process issues append theirs here."""

from __future__ import annotations

from workflows.audit_seal import AuditSealWorkflow
from workflows.base_adjustment import BaseAdjustmentPartWorkflow, BaseAdjustmentWorkflow
from workflows.erasure import ErasureWorkflow
from workflows.maternity import MaternityLeaveWorkflow
from workflows.monthly_report import MonthlyReportWorkflow
from workflows.non_compete import NonCompeteWorkflow
from workflows.offboarding import OffboardingWorkflow
from workflows.reminder_sweep import ReminderSweepWorkflow
from workflows.resignation import ResignationWorkflow
from workflows.si_change import SocialInsuranceChangeWorkflow
from workflows.transfer import CrossProvinceTransferWorkflow

ALL_WORKFLOWS: list[type] = [
    SocialInsuranceChangeWorkflow,
    BaseAdjustmentWorkflow,
    BaseAdjustmentPartWorkflow,
    MaternityLeaveWorkflow,
    OffboardingWorkflow,
    ResignationWorkflow,
    NonCompeteWorkflow,
    CrossProvinceTransferWorkflow,
    ReminderSweepWorkflow,
    MonthlyReportWorkflow,
    AuditSealWorkflow,
    ErasureWorkflow,
]
