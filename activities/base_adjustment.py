"""Activities of the annual base adjustment: compute every line, correct lines, plan the pages,
declare a page to the agency (with its back-payment), revoke a page (the compensation).

The lines live in ``base_adjustment_lines``; a workflow sees only counts, totals and page numbers.
Each write is one transaction keyed by the batch and its step (a page's declaration by round and
page), and the agency answers a repeated reference with its first answer, so a retry never
declares twice nor back-pays twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.unit import AgencyActivities, agency_refusals, append_audit, db_step
from db import audit, ledger
from db.models import ActivityStep, BaseAdjustmentLine, BaseAdjustmentWage, Case, Employee, Receivable, SiEnrollment
from db.sealed_fields import open_row
from db.steps import claim_step, record_result
from domain.actors import Actor
from domain.base_adjustment import (
    DECLARED,
    ZERO,
    Line,
    Outcome,
    Person,
    Totals,
    Wage,
    back_pay_months,
    compute_line,
    missing_rates,
    monthly_delta,
)
from domain.contracts import base_adjustment as contract
from domain.maternity import BASE_DIFFERENCE, ON_LEAVE_STATUS
from domain.policy.pinning import SiChangeSnapshot
from domain.refusals import Refusal
from integrations.si_agency import BaseDeclaration, DeclaredBase

AGENCY = Actor(user="agency")
# The states a maker may still change: not what the agency already holds.
CORRECTABLE = ("pending", "unchanged", "exception", "excluded", "refused")


class PageLine(NamedTuple):
    line: BaseAdjustmentLine
    id_number: str
    leaving: bool  # departed, or notice given, by now
    on_leave: bool  # on maternity leave by now


def refusal(field: str, rule: str, zh: str, en: str) -> ApplicationError:
    message = f"{zh} ({en})"
    return ApplicationError(message, {"field": field, "rule": rule, "message": message},
                            type=Refusal.VALIDATION_FAILED.type_name, non_retryable=True)


def first_day(month: str) -> dt.date:
    year, number = month.split("-")
    return dt.date(int(year), int(number), 1)


def state_of(line: Line) -> str:
    if line.outcome in DECLARED:
        return "pending"
    if line.outcome in (Outcome.UNCHANGED, Outcome.JOINED_THIS_YEAR):
        return "unchanged"
    return "exception"


def costed(old_base: Decimal | None, new_base: Decimal | None, policy: SiChangeSnapshot) -> dict[str, Any]:
    """A line's monthly cost change: per insurance, and the employee's and employer's totals."""
    if old_base is None or new_base is None or old_base == new_base:
        return {"cost": {}, "monthly_employee": ZERO, "monthly_employer": ZERO}
    delta = monthly_delta(old_base, new_base, policy.rates)
    cost = {ins: {"employee": str(delta.employee[ins]), "employer": str(delta.employer[ins])} for ins in delta.employee}
    return {"cost": cost, "monthly_employee": delta.employee_total, "monthly_employer": delta.employer_total}


