"""The social-insurance agency (社保经办机构) gateway, and the simulated agency of the embedded default.

A real provincial adapter implements ``SocialInsuranceAgency``: ``submit`` and ``revoke`` are
idempotent on the caller's ``reference`` (workflow id + step), which the adapter must pass to the
agency as its client reference. The simulation keeps its own records in PostgreSQL, so it behaves
the same across worker restarts: it answers a repeated reference with its first answer, refuses
what a real agency refuses (a second active enrollment, a stop of nothing, a late revocation), and
takes latency, outages and rejections that tests and operators inject.

Its tables live in hrflow's database, where an ID number is only ever held sealed: the simulation
records a person by her pseudonym (``person``, the blind index of her ID number under
``HRFLOW_BLIND_INDEX_KEY``), never the number, and of an allowance claim not the child's birth
date, which none of its checks reads. ``pseudonymise_records`` rewrites records kept before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from db.canonical import to_jsonable
from db.models import SimAgencyRequest
from db.sealed_fields import SIM_RECORD_HOLDS_ID_NUMBER, digest_of
from db.session import unit_of_work

R = TypeVar("R")

PERSON = "person"  # the record's key for the pseudonym
ENROLS = ("enrollment", "back_payment")  # refused for a person already insured in the city
NEEDS_ENROLMENT = ("stop", "base_adjustment")  # refused for a person not insured there


class AgencyUnavailable(Exception):
    """The agency could not be reached or answered with a server error: try again later."""


class AgencyRejected(Exception):
    """The agency refused the request on its merits; retrying will not change the answer."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class AgencySubmission:
    reference: str  # idempotency key: workflow id + step
    employee_id: str
    resident_id_number: str
    city: str
    kind: str  # enrollment, back_payment, stop, base_adjustment
    base: str | None
    months: list[str]
    effective_month: str


@dataclass(frozen=True)
class AllowanceClaim:
    reference: str
    employee_id: str
    resident_id_number: str
    city: str
    birth_date: str
    leave_days: int
    expected_amount: str


@dataclass(frozen=True)
class DeclaredBase:
    """One line of a batch declaration of contribution bases (社保缴费基数申报)."""

    employee_id: str
    resident_id_number: str
    base: str  # yuan, to the fen, as text
    back_pay_months: list[str]  # the months the agency bills the difference for (补缴差额)


@dataclass(frozen=True)
class BaseDeclaration:
    reference: str  # idempotency key: batch, round and page
    city: str
    effective_month: str
    lines: list[DeclaredBase]


@dataclass(frozen=True)
class DeclarationReceipt:
    """The agency's answer to a batch declaration: accepted as a whole, less the lines it refused."""

    number: str
    received_at: dt.datetime
    refused: dict[str, tuple[str, str]]  # employee id -> (code, reason)


@dataclass(frozen=True)
class AgencyReceipt:
    number: str  # acceptance or revocation number issued by the agency
    received_at: dt.datetime


class SocialInsuranceAgency(Protocol):
    def submit(self, submission: AgencySubmission) -> AgencyReceipt: ...

    def revoke(self, reference: str, acceptance_no: str, reason: str) -> AgencyReceipt: ...

    def claim_allowance(self, claim: AllowanceClaim) -> AgencyReceipt: ...

    def declare_bases(self, declaration: BaseDeclaration) -> DeclarationReceipt: ...


@dataclass
class FaultPlan:
    """What the simulated agency does wrong next. Thread-safe; tests and ``hrflow dev`` set it."""

    latency_seconds: float = 0.0  # round trip: half before the agency records a request, half after
    outages: int = 0  # the next N calls fail as if the agency were down
    # employee id (or "employee@city") -> (code, reason) for the next submissions
    reject: dict[str, tuple[str, str]] = field(default_factory=dict)
    max_declaration_lines: int = 1000  # a batch declaration longer than this is refused whole
    revocation_window: dt.timedelta = dt.timedelta(days=30)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take_outage(self) -> bool:
        with self._lock:
            if self.outages > 0:
                self.outages -= 1
                return True
            return False


def _round_trip(call: Callable[..., R]) -> Callable[..., R]:
    """Latency on both legs, as on a real network: half before the agency records the request,
    half before its answer arrives. A caller that dies in the second half was accepted without
    hearing so, and must not be accepted twice when it asks again."""

    @functools.wraps(call)
    def travel(self: SimulatedAgency, *args: Any, **kwargs: Any) -> R:
        self._weather()
        receipt = call(self, *args, **kwargs)
        if self.faults.latency_seconds:
            time.sleep(self.faults.latency_seconds / 2)  # the answer on its way back
        return receipt

    return travel


