"""The simulated agency's records live in hrflow's database, so they hold no ID number: a person is
her pseudonym (the blind index of her number), a claim keeps no child's birth date, and records
kept before are rewritten by ``hrflow migrate``'s backfill, the agency still knowing who is insured."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import text

from db.blind_index import digest
from db.sealed_fields import PLAIN_LEFT, SealingUnavailable
from db.session import make_session_factory
from integrations.si_agency import (
    AgencyRejected,
    AgencySubmission,
    AllowanceClaim,
    BaseDeclaration,
    DeclaredBase,
    SimulatedAgency,
    pseudonymise_records,
)
from tests.conftest import TEST_BLIND_INDEX_KEY

KEY = base64.b64decode(TEST_BLIND_INDEX_KEY)
HERS, OTHER = "11010519491231002X", "360426199101010071"


def _enrol(agency: SimulatedAgency, reference: str, employee_id: str, number: str, kind: str = "enrollment") -> None:
    agency.submit(AgencySubmission(reference=reference, employee_id=employee_id, resident_id_number=number,
                                   city="beijing", kind=kind, base="10000.00", months=[], effective_month="2026-01"))


def _records(engine) -> list[str]:
    with engine.connect() as conn:
        return [json.dumps(p, ensure_ascii=False) for p in conn.scalars(
            text("SELECT payload FROM sim_agency_requests ORDER BY reference"))]


def test_no_record_holds_her_number_and_the_agency_still_knows_her(engine, session_factory) -> None:
    agency = SimulatedAgency(session_factory)
    _enrol(agency, "wf-1:enrol", "E1", HERS)
    with pytest.raises(AgencyRejected) as refused:  # the same person under another employee number
        _enrol(agency, "wf-2:enrol", "E9", HERS.lower())
    assert refused.value.code == "already_enrolled"
    _enrol(agency, "wf-3:enrol", "E2", OTHER)  # someone else is not her
    agency.claim_allowance(AllowanceClaim(reference="wf-4:claim", employee_id="E1", resident_id_number=HERS,
                                          city="beijing", birth_date="2026-03-08", leave_days=158,
                                          expected_amount="25000.00"))
    receipt = agency.declare_bases(BaseDeclaration(reference="wf-5:p1", city="beijing", effective_month="2026-07", lines=[
        DeclaredBase(employee_id="E1", resident_id_number=HERS, base="12000.00", back_pay_months=[]),
        DeclaredBase(employee_id="E7", resident_id_number="110101199003070011", base="9000.00", back_pay_months=[])]))
    assert set(receipt.refused) == {"E7"}  # insured here: her, by pseudonym; E7 is not

    records = _records(engine)
    assert len(records) == 5
    for record in records:
        assert HERS not in record and HERS.lower() not in record and OTHER not in record
        assert "resident_id_number" not in record and "2026-03-08" not in record
    assert sum(digest(KEY, HERS) in r for r in records) == 4  # enrolled, refused, claimed, declared
    with engine.connect() as conn:
        assert not conn.scalar(text(PLAIN_LEFT))


def test_records_kept_before_are_rewritten_once(engine, session_factory) -> None:
    legacy = [("old:enrol", "submit", {"city": "beijing", "kind": "enrollment", "effective_month": "2020-01",
                                       "employee_id": "E1", "resident_id_number": HERS}),
              ("old:claim", "allowance_claim", {"employee_id": "E1", "resident_id_number": HERS,
                                                "birth_date": "2021-05-01", "city": "beijing"}),
              ("old:p1", "declare_bases", {"city": "beijing", "refused": {}, "lines": [
                  {"employee_id": "E1", "resident_id_number": HERS, "base": "9000.00"}]})]
    with engine.begin() as conn:
        for reference, operation, payload in legacy:
            conn.execute(text("INSERT INTO sim_agency_requests (reference, operation, payload, outcome, number)"
                              " VALUES (:r, :o, CAST(:p AS jsonb), 'accepted', :r)"),
                         {"r": reference, "o": operation, "p": json.dumps(payload)})
    with engine.connect() as conn:
        assert conn.scalar(text(PLAIN_LEFT))  # migrate knows it needs the key

    assert pseudonymise_records(session_factory, batch=2) == 3
    assert pseudonymise_records(session_factory) == 0
    records = _records(engine)
    assert all(HERS not in r and "2021-05-01" not in r for r in records)
    assert all(digest(KEY, HERS) in r for r in records)
    with engine.connect() as conn:
        assert not conn.scalar(text(PLAIN_LEFT))
    with pytest.raises(AgencyRejected) as refused:  # her old enrollment still counts
        _enrol(SimulatedAgency(session_factory), "new:enrol", "E1", HERS)
    assert refused.value.code == "already_enrolled"


def test_migrate_rewrites_them_and_asks_for_the_key_only_then(settings, engine) -> None:
    from hrflow.cli import seal_plain_personal_data_at
    from hrflow.settings import ConfigurationError

    keyless = settings.model_copy(update={"blind_index_key": None})
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sim_agency_requests (reference, operation, payload, outcome, number)"
                          " VALUES ('old:enrol', 'submit', CAST(:p AS jsonb), 'accepted', 'SB1')"),
                     {"p": json.dumps({"city": "beijing", "kind": "enrollment", "effective_month": "2020-01",
                                       "employee_id": "E1", "resident_id_number": HERS})})
    with pytest.raises(ConfigurationError, match="HRFLOW_BLIND_INDEX_KEY"):
        seal_plain_personal_data_at(keyless, settings.migration_sqlalchemy_url)
    assert seal_plain_personal_data_at(settings, settings.migration_sqlalchemy_url) == 1
    assert seal_plain_personal_data_at(keyless, settings.migration_sqlalchemy_url) == 0  # nothing left: no key needed
    [record] = _records(engine)
    assert HERS not in record and digest(KEY, HERS) in record


def test_without_the_blind_index_key_the_agency_records_nothing(engine) -> None:
    agency = SimulatedAgency(make_session_factory(engine))
    with pytest.raises(SealingUnavailable, match="HRFLOW_BLIND_INDEX_KEY"):
        _enrol(agency, "wf-1:enrol", "E1", HERS)
    assert _records(engine) == []