def totals(session: Session, batch_id: str, policy: SiChangeSnapshot, effective_month: str,
           declare_on: dt.date) -> Totals:
    """The batch at a glance, from its lines: counts, and the cost of what the next declaration sends."""
    lines = BaseAdjustmentLine
    of_batch = lines.batch_id == batch_id
    by_outcome = dict(session.execute(select(lines.outcome, func.count()).where(of_batch).group_by(lines.outcome)).all())
    by_state = dict(session.execute(select(lines.state, func.count()).where(of_batch).group_by(lines.state)).all())
    undecided = session.scalar(select(func.count()).where(
        of_batch, lines.state == "exception", lines.outcome == Outcome.NO_WAGE.value)) or 0
    per_insurance = session.execute(text(
        "SELECT c.key, sum((c.value->>'employee')::numeric), sum((c.value->>'employer')::numeric)"
        " FROM base_adjustment_lines l, jsonb_each(l.cost) c"
        " WHERE l.batch_id = :batch AND l.state = 'pending' GROUP BY c.key ORDER BY c.key"), {"batch": batch_id}).all()
    employee = {key: Decimal(e).quantize(ZERO) for key, e, _ in per_insurance}
    employer = {key: Decimal(r).quantize(ZERO) for key, _, r in per_insurance}
    months = back_pay_months(first_day(effective_month), declare_on)
    monthly_employee, monthly_employer = sum(employee.values(), ZERO), sum(employer.values(), ZERO)
    declared = session.execute(select(func.coalesce(func.sum(lines.back_pay_employee), 0),
                                      func.coalesce(func.sum(lines.back_pay_employer), 0))
                               .where(of_batch, lines.state == "accepted")).one()
    return Totals(
        lines=sum(by_state.values()), by_outcome=by_outcome, by_state=by_state, pending=by_state.get("pending", 0),
        undecided=undecided, monthly_employee=employee, monthly_employer=employer,
        monthly_total=monthly_employee + monthly_employer, back_pay_months=months,
        back_pay_employee=monthly_employee * len(months), back_pay_employer=monthly_employer * len(months),
        back_pay_total=(monthly_employee + monthly_employer) * len(months),
        declared_back_pay_employee=Decimal(declared[0]).quantize(ZERO),
        declared_back_pay_employer=Decimal(declared[1]).quantize(ZERO), missing_rates=missing_rates(policy.rates))