class SimulatedAgency:
    """An honest stand-in for a provincial agency, backed by its own tables."""

    def __init__(self, session_factory: sessionmaker[Session], faults: FaultPlan | None = None,
                 clock: Any = None) -> None:
        self._sessions = session_factory
        self.faults = faults or FaultPlan()
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    # ---- the gateway ----
    @_round_trip
    def submit(self, submission: AgencySubmission) -> AgencyReceipt:
        def refusal(session: Session) -> tuple[str, str] | None:
            return (self.faults.reject.get(f"{submission.employee_id}@{submission.city}")
                    or self.faults.reject.get(submission.employee_id) or self._refusal(session, submission))

        return self._once(submission.reference, "submit", to_jsonable(submission.__dict__), refusal, prefix="SB")

    @_round_trip
    def revoke(self, reference: str, acceptance_no: str, reason: str) -> AgencyReceipt:
        def refusal(session: Session) -> tuple[str, str] | None:
            original = session.scalar(select(SimAgencyRequest).where(
                SimAgencyRequest.number == acceptance_no, SimAgencyRequest.outcome == "accepted"))
            if original is None:
                return ("unknown_acceptance", f"no accepted request {acceptance_no}")
            if self._clock() - original.received_at > self.faults.revocation_window:
                return ("revocation_window_closed",
                        (f"{acceptance_no} was accepted on {original.received_at:%Y-%m-%d};"
                         " the revocation window has closed, apply at the counter"))
            return None

        return self._once(reference, "revoke", {"acceptance_no": acceptance_no, "reason": reason}, refusal,
                          prefix="RV")

    @_round_trip
    def claim_allowance(self, claim: AllowanceClaim) -> AgencyReceipt:
        """A maternity allowance claim; the payment itself is reported later by finance."""
        return self._once(claim.reference, "allowance_claim", to_jsonable(claim.__dict__),
                          lambda _session: self.faults.reject.get(claim.employee_id), prefix="MA")

    @_round_trip
    def declare_bases(self, declaration: BaseDeclaration) -> DeclarationReceipt:
        """A page of new bases: refused whole when longer than the agency takes, else accepted less
        the lines it refuses (a person not insured here, an injected rejection). Idempotent on the
        reference: a repeat gets the first answer, refusals included."""
        if len(declaration.lines) > self.faults.max_declaration_lines:
            raise AgencyRejected("declaration_too_long", f"a declaration takes at most {self.faults.max_declaration_lines}"
                                 f" lines, this one has {len(declaration.lines)}")
        with unit_of_work(self._sessions) as session:
            earlier = session.scalar(select(SimAgencyRequest).where(
                SimAgencyRequest.reference == declaration.reference).with_for_update())
            if earlier is not None:
                earlier.attempts += 1
                assert earlier.number is not None
                return DeclarationReceipt(earlier.number, earlier.received_at,
                                          {k: (v[0], v[1]) for k, v in earlier.payload["refused"].items()})
            persons = {ln.employee_id: digest_of(session, ln.resident_id_number) for ln in declaration.lines}
            insured = self._insured(session, declaration.city, list(persons.values()))
            refused: dict[str, tuple[str, str]] = {}
            for ln in declaration.lines:
                injected = (self.faults.reject.get(f"{ln.employee_id}@{declaration.city}")
                            or self.faults.reject.get(ln.employee_id))
                if injected:
                    refused[ln.employee_id] = injected
                elif persons[ln.employee_id] not in insured:
                    refused[ln.employee_id] = ("not_enrolled", f"{declaration.city}: the person is not insured here")
            payload = {**to_jsonable(dataclasses.asdict(declaration)), "refused": {k: list(v) for k, v in refused.items()}}
            now = self._clock()
            number = f"BD{now:%Y%m%d}{hashlib.sha256(declaration.reference.encode()).hexdigest()[:10].upper()}"
            session.execute(insert(SimAgencyRequest).values(
                reference=declaration.reference, operation="declare_bases", payload=_kept(session, payload),
                outcome="accepted", number=number, received_at=now))
            return DeclarationReceipt(number, now, refused)

    def _insured(self, session: Session, city: str, persons: list[str]) -> set[str]:
        """Which of these people (pseudonyms) are insured in ``city``, from the accepted, unrevoked requests."""
        rows = session.scalars(select(SimAgencyRequest).where(
            SimAgencyRequest.operation == "submit", SimAgencyRequest.outcome == "accepted",
            SimAgencyRequest.payload["city"].astext == city,
            SimAgencyRequest.payload[PERSON].astext.in_(persons)))
        found = list(rows)
        revoked = set(session.scalars(select(SimAgencyRequest.payload["acceptance_no"].astext).where(
            SimAgencyRequest.operation == "revoke", SimAgencyRequest.outcome == "accepted",
            SimAgencyRequest.payload["acceptance_no"].astext.in_([r.number for r in found if r.number]))))
        by_person: dict[str, list[dict[str, Any]]] = {}
        for row in found:
            if row.number not in revoked:
                by_person.setdefault(row.payload[PERSON], []).append(row.payload)
        return {person for person, accepted in by_person.items() if _enrolled(accepted)}

    # ---- what a real agency checks ----
    def _refusal(self, session: Session, sub: AgencySubmission) -> tuple[str, str] | None:
        if sub.kind not in ENROLS + NEEDS_ENROLMENT:
            return None  # a transfer's filing: the destination office checks its materials, not her record here
        accepted = [
            r.payload for r in session.scalars(select(SimAgencyRequest).where(
                SimAgencyRequest.operation == "submit", SimAgencyRequest.outcome == "accepted",
                SimAgencyRequest.payload[PERSON].astext == digest_of(session, sub.resident_id_number),
                SimAgencyRequest.payload["city"].astext == sub.city))
            if not self._revoked(session, r.number)
        ]
        enrolled = _enrolled(accepted)
        if sub.kind in ENROLS and enrolled:
            return ("already_enrolled", f"{sub.city}: the person is already insured here")
        if sub.kind in NEEDS_ENROLMENT and not enrolled:
            return ("not_enrolled", f"{sub.city}: the person is not insured here")
        return None

    @staticmethod
    def _revoked(session: Session, number: str | None) -> bool:
        return session.scalar(select(SimAgencyRequest.reference).where(
            SimAgencyRequest.operation == "revoke", SimAgencyRequest.outcome == "accepted",
            SimAgencyRequest.payload["acceptance_no"].astext == number)) is not None

    # ---- plumbing ----
    def _weather(self) -> None:
        if self.faults.latency_seconds:
            time.sleep(self.faults.latency_seconds / 2)  # the request on its way
        if self.faults.take_outage():
            raise AgencyUnavailable("agency gateway answered 503 (simulated outage)")

    @staticmethod
    def _earlier(session: Session, reference: str) -> AgencyReceipt | None:
        row = session.scalar(select(SimAgencyRequest).where(SimAgencyRequest.reference == reference)
                             .with_for_update())
        if row is None:
            return None
        session.execute(update(SimAgencyRequest).where(SimAgencyRequest.reference == reference)
                        .values(attempts=SimAgencyRequest.attempts + 1))
        if row.outcome == "rejected":
            raise AgencyRejected(row.code or "rejected", row.reason or "rejected")
        assert row.number is not None
        return AgencyReceipt(row.number, row.received_at)

    def _once(self, reference: str, operation: str, payload: dict[str, Any],
              refusal_of: Callable[[Session], tuple[str, str] | None], *, prefix: str) -> AgencyReceipt:
        """Answer a request once: a reference seen before gets its first answer again (a retry after
        a lost reply), a new one is judged by ``refusal_of`` and remembered."""
        with unit_of_work(self._sessions) as session:
            earlier = self._earlier(session, reference)
            if earlier is not None:
                return earlier
            return self._answer(session, reference, operation, payload, refusal_of(session), prefix=prefix)

    def _answer(self, session: Session, reference: str, operation: str, payload: dict[str, Any],
                refusal: tuple[str, str] | None, *, prefix: str) -> AgencyReceipt:
        now = self._clock()
        digest = hashlib.sha256(reference.encode()).hexdigest()[:10].upper()
        number = None if refusal else f"{prefix}{now:%Y%m%d}{digest}"
        session.execute(insert(SimAgencyRequest).values(
            reference=reference, operation=operation, payload=_kept(session, payload),
            outcome="rejected" if refusal else "accepted", number=number,
            code=refusal[0] if refusal else None, reason=refusal[1] if refusal else None,
            received_at=now))
        if refusal:
            session.commit()  # the agency remembers its refusal, then answers with it
            raise AgencyRejected(*refusal)
        assert number is not None
        return AgencyReceipt(number, now)


