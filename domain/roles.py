"""Who may act: the roles a bearer token carries, and what each is for."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    EMPLOYEE = "employee"  # self-service: own cases only
    HR_SPECIALIST = "hr_specialist"  # files and prepares cases (the maker)
    HR_MANAGER = "hr_manager"  # approves (the checker), accepts withdrawals
    FINANCE = "finance"  # receivables, deductions, settlements
    COMPLIANCE = "compliance"  # disputes, violations, audit trail
    IT = "it"  # access and equipment
    ADMIN = "admin"  # operators: audit verification, payload decoding


STAFF: frozenset[Role] = frozenset(Role) - {Role.EMPLOYEE}
HR: frozenset[Role] = frozenset({Role.HR_SPECIALIST, Role.HR_MANAGER})


def role_address(role: str, level: int = 1) -> str:
    """How a notification addresses one level of a role: ``finance`` (level 1), ``finance/2``
    (its second level, where overdue work escalates)."""
    return role if level <= 1 else f"{role}/{level}"


def parse_role_address(address: str) -> tuple[str, int]:
    role, _, level = address.partition("/")
    return role, int(level) if level.isascii() and level.isdigit() else 1