class BaseAdjustmentActivities(AgencyActivities):
    @activity.defn(name=contract.COMPUTE.name)
    def compute(self, req: contract.Compute) -> Totals:
        """Every line of the batch: the city's insured employees and the payroll file's people, each
        clamped to the pinned limits or kept out with the rule that says why. Once per batch."""
        with db_step(self._sessions) as session:
            if claim_step(session, req.workflow_id, "compute").first_time:
                for rows in self._lines(session, req):
                    session.execute(insert(BaseAdjustmentLine), rows)
            return totals(session, req.workflow_id, req.policy, req.effective_month, req.declare_on)

    def _lines(self, session: Session, req: contract.Compute, chunk: int = 5000) -> Iterator[list[dict[str, Any]]]:
        """The lines in employee order, a chunk at a time: the city's people are streamed from the
        database, not held (a city of 100,000 is one transaction, not one list)."""
        wages_of = select(BaseAdjustmentWage.employee_id).where(BaseAdjustmentWage.batch_id == req.workflow_id)
        insured = select(SiEnrollment.employee_id).where(SiEnrollment.city == req.city, SiEnrollment.status == "active")
        people = session.execute(
            select(Employee.employee_id, Employee.hire_date, Employee.employment_status, Employee.leaving_on,
                   Employee.si_status, BaseAdjustmentWage.average_wage, BaseAdjustmentWage.months_worked,
                   SiEnrollment.base)
            .outerjoin(BaseAdjustmentWage, (BaseAdjustmentWage.employee_id == Employee.employee_id)
                       & (BaseAdjustmentWage.batch_id == req.workflow_id))
            .outerjoin(SiEnrollment, (SiEnrollment.employee_id == Employee.employee_id)
                       & (SiEnrollment.city == req.city) & (SiEnrollment.status == "active"))
            .where(Employee.employee_id.in_(wages_of) | Employee.employee_id.in_(insured))
            .order_by(Employee.employee_id).execution_options(yield_per=chunk))
        effective = first_day(req.effective_month)
        rows: list[dict[str, Any]] = []
        for seq, (employee_id, hired, status, leaving_on, si_status, average, months, base) in enumerate(people, 1):
            person = Person(employee_id=employee_id, hire_date=hired, employment_status=status, leaving_on=leaving_on,
                            old_base=base, on_maternity_leave=si_status == ON_LEAVE_STATUS)
            wage = Wage(average, months) if average is not None else None
            line = compute_line(person, wage, req.policy.limits, effective)
            rows.append({"batch_id": req.workflow_id, "seq": seq, "employee_id": employee_id,
                         "old_base": line.old_base, "new_base": line.new_base, "average_wage": line.average_wage,
                         "outcome": line.outcome.value, "flags": line.flags, "state": state_of(line),
                         "updated_at": req.at,
                         **costed(line.old_base, line.new_base if line.outcome in DECLARED else None, req.policy)})
            if len(rows) == chunk:
                yield rows
                rows = []
        if rows:
            yield rows

    @activity.defn(name=contract.COUNT.name)
    def count(self, req: contract.Count) -> Totals:
        with db_step(self._sessions) as session:
            return totals(session, req.workflow_id, req.policy, req.effective_month, req.declare_on)

    @activity.defn(name=contract.CORRECT.name)
    def correct(self, req: contract.Correct) -> Totals:
        """The maker's corrections, all or none: a base within the pinned limits, or a line excluded;
        each line's change audited with its reason."""
        with db_step(self._sessions) as session:
            if claim_step(session, req.workflow_id, req.step).first_time:
                entries = [self._correct_line(session, req, c) for c in req.corrections]
                audit.append_many(session, entries, at=req.at)
            return totals(session, req.workflow_id, req.policy, req.effective_month, req.declare_on)

    def _correct_line(self, session: Session, req: contract.Correct, c: contract.LineCorrection) -> audit.AuditEntry:
        line = session.scalar(select(BaseAdjustmentLine).where(
            BaseAdjustmentLine.batch_id == req.workflow_id, BaseAdjustmentLine.employee_id == c.employee_id)
            .with_for_update())
        if line is None:
            raise refusal("employee_id", "line_exists", f"本批次没有员工 {c.employee_id}",
                          f"employee {c.employee_id} has no line in this batch")
        if line.state not in CORRECTABLE:
            raise refusal("employee_id", "line_correctable", f"员工 {c.employee_id} 的基数已由经办机构受理（{line.state}），不能更正",
                          f"the line of {c.employee_id} is {line.state} at the agency and cannot be corrected")
        before = {"new_base": line.new_base, "outcome": line.outcome, "state": line.state}
        if c.exclude:
            line.state = "excluded"
        else:
            limits = req.policy.limits
            if c.base is None:
                raise refusal("base", "base_or_exclude", f"请为员工 {c.employee_id} 填写基数或选择排除",
                              f"give {c.employee_id} a base or exclude the line")
            if line.old_base is None or line.outcome == Outcome.DEPARTING.value:
                raise refusal("employee_id", "declarable", f"员工 {c.employee_id} 在本市没有在保记录或正在离职，只能排除",
                              f"{c.employee_id} is not insured in this city or is leaving: the line can only be excluded")
            if not limits.floor <= c.base <= limits.ceiling:
                raise refusal("base", "base_within_limits",
                              f"员工 {c.employee_id} 的基数 {c.base} 不在本市 {limits.floor}–{limits.ceiling} 元的范围内",
                              f"the base {c.base} of {c.employee_id} is outside {limits.floor}-{limits.ceiling}")
            line.new_base, line.outcome = c.base, Outcome.CORRECTED.value
            line.state = "unchanged" if c.base == line.old_base else "pending"
            line.refusal_code = line.refusal_reason = None
            for key, value in costed(line.old_base, c.base, req.policy).items():
                setattr(line, key, value)
        line.note, line.updated_at = req.reason, req.at
        return audit.AuditEntry(actor=req.actor.user, actor_role=req.actor.role, action="base_adjustment.line_corrected",
                                workflow_id=req.workflow_id, subject=c.employee_id, before=before,
                                after={"new_base": line.new_base, "outcome": line.outcome, "state": line.state,
                                       "reason": req.reason}, request_id=req.actor.request_id,
                                on_behalf_of=req.actor.on_behalf_of)

    @activity.defn(name=contract.PLAN.name)
    def plan(self, req: contract.Plan) -> list[contract.Part]:
        """The pending lines in sequence order, numbered into pages of this round, the pages
        grouped into parts (one child workflow each). The same lines always give the same plan."""
        with db_step(self._sessions) as session:
            session.execute(text(
                "UPDATE base_adjustment_lines l SET round = :round, page = s.page FROM ("
                " SELECT seq, (row_number() OVER (ORDER BY seq) - 1) / :size + 1 AS page"
                " FROM base_adjustment_lines WHERE batch_id = :batch AND state = 'pending') s"
                " WHERE l.batch_id = :batch AND l.seq = s.seq"),
                {"batch": req.workflow_id, "round": req.round, "size": req.page_size})
            pages = session.execute(select(BaseAdjustmentLine.page, func.count()).where(
                BaseAdjustmentLine.batch_id == req.workflow_id, BaseAdjustmentLine.state == "pending",
                BaseAdjustmentLine.round == req.round).group_by(BaseAdjustmentLine.page)
                .order_by(BaseAdjustmentLine.page)).all()
        numbered = [(int(page), n) for page, n in pages if page is not None]
        parts: list[contract.Part] = []
        for start in range(0, len(numbered), req.pages_per_part):
            chunk = numbered[start:start + req.pages_per_part]
            parts.append(contract.Part(number=len(parts) + 1, first_page=chunk[0][0], last_page=chunk[-1][0],
                                       lines=sum(n for _, n in chunk)))
        return parts

    @activity.defn(name=contract.DECLARE_PAGE.name)
    def declare_page(self, req: contract.DeclarePage) -> contract.PageResult:
        """One page to the agency as one declaration; the accepted lines change her enrollment's
        base and are back-paid the difference for the months already paid; the refused go back to
        the maker with the agency's reason. ``give_up``: the page's lines go back undeclared."""
        step = f"declare-r{req.round}-p{req.page}"
        with self._sessions() as session:
            done = session.scalar(select(ActivityStep.result).where(
                ActivityStep.workflow_id == req.batch_id, ActivityStep.step == step))
            if done is not None:  # recorded by an earlier try: the page is declared
                return contract.PageResult.model_validate(done)
            page = [pl for pl in self._page(session, req.batch_id, req.round, req.page, "pending") if not pl.leaving]
        refused: dict[str, tuple[str, str]] = {}
        number: str | None = None
        months = back_pay_months(first_day(req.effective_month), req.declared_on)
        if req.give_up is not None:
            refused = {pl.line.employee_id: (req.give_up_code, req.give_up) for pl in page}
        elif page:
            with agency_refusals("the agency refused the declaration", details=True):
                receipt = self._agency.declare_bases(BaseDeclaration(
                    reference=f"{req.batch_id}:r{req.round}:p{req.page}", city=req.city,
                    effective_month=req.effective_month,
                    lines=[DeclaredBase(employee_id=pl.line.employee_id, resident_id_number=pl.id_number,
                                        base=str(pl.line.new_base), back_pay_months=months) for pl in page]))
            number, refused = receipt.number, receipt.refused
        with db_step(self._sessions) as session:
            claim = claim_step(session, req.batch_id, step)
            if not claim.first_time:
                return contract.PageResult.model_validate(claim.result)
            result = self._record_page(session, req, number, refused, months)
            record_result(session, req.batch_id, step, result.model_dump(mode="json"))
            return result

    def _page(self, session: Session, batch_id: str, round_: int, page: int, state: str) -> list[PageLine]:
        """A page's lines in order, with what her record says now (she may have given notice, or
        gone on leave, since the batch was computed)."""
        rows = session.execute(
            select(BaseAdjustmentLine, Employee.resident_id_sealed, Employee.resident_id_plain,
                   Employee.employment_status, Employee.leaving_on, Employee.si_status)
            .join(Employee, Employee.employee_id == BaseAdjustmentLine.employee_id)
            .where(BaseAdjustmentLine.batch_id == batch_id, BaseAdjustmentLine.round == round_,
                   BaseAdjustmentLine.page == page, BaseAdjustmentLine.state == state)
            .order_by(BaseAdjustmentLine.seq)).all()
        return [PageLine(line, open_row(session, sealed, plain), status == "departed" or leaving_on is not None,
                         si_status == ON_LEAVE_STATUS)
                for line, sealed, plain, status, leaving_on, si_status in rows]

    def _record_page(self, session: Session, req: contract.DeclarePage, number: str | None,
                     refused: dict[str, tuple[str, str]], months: list[str]) -> contract.PageResult:
        page = self._page(session, req.batch_id, req.round, req.page, "pending")
        for pl in page:
            if pl.leaving:  # her stop is her offboarding's: this batch leaves her out, and says why
                pl.line.outcome, pl.line.state, pl.line.updated_at = Outcome.DEPARTING.value, "exception", req.at
                pl.line.note = "申报时已离职或正在离职，未申报 (left or leaving by the declaration: not declared)"
            elif pl.on_leave and "on_maternity_leave" not in pl.line.flags:
                pl.line.flags = [*pl.line.flags, "on_maternity_leave"]
        lines = [pl.line for pl in page if not pl.leaving]
        accepted = [line for line in lines if line.employee_id not in refused]
        leave_cases = self._leave_cases(session, [ln.employee_id for ln in accepted if "on_maternity_leave" in ln.flags])
        entries: list[audit.AuditEntry] = []
        advances: list[contract.Advance] = []
        for line in lines:
            line.updated_at = req.at
            if line.employee_id in refused:
                line.state, (line.refusal_code, line.refusal_reason) = "refused", refused[line.employee_id]
                entries.append(audit.AuditEntry(actor=AGENCY.user, actor_role=AGENCY.role, action="base_adjustment.line_refused",
                                                workflow_id=req.batch_id, subject=line.employee_id,
                                                after={"code": line.refusal_code, "reason": line.refusal_reason,
                                                       "page": req.page, "round": req.round}))
                continue
            assert line.new_base is not None
            line.state, line.acceptance_no, line.back_pay_months = "accepted", number, months
            line.back_pay_employee = line.monthly_employee * len(months)
            line.back_pay_employer = line.monthly_employer * len(months)
            case = leave_cases.get(line.employee_id)
            if case is not None and line.back_pay_employee > 0:
                if self._advance(session, req, line, case):
                    advances.append(contract.Advance(employee_id=line.employee_id, maternity_case=case,
                                                     amount=line.back_pay_employee, new_base=line.new_base))
                else:
                    entries.append(audit.AuditEntry(
                        actor=AGENCY.user, actor_role=AGENCY.role, action="base_adjustment.advance_not_booked",
                        workflow_id=req.batch_id, subject=line.employee_id,
                        after={"month": req.effective_month, "amount": line.back_pay_employee, "note": line.note}))
            entries.append(audit.AuditEntry(
                actor=AGENCY.user, actor_role=AGENCY.role, action="base_adjustment.line_declared",
                workflow_id=req.batch_id, subject=line.employee_id,
                after={"old_base": line.old_base, "new_base": line.new_base, "acceptance_no": number,
                       "back_pay_months": months, "back_pay_employee": line.back_pay_employee,
                       "back_pay_employer": line.back_pay_employer, "advanced_by": line.advanced_by}))
        self._set_bases(session, req.city, {ln.employee_id: ln.new_base for ln in accepted})
        audit.append_many(session, entries, at=req.at)
        return contract.PageResult(
            page=req.page, acceptance_no=number, accepted=len(accepted), refused=len(lines) - len(accepted),
            back_pay_employee=sum((ln.back_pay_employee for ln in accepted), ZERO),
            back_pay_employer=sum((ln.back_pay_employer for ln in accepted), ZERO), advances=advances)

    @staticmethod
    def _advance(session: Session, req: contract.DeclarePage, line: BaseAdjustmentLine, case: str) -> bool:
        """Her share of the back-payment booked to her leave case, once: an earlier batch's
        receivable for the same month (a revoked one, say) is never taken for this one's."""
        earlier = session.scalar(select(Receivable.workflow_id).where(
            Receivable.employee_id == line.employee_id, Receivable.kind == BASE_DIFFERENCE,
            Receivable.month == req.effective_month))
        if earlier is not None:
            line.note = (f"个人应补缴 {line.back_pay_employee} 元未记入应收：{req.effective_month} 已有一笔基数差额应收（{earlier}），"
                         f"请财务核对后手工记账 (her share {line.back_pay_employee} was not booked: a base difference for"
                         f" {req.effective_month} is on record already ({earlier}); finance books it by hand)")
            return False
        ledger.book(session, employee_id=line.employee_id, workflow_id=case, kind=BASE_DIFFERENCE,
                    month=req.effective_month, amount=line.back_pay_employee, at=req.at)
        line.advanced_by = case
        return True

    @staticmethod
    def _leave_cases(session: Session, employee_ids: list[str]) -> dict[str, str]:
        """Her open maternity case, which advances her share while she is on leave."""
        if not employee_ids:
            return {}
        rows = session.execute(select(Case.employee_id, Case.workflow_id).where(
            Case.kind == "maternity", Case.status == "open", Case.employee_id.in_(employee_ids))
            .order_by(Case.opened_at)).all()
        return {employee_id: case for employee_id, case in rows if employee_id is not None}

    @staticmethod
    def _set_bases(session: Session, city: str, bases: dict[str, Decimal | None]) -> None:
        """Her active enrollment in the city and her record take the base the agency now holds."""
        if not bases:
            return
        enrollments = session.execute(select(SiEnrollment.id, SiEnrollment.employee_id).where(
            SiEnrollment.city == city, SiEnrollment.status == "active",
            SiEnrollment.employee_id.in_(list(bases)))).all()
        if enrollments:
            session.execute(update(SiEnrollment), [{"id": i, "base": bases[e]} for i, e in enrollments])
        session.execute(update(Employee), [{"employee_id": e, "contribution_base": b} for e, b in bases.items()])

    @activity.defn(name=contract.REVOKE_PAGE.name)
    def revoke_page(self, req: contract.RevokePage) -> contract.PageRevoked:
        """The compensation of a declared page: revoked at the agency, her old base restored, the
        advanced shares taken back from her receivables (a share already recovered stays, noted)."""
        step = f"revoke-r{req.round}-p{req.page}"
        with agency_refusals("the agency refused the revocation", kind=Refusal.REVOCATION_REFUSED, details=True):
            receipt = self._agency.revoke(f"{req.batch_id}:r{req.round}:p{req.page}:revoke", req.acceptance_no,
                                          req.reason)
        with db_step(self._sessions) as session:
            claim = claim_step(session, req.batch_id, step)
            if not claim.first_time:
                return contract.PageRevoked.model_validate(claim.result)
            lines = [pl.line for pl in self._page(session, req.batch_id, req.round, req.page, "accepted")]
            advances, entries = [], []
            for line in lines:
                line.state, line.updated_at = "revoked", req.at
                if line.advanced_by is not None and ledger.reverse(
                        session, workflow_id=line.advanced_by, kind=BASE_DIFFERENCE, month=req.effective_month,
                        at=req.at, reference=f"base adjustment {req.batch_id} revoked ({receipt.number})"):
                    assert line.old_base is not None
                    advances.append(contract.Advance(employee_id=line.employee_id, maternity_case=line.advanced_by,
                                                     amount=-line.back_pay_employee, new_base=line.old_base))
                entries.append(audit.AuditEntry(
                    actor=req.actor.user, actor_role=req.actor.role, action="base_adjustment.line_revoked",
                    workflow_id=req.batch_id, subject=line.employee_id, request_id=req.actor.request_id,
                    before={"new_base": line.new_base, "acceptance_no": line.acceptance_no},
                    after={"restored_base": line.old_base, "revocation_no": receipt.number, "reason": req.reason}))
            self._set_bases(session, req.city, {ln.employee_id: ln.old_base for ln in lines})
            audit.append_many(session, entries, at=req.at)
            append_audit(session, req.actor, "base_adjustment.page_revoked", workflow_id=req.batch_id, at=req.at,
                         after={"page": req.page, "round": req.round, "acceptance_no": req.acceptance_no,
                                "revocation_no": receipt.number, "lines": len(lines)})
            result = contract.PageRevoked(page=req.page, revocation_no=receipt.number, lines=len(lines),
                                          advances=advances)
            record_result(session, req.batch_id, step, result.model_dump(mode="json"))
            return result

    def all(self) -> list[Any]:
        return [self.compute, self.count, self.correct, self.plan, self.declare_page, self.revoke_page]
