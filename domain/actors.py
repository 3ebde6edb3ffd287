"""Who caused a change: a person through the API, or ``system`` for the workflow itself.

Every message to a workflow and every recorded step carries one, so the audit trail names the
person, her role and the request that did it.
"""

from __future__ import annotations

from pydantic import BaseModel


class Actor(BaseModel):
    """A person (login, role, employee number) and the request she sent; ``system`` by default."""

    user: str = "system"
    role: str = "system"
    request_id: str | None = None
    employee_id: str | None = None  # the person's own employee number, whatever their login
    on_behalf_of: str | None = None  # the delegator whose decision a delegate makes (api.routes.delegations)
    on_behalf_of_employee_id: str | None = None  # and the delegator's employee number, if she is one

    def is_employee(self, employee_id: str) -> bool:
        """Is this the person ``employee_id``? (A login and an employee number may differ.)"""
        return self.employee_id == employee_id or (self.employee_id is None and self.user == employee_id)

    def speaks_for(self, employee_id: str) -> bool:
        """Is this decision hers, made by her or by a delegate for her? (The subject of a case never
        decides on it, not through a delegate either.)"""
        return self.is_employee(employee_id) or (self.on_behalf_of_employee_id is not None
                                                  and self.on_behalf_of_employee_id == employee_id)

    def is_user(self, user: str) -> bool:
        """Is ``user`` the one deciding, herself or through a delegate?"""
        return self.user == user or self.on_behalf_of == user


SYSTEM = Actor()