def _kept(session: Session, record: dict[str, Any]) -> dict[str, Any]:
    """What the agency keeps of a request: all of it but the child's birth date, each person (at
    the top, or in a declaration's lines) by her pseudonym, the blind index of her ID number."""
    out = {k: v for k, v in record.items() if k not in ("resident_id_number", "birth_date")}
    if "resident_id_number" in record:
        out = {PERSON: digest_of(session, record["resident_id_number"]), **out}
    if isinstance(out.get("lines"), list):
        out["lines"] = [_kept(session, line) for line in out["lines"]]
    return out


def pseudonymise_records(sessions: sessionmaker[Session], batch: int = 1000) -> int:
    """``hrflow migrate``'s backfill: the records kept before pseudonyms, rewritten (the rows
    rewritten). Idempotent: a rewritten record holds no ID number."""
    total = 0
    while True:
        with sessions.begin() as session:
            rows = session.execute(select(SimAgencyRequest.reference, SimAgencyRequest.payload)
                                   .where(text(SIM_RECORD_HOLDS_ID_NUMBER)).order_by(SimAgencyRequest.reference)
                                   .limit(batch).with_for_update()).all()
            for reference, payload in rows:
                session.execute(update(SimAgencyRequest).where(SimAgencyRequest.reference == reference)
                                .values(payload=_kept(session, payload)))
        total += len(rows)
        if len(rows) < batch:
            return total


def _enrolled(accepted: list[dict[str, Any]]) -> bool:
    """Replay the accepted, unrevoked requests for one person and city in month order."""
    state = False
    for payload in sorted(accepted, key=lambda p: p["effective_month"]):
        if payload["kind"] in ENROLS:
            state = True
        elif payload["kind"] == "stop":
            state = False
    return state
