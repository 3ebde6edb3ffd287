"""The erasure case's database steps: the facts its legal check stands on, and the erasure.

The erasure destroys her keys (``db.person_keys``: every workflow payload of her cases becomes
unreadable, as do her sealed ID number, name, contact and uploaded documents, whose columns it also
empties) and overwrites her documents' file names, kept in the clear as display text. What the law
or the books still need stays: her employee number, dates, department, money lines and the audit
trail (whose personal fields were masked when written), so the chain still verifies and the
company's figures still add up.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from temporalio import activity

from activities.unit import DbActivities, audit_once, db_step
from db import ledger, sealed_fields
from db.models import Case, Employee, PersonKey, Transfer, TransferMaterial
from db.person_keys import destroy
from domain.contracts.erasure import ERASE, GATHER_FACTS, Erased, EraseRequest, FactsRequest
from domain.erasure import ErasureFacts

ERASED_NAME = sealed_fields.ERASED  # what stands where her name and her documents' names were
ERASED_COLUMNS = ["name", "resident_id_number", "email", "mobile"]


class ErasureActivities(DbActivities):
    @activity.defn(name=GATHER_FACTS.name)
    def facts(self, req: FactsRequest) -> ErasureFacts:
        with db_step(self._sessions) as session:
            employee = session.get(Employee, req.employee_id)
            if employee is None:
                return ErasureFacts(employee_id=req.employee_id, exists=False)
            open_cases = list(session.scalars(select(Case.workflow_id).where(
                Case.employee_id == req.employee_id, Case.status == "open", Case.kind != "erasure")
                .order_by(Case.id)))
            return ErasureFacts(
                employee_id=req.employee_id, exists=True, employment_status=employee.employment_status,
                departed_on=employee.leaving_on if employee.employment_status == "departed" else None,
                open_cases=open_cases, open_balance=ledger.outstanding(session, req.employee_id))

    @activity.defn(name=ERASE.name)
    def erase(self, req: EraseRequest) -> Erased:
        with db_step(self._sessions) as session:
            employee = session.get(Employee, req.employee_id, with_for_update=True)
            assert employee is not None, req.employee_id
            destroy(session, req.employee_id, by=req.workflow_id)
            sealed_fields.erase(employee)  # no sealed text, no plain text; a digest that is no number's
            her_transfers = select(Transfer.workflow_id).where(Transfer.employee_id == req.employee_id)
            session.execute(update(TransferMaterial).where(TransferMaterial.workflow_id.in_(her_transfers))
                            .values(content=b"", sealed_with=None, filename=ERASED_NAME, size=0))
            keys = session.scalar(select(func.count()).select_from(PersonKey).where(
                PersonKey.employee_id == req.employee_id, PersonKey.destroyed_at.is_not(None))) or 0
            documents = session.scalar(select(func.count()).select_from(TransferMaterial).where(
                TransferMaterial.workflow_id.in_(her_transfers))) or 0
            done = Erased(keys_destroyed=keys, documents_cleared=documents, columns=ERASED_COLUMNS)
            audit_once(session, "erased", req.approved_by, "employee.erased", workflow_id=req.workflow_id,
                       at=req.at, subject=req.employee_id, after=done.model_dump())
            return done

    def all(self) -> list[Any]:
        return [self.facts, self.erase]
