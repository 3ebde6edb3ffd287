"""The policy catalogue: statutory HR figures as versioned, sourced data, and pure queries on it.

The figures live in ``data/*.yaml`` (one file per province-level region plus ``national.yaml``),
so a changed contribution base is a data edit with a source, not a code change. Every answer
returns the figure together with the rule that produced it (source, validity, ``verified``), and
anything the catalogue cannot answer raises a ``PolicyError`` naming what is missing. Cases pin
what they use at their start (``pin_*``) and never read the catalogue again.
"""

from domain.policy.catalogue import Catalogue, load_catalogue
from domain.policy.check import Problem, check_catalogue
from domain.policy.contributions import (
    ContributionLimits,
    ContributionRates,
    EmployeeDeduction,
    check_base,
    contribution_limits,
    contribution_rates,
    employee_deduction,
    housing_fund_rates,
)
from domain.policy.deadlines import Deadline, deadline, deadline_rules, max_wage_deduction, non_compete_compensation
from domain.policy.errors import (
    BaseOutOfRange,
    CatalogueError,
    MissingFact,
    MissingFigure,
    NoRuleInForce,
    NotTransferable,
    PolicyError,
    UnknownRegion,
    UnknownRule,
)
from domain.policy.maternity import (
    BirthFacts,
    LeaveEntitlement,
    MaternityAllowance,
    leave_entitlement,
    maternity_allowance,
    paternity_leave,
)
from domain.policy.pinning import (
    ContributionSnapshot,
    MaternitySnapshot,
    OffboardingSnapshot,
    PolicySnapshot,
    SiChangeSnapshot,
    TransferSnapshot,
    pin_contribution,
    pin_maternity,
    pin_offboarding,
    pin_si_change,
    pin_transfer,
    policy_version,
)
from domain.policy.transfers import TransferRequirements, transfer_requirements

__all__ = [
    "BaseOutOfRange", "BirthFacts", "Catalogue", "CatalogueError", "ContributionLimits", "ContributionRates",
    "ContributionSnapshot", "Deadline", "EmployeeDeduction", "LeaveEntitlement", "MaternityAllowance",
    "MaternitySnapshot", "MissingFact", "MissingFigure", "NoRuleInForce", "NotTransferable", "OffboardingSnapshot",
    "PolicyError", "PolicySnapshot", "Problem", "SiChangeSnapshot", "TransferRequirements", "TransferSnapshot",
    "UnknownRegion", "UnknownRule", "check_base", "check_catalogue", "contribution_limits", "contribution_rates",
    "deadline", "deadline_rules", "employee_deduction", "housing_fund_rates", "leave_entitlement", "load_catalogue",
    "maternity_allowance", "max_wage_deduction", "non_compete_compensation", "paternity_leave", "pin_contribution",
    "pin_maternity", "pin_offboarding", "pin_si_change", "pin_transfer", "policy_version", "transfer_requirements",
]
