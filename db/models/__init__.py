"""The tables, one module per concept; importing this package registers every one on ``Base.metadata``.

Money columns are ``Numeric(12, 2)`` in yuan; times are ``timestamptz``. Relationships are not
declared: queries say what they join, so nothing loads lazily behind a caller's back. Callers import
from here (``from db.models import Case``), never from the modules, so a table can move between them.
"""

from __future__ import annotations

from db.base import Base
from db.models.access_log import ACCESS_KINDS, PersonalDataAccess
from db.models.action_links import ActionLink, SignInBinding
from db.models.approval_routes import ApprovalRouteVersion
from db.models.audit import AuditChainHead, AuditEvent, AuditSeal
from db.models.base_adjustment import LINE_STATES, BaseAdjustment, BaseAdjustmentLine, BaseAdjustmentWage
from db.models.case_ids import CaseRequest, CaseSequence
from db.models.cases import ApprovalTask, Case
from db.models.columns import Money
from db.models.delegations import Delegation
from db.models.employees import Employee, EmploymentEventRow
from db.models.ledger import CLAIM_METHODS, Receivable, ReceivableClaim, Settlement
from db.models.notifications import Delivery, DeliveryAttempt, Notification, NotificationRead
from db.models.offboarding import ClearanceItem, EmployeeRecord, NonCompetePayment
from db.models.organisation import UNIT_KINDS, ManagerAssignment, OrgUnit
from db.models.person_keys import PersonKey
from db.models.policy_notices import PolicyNotice
from db.models.reminders import CaseDeadline, StaffMember
from db.models.reports import ReportFigure, ReportMember, ReportRun
from db.models.social_insurance import SiChange, SiEnrollment, SimAgencyRequest
from db.models.steps import ActivityStep
from db.models.transfer import Transfer, TransferBranch, TransferMaterial, TransferReview

__all__ = [
    "ACCESS_KINDS",
    "CLAIM_METHODS",
    "LINE_STATES",
    "UNIT_KINDS",
    "ActionLink",
    "ActivityStep",
    "ApprovalRouteVersion",
    "ApprovalTask",
    "AuditChainHead",
    "AuditEvent",
    "AuditSeal",
    "Base",
    "BaseAdjustment",
    "BaseAdjustmentLine",
    "BaseAdjustmentWage",
    "Case",
    "CaseDeadline",
    "CaseRequest",
    "CaseSequence",
    "ClearanceItem",
    "Delegation",
    "Delivery",
    "DeliveryAttempt",
    "Employee",
    "EmployeeRecord",
    "EmploymentEventRow",
    "ManagerAssignment",
    "Money",
    "NonCompetePayment",
    "Notification",
    "NotificationRead",
    "OrgUnit",
    "PersonKey",
    "PersonalDataAccess",
    "PolicyNotice",
    "Receivable",
    "ReceivableClaim",
    "ReportFigure",
    "ReportMember",
    "ReportRun",
    "Settlement",
    "SiChange",
    "SiEnrollment",
    "SignInBinding",
    "SimAgencyRequest",
    "StaffMember",
    "Transfer",
    "TransferBranch",
    "TransferMaterial",
    "TransferReview",
]
