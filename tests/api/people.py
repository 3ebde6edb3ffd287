"""Two employees with a case, a transfer with a document, money owed and a notice each: what the
access log and export tests read, written straight into the tables (no workflow needs to run)."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from db.models import Case, Notification, Receivable, ReceivableClaim, Transfer, TransferMaterial
from tests.processes.support import add_employee

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
HER = {"employee_id": "E1001", "resident_id_number": "11010519491231002X", "name": "王芳"}
OTHER = {"employee_id": "E2002", "resident_id_number": "360426199101010071", "name": "赵雷"}


def case_id(person: dict[str, str]) -> str:
    return f"si-change-{person['employee_id']}-1"


def transfer_id(person: dict[str, str]) -> str:
    return f"transfer-{person['employee_id']}-1"


def seed(session_factory: sessionmaker[Session], people: tuple[dict[str, str], ...] = (HER, OTHER)) -> dict[str, int]:
    """Each person registered with an SI change case, a transfer holding her ID card scan, a
    receivable of 1234.56 with 200.00 recovered, and one notice; answers each one's material id."""
    materials: dict[str, int] = {}
    opened = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
    for p in people:
        add_employee(session_factory, p["employee_id"], resident_id_number=p["resident_id_number"], name=p["name"],
                     city="Guiyang", province="Guizhou")
        emp = p["employee_id"]
        with session_factory.begin() as s:
            s.add(Case(workflow_id=case_id(p), kind="si_change", employee_id=emp, stage="awaiting_approval",
                       opened_at=opened))
            s.add(Case(workflow_id=transfer_id(p), kind="transfer", employee_id=emp, stage="collecting_materials",
                       opened_at=opened))
            s.add(Transfer(workflow_id=transfer_id(p), employee_id=emp, department="Sales", origin_province="Guizhou",
                           origin_city="Guiyang", destination_province="Heilongjiang", destination_city="Harbin",
                           types=["pension"], reason="moved", applicant=emp, stage="collecting_materials",
                           created_at=opened, updated_at=opened))
            receivable = Receivable(employee_id=emp, workflow_id=f"maternity-{emp}-1", kind="maternity_advance",
                                    month="2026-10", amount=Decimal("1234.56"), booked_at=opened)
            s.add(receivable)
            s.flush()
            s.add(ReceivableClaim(receivable_id=receivable.id, method="payroll_deduction", amount=Decimal("200.00"),
                                  at=opened))
            s.add(Notification(dedupe_key=f"notice-{emp}", recipient_kind="employee", recipient=emp,
                               template="case_opened", params={}, workflow_id=case_id(p), created_at=opened))
            # Straight into the table: the upload's own checks are tests/transfers' to test.
            material = TransferMaterial(workflow_id=transfer_id(p), code="resident_id_card", filename="身份证.pdf",
                                        content_type="application/pdf", size=len(PDF),
                                        sha256=hashlib.sha256(PDF).hexdigest(), content=PDF, uploaded_by=emp)
            s.add(material)
            s.flush()
            materials[emp] = material.id
    return materials
