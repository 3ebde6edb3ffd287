"""Offboarding: start a departure, read it with its risk report, sign off clearance items,
withdraw a resignation, record the post-departure filings; and the employee records a departure
must settle (disputes, violations, loans, advances, assets, access, agreements).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import scope, workflow_calls
from api.auth import Anyone, Hr, HrManager, Principal, require
from api.bodies import Body, OptionalReason, ReasonIn
from api.case_routes import CaseRoutes, carrying
from api.deps import RequestId, TemporalDep
from api.errors import ApiError, responses
from api.plausibility import PlausibleDate, problem, refuse
from api.routes import resource_router
from api.routes.cases import CaseOut, guard_case
from api.routes.resignations import notice_date_of
from api.task_actions import add_task_actions
from api.transactions import reach_database, transact
from api.workflow_calls import CaseWorkflow
from db import audit
from db.models import AuditEvent, Case, Employee, EmployeeRecord
from domain.identity import InvalidResidentId, parse_resident_id
from domain.offboarding import LastDayRefused, OffboardingKind, last_day
from domain.policy import PolicyError, non_compete_compensation, pin_offboarding, pin_si_change
from domain.policy.deadlines import due_date
from domain.protections import (
    EMPLOYER_GROUNDS,
    Ground,
    MaternityRecord,
    Protection,
    bar,
    describe,
    find_protections,
    grounds_in_text,
)
from domain.roles import STAFF, Role
from workflows import offboarding

W = offboarding.OffboardingWorkflow
router = resource_router(tags=["offboarding"])
PREFIX = "/offboardings"
CASES = CaseRoutes(router, PREFIX, ids="offboarding-", what="offboarding case", kind="offboarding", model=offboarding.OffboardingView,
                   workflow=CaseWorkflow(W.run, W.opened, W.view))

Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]

# Who may register which kind of record.
RECORD_OWNERS: dict[str, set[Role]] = {
    "dispute": {Role.COMPLIANCE}, "complaint": {Role.COMPLIANCE}, "violation": {Role.COMPLIANCE},
    "loan": {Role.FINANCE}, "advance": {Role.FINANCE},
    "asset": {Role.IT}, "access": {Role.IT},
    "non_compete": {Role.HR_SPECIALIST, Role.HR_MANAGER},
}


class NonCompeteIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"months": 12, "average_monthly_wage_12m": "15000.00"}]})

    months: int = Field(ge=1, le=24, description="at most 24 (Labour Contract Law art. 24)")
    monthly_compensation: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)] | None = Field(
        default=None, description="as agreed; if absent, 30% of the last 12 months' average, not below the minimum wage")
    average_monthly_wage_12m: Money | None = None


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [
        {"employee_id": "E1001", "kind": "resignation", "notice_date": "2026-12-01", "monthly_wage": "15000.00",
         "minimum_wage": "2540.00", "handover": [{"key": "client-files", "title": "客户档案与在办合同", "receiver": "li.na"}],
         "non_compete": {"months": 12, "average_monthly_wage_12m": "15000.00"}},
        {"employee_id": "E2002", "kind": "termination", "ground": "art_40_3", "notice_date": "2026-12-01",
         "agreed_last_day": "2026-12-31", "monthly_wage": "18000.00", "minimum_wage": "2540.00",
         "economic_compensation": "54000.00",
         "handover": [{"key": "project-docs", "title": "项目文档与代码仓库权限", "receiver": "zhang.wei"}]},
    ]})
    employee_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    kind: OffboardingKind
    ground: Ground | None = Field(default=None, description=(
        "the Labour Contract Law article the ending rests on; for a termination, required unless"
        " legal_ground cites it (\"劳动合同法第四十条第三项\", \"art. 41\")"))
    legal_ground: Annotated[str, Field(max_length=500)] | None = None
    protections: list[Protection] = Field(default_factory=list, max_length=5, description=(
        "art. 42 situations HR knows of and the system cannot see (a medical treatment period, an"
        " occupational disease, a pregnancy not yet on file, 15 years' service near retirement)"))
    notice_date: PlausibleDate
    agreed_last_day: PlausibleDate | None = None
    monthly_wage: Money
    minimum_wage: Money = Field(description="the local monthly minimum wage (not yet in the catalogue)")
    economic_compensation: Money = Decimal("0.00")
    handover: list[offboarding.HandoverItem] = Field(min_length=1, max_length=100)
    non_compete: NonCompeteIn | None = None


class SignOffIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"gate": "handover", "item_key": "client-files", "outcome": "handed_over", "note": "已逐项核对"},
        {"gate": "finance", "item_key": "receivables", "outcome": "deducted_by_agreement", "amount": "2400.00",
         "agreed_in_writing": True, "note": "她书面同意从最终工资中扣回"},
    ]})

    gate: str
    item_key: str
    outcome: str
    note: OptionalReason = None
    amount: Money | None = None
    agreed_in_writing: bool = False


class DecisionIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"accept": True, "reason": "部门同意她继续留任"}]})

    accept: bool
    reason: OptionalReason = None


class FilingIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"filing": "labour_filing", "reference": "京人社备 2027-000123"},
    ]})

    filing: str
    reference: Annotated[str, Field(min_length=1, max_length=100)]


class RecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [
        {"kind": "loan", "title": "购车借款", "amount": "20000.00"},
    ]})
    kind: str
    title: Annotated[str, Field(min_length=1, max_length=300)]
    amount: Money | None = None


class RecordOut(BaseModel):
    id: int
    employee_id: str
    kind: str
    title: str
    amount: Decimal | None
    status: str
    recorded_by: str
    created_at: dt.datetime


# The grounds each kind of ending may rest on: the employer's (art. 39 to 41, 44), hers (37, 38), both (36).
GROUNDS_BY_KIND: dict[OffboardingKind, frozenset[Ground]] = {
    OffboardingKind.TERMINATION: EMPLOYER_GROUNDS,
    OffboardingKind.RESIGNATION: frozenset({Ground.ART_37, Ground.ART_38}),
    OffboardingKind.PROBATION_RESIGNATION: frozenset({Ground.ART_37, Ground.ART_38}),
    OffboardingKind.MUTUAL_AGREEMENT: frozenset({Ground.ART_36}),
}
BIRTH_RECOMPUTED = "maternity.entitlement_recomputed"  # its ``after`` holds the actual birth date


def resolve_ground(body: StartIn) -> Ground | None:
    """The structured ground, else the one the legal-ground text cites. A termination needs one
    (art. 42 bars some grounds and not others); for her resignation or an agreement it is implied."""
    allowed = GROUNDS_BY_KIND[body.kind]
    names = ", ".join(sorted(g.value for g in allowed))
    cited = grounds_in_text(body.legal_ground or "") & allowed
    if body.ground is not None:
        if body.ground not in allowed:
            raise refuse(problem("ground", "ground_matches_kind",
                                 f"{body.kind.value} 不能依据 {body.ground.value}，可选：{names}",
                                 f"a {body.kind.value} does not rest on {body.ground.value}; one of {names}"))
        general = cited == {Ground.ART_40} and body.ground.value.startswith("art_40")  # the item made precise
        if cited and cited != {body.ground} and not general:  # recorded on one ground, judged on another
            other = ", ".join(sorted(g.value for g in cited))
            raise refuse(problem("ground", "ground_matches_text",
                                 f"ground {body.ground.value} 与 legal_ground 引用的条款（{other}）不一致",
                                 f"ground {body.ground.value} differs from the article legal_ground cites ({other})"))
        return body.ground
    if len(cited) > 1:
        both = ", ".join(sorted(g.value for g in cited))
        raise refuse(problem("ground", "ground_unambiguous", f"解除依据引用了多个条款（{both}），请在 ground 中指明一项",
                             f"legal_ground cites several grounds ({both}): name one in ground"))
    if cited:
        return cited.pop()
    if body.kind is OffboardingKind.TERMINATION:
        raise refuse(problem("ground", "ground_required",
                             f"用人单位解除劳动合同须写明法律依据：请填写 ground（{names}）或在 legal_ground 中引用条款，"
                             "如“劳动合同法第四十条第三项”",
                             f"a termination by the employer needs its legal ground: give ground ({names}) or cite"
                             " the article in legal_ground, e.g. \"Labour Contract Law art. 40(3)\""))
    return None


def _expected_birth(workflow_id: str) -> dt.date | None:
    """A maternity case id ends in the expected delivery date (``maternity-leave-E1-2027-01-10``)."""
    try:
        return dt.date.fromisoformat(workflow_id[-10:])
    except ValueError:
        return None


def maternity_records(session: Session, employee_id: str) -> list[MaternityRecord]:
    """Her maternity cases as art. 42 needs them: stage, status, and the actual birth (from the
    audit trail) or else the expected one."""
    cases = list(session.scalars(select(Case).where(Case.kind == "maternity", Case.employee_id == employee_id)))
    births: dict[str, dt.date] = {}
    if cases:
        rows = session.execute(select(AuditEvent.workflow_id, AuditEvent.after).where(
            AuditEvent.action == BIRTH_RECOMPUTED, AuditEvent.workflow_id.in_([c.workflow_id for c in cases]))
            .order_by(AuditEvent.id))
        for workflow_id, after in rows:
            try:
                births[workflow_id] = dt.date.fromisoformat(str((after or {}).get("birth_date")))
            except ValueError:
                continue
    return [MaternityRecord(workflow_id=c.workflow_id, stage=c.stage, status=c.status,
                            birth_date=births.get(c.workflow_id) or _expected_birth(c.workflow_id)) for c in cases]


def refuse_protected(ground: Ground | None, departure: dt.date, declared: list[Protection], employee: Employee,
                     records: list[MaternityRecord], notice_date: dt.date | None = None) -> None:
    """Art. 42 for an art. 40/41 dismissal, art. 45 for an art. 44 expiry: a 422 naming each
    protection and the article. An art. 39 dismissal (her fault) is not barred."""
    if ground is None:
        return
    try:
        person = parse_resident_id(employee.resident_id_number)
        born, sex = person.birth_date, person.sex
    except InvalidResidentId:
        born, sex = None, None
    findings = find_protections(last_day=departure, declared=declared, maternity=records,
                                hire_date=employee.hire_date, birth_date=born, sex=sex, notice_date=notice_date)
    barred = bar(ground, findings)
    if barred:
        raise refuse(*(b.detail() for b in barred))


def _load(session: Session, employee_id: str) -> tuple[Employee | None, list[MaternityRecord]]:
    return session.get(Employee, employee_id), maternity_records(session, employee_id)


@router.post(PREFIX, status_code=201, response_model=offboarding.OffboardingView, responses=responses(400, 401, 403, 422, 503),
             summary="开始离职流程 (Start a departure)")
async def start(body: StartIn, request: Request, temporal: TemporalDep,
                request_id: RequestId, principal: Hr) -> offboarding.OffboardingView:
    """开始一次离职：交接、IT、财务、合规各关卡签收，然后人事经理终审，离职后办理备案；答复含风险报告。
    单位解除须写明法律依据（ground，或在 legal_ground 中引用条款）；依第四十、四十一条解除受第四十二条保护的员工，
    或在第四十五条应顺延时终止合同，一律拒绝，什么也不开始。依据与离职类型不符或引用了多条、最后工作日不符合通知期规则、
    员工不存在，或约定了竞业限制却既无月补偿也无前 12 个月平均工资，答 422；她已在自助中提出辞职的，辞职的通知日须与她的
    辞职通知一致（否则 422），离职开始后她的辞职通知即由本案接办。仅人事专员和人事经理可调用；同一离职已办结答
    409。

    Start a departure: handover, IT, finance and compliance gates signed off, then the HR manager's
    final approval and, after she left, the filings; the answer carries the risk report. A
    termination names its legal ground (``ground``, or the article cited in ``legal_ground``); one on
    art. 40/41 of a protected employee (art. 42), or the expiry of her contract while art. 45 extends
    it, is refused and nothing is started. A ground that does not fit the kind or several cited, a
    last day the notice rules do not allow, no such employee, or a non-compete with neither its
    monthly compensation nor the 12 months' average wage is 422; for a resignation she gave notice
    of in self-service, the notice date must be hers (otherwise 422), and her notice is taken up by
    this case. HR specialists and managers only;
    the same departure already closed is 409."""
    settings = request.app.state.settings
    ground = resolve_ground(body)
    employee, records = await transact(request, lambda s: _load(s, body.employee_id))
    if employee is None:
        raise ApiError(422, "validation_failed", [{"field": "employee_id", "rule": "employee_exists",
                                                   "message": f"没有员工 {body.employee_id}"
                                                              f" (no employee {body.employee_id})"}])
    await scope.check_start(request, principal, employee.employee_id)
    try:
        policy = pin_offboarding(employee.si_province, body.notice_date)
        departure = last_day(body.kind, body.notice_date, body.agreed_last_day, policy)
        # the 15 days of art. 50, through the one deadline function: a last day on a rest day or
        # holiday moves to the next working day, as the pinned rule says
        filing = due_date(policy.deadlines["archive_and_insurance_transfer"], departure)
    except (PolicyError, LastDayRefused) as exc:
        raise ApiError(422, "validation_failed", [exc.detail()]) from None
    refuse_protected(ground, departure, body.protections, employee, records, body.notice_date)
    if body.kind in (OffboardingKind.RESIGNATION, OffboardingKind.PROBATION_RESIGNATION):
        given = await transact(request, lambda s: notice_date_of(s, employee.employee_id))
        if given is not None and given != body.notice_date:  # art. 37 counts from the day she gave notice
            raise refuse(problem("notice_date", "matches_her_notice",
                                 f"{employee.employee_id} 已于 {given} 书面提出辞职，通知日须为 {given}",
                                 f"{employee.employee_id} gave written notice on {given}: the notice date is {given}"))
    terms = None
    if body.non_compete is not None:
        nc = body.non_compete
        if nc.monthly_compensation is not None:
            monthly = nc.monthly_compensation
        elif nc.average_monthly_wage_12m is not None:
            monthly = non_compete_compensation(nc.average_monthly_wage_12m, body.minimum_wage, body.notice_date).monthly
        else:
            raise ApiError(422, "validation_failed", [{"field": "non_compete.average_monthly_wage_12m",
                                                       "rule": "required", "message": "须给出约定的月补偿或离职前 12"
                                                       " 个月的平均工资 (give the agreed monthly compensation or the"
                                                       " last 12 months' average wage)"}])
        terms = offboarding.NonCompeteTerms(months=nc.months, monthly_compensation=monthly)
    try:
        si_policy = pin_si_change(employee.si_city, dt.date.today())
    except PolicyError:
        si_policy = None  # no base in the catalogue: the enrollment stop becomes a manual task
    req = offboarding.OffboardingRequest(
        employee_id=employee.employee_id, kind=body.kind,
        legal_ground=body.legal_ground or (describe(ground) if ground is not None else None),
        ground=ground.value if ground is not None else None,
        notice_date=body.notice_date, last_day=departure, province=employee.si_province,
        city=employee.si_city, department=employee.department, monthly_wage=body.monthly_wage,
        minimum_wage=body.minimum_wage, economic_compensation=body.economic_compensation, handover=body.handover,
        filed_by=workflow_calls.actor(principal, request_id), policy=policy, si_policy=si_policy, non_compete=terms,
        filing_due=filing.date, filing_due_provisional=filing.provisional)
    return await CASES.start(
        temporal, req, id=f"offboarding-{employee.employee_id}-{body.notice_date.isoformat()}",
        task_queue=settings.temporal_task_queue, request_id=request_id, closed="conflict",
        employee_id=employee.employee_id, stage="clearance",
        province=employee.si_province, department=employee.department,
        summary=f"离职交接 {employee.employee_id}：{body.kind.value} (Offboarding ({body.kind.value}) of {employee.employee_id})",
        details=f"Notice {body.notice_date}; filed by {principal.user}")


@router.get(PREFIX, response_model=list[CaseOut], responses=responses(401, 403), summary="离职案件列表 (List departures)")
async def list_offboardings(request: Request, _: Annotated[Principal, Depends(require(*STAFF))],
                            stage: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[CaseOut]:
    """离职案件，可按阶段筛选，最先到期的在前。除员工外的所有角色可调用。

    Departures, optionally of one stage, the soonest due first. Every role but employee."""
    def work(session: Session) -> list[CaseOut]:
        stmt = select(Case).where(Case.kind == "offboarding").order_by(Case.next_due_at.asc().nulls_last(), Case.id)
        if stage is not None:
            stmt = stmt.where(Case.stage == stage)
        return [CaseOut.of(row) for row in session.scalars(stmt.limit(limit))]

    return await transact(request, work)


@router.get(PREFIX + "/{workflow_id}", response_model=offboarding.OffboardingView, responses=responses(401, 404),
            summary="查看离职案件 (Read a departure)")
async def read(workflow_id: str, request: Request, temporal: TemporalDep, principal: Anyone) -> offboarding.OffboardingView:
    """离职案件的现状：阶段、最后工作日、各关卡及其事项、风险报告、最终工资、备案和撤回申请。任何角色可调用；
    员工只能看自己的案件，别人的答 404。

    The departure as it stands: stage, last day, the gates and their items, the risk report, the
    final pay, the filings and a withdrawal. Any role; an employee sees only her own case, anyone
    else's is 404."""
    return await CASES.read(request, temporal, principal, workflow_id)


@router.post(PREFIX + "/{workflow_id}/sign-off", response_model=offboarding.OffboardingView, responses=CASES.errors,
             summary="签收关卡事项 (Sign off a clearance item)")
async def sign_off(workflow_id: str, body: SignOffIn, request: Request, temporal: TemporalDep,
                   request_id: RequestId, principal: Anyone) -> offboarding.OffboardingView:
    """由事项的负责人签收：交接事项由接收人，其他关卡由该关卡的角色（IT、财务、合规；终审按 offboarding.final 审批路线，
    默认为人事经理，路线上的直属上级等人员也可签批，依次签完才算终审通过，转交、加签、退回见 /approval/...）；
    离职员工本人不能签收自己的事项（403）。outcome 须是该关卡允许的结果，从最终工资扣款须有她的书面同意（422）；
    终审须在其他关卡都完成之后，事项已签收答 409，事项不存在答 404。非员工目录角色的接收人只看到自己的事项，
    看不到风险报告和最终工资。

    Signed off by the item's owner: a handover item by its receiver, other gates by the gate's role
    (IT, finance, compliance; the final approval by the ``offboarding.final`` approver route, by
    default an HR manager, and whoever a route names, her line manager say, each step in turn, with
    transfer, add-sign and return under ``/approval/...``); the departing employee cannot sign
    off her own (403). ``outcome`` must be one the gate allows, and a deduction from final pay needs
    her written agreement (422); the final approval comes after every other gate, an item already
    signed is 409, no such item 404. A receiver without a staff role sees only her own items, not
    the risk report or the final pay."""
    if not workflow_id.startswith("offboarding-"):
        raise ApiError(404, "not_found", f"没有离职案件 {workflow_id} (no offboarding case {workflow_id})")
    if scope.placed(principal):  # a branch's staff sign off her people's departures only
        await guard_case(request, principal, workflow_id, prefix="offboarding-", what="offboarding case")
    await reach_database(request)
    view = await workflow_calls.update(
        temporal.get_workflow_handle(workflow_id), offboarding.OffboardingWorkflow.sign_off,
        offboarding.SignOff(actor=workflow_calls.actor(principal, request_id), **body.model_dump()))
    if principal.role in STAFF:
        return view
    # A colleague receiving a handover sees her own items, not the risk report or the final pay.
    return view.model_copy(update={"risk": None, "final_pay": None, "withdrawal": None, "manual_tasks": [],
                                   "items": [i for i in view.items if i.owner_user == principal.user]})


CASES.message("/withdraw", W.withdraw, Anyone, carrying(offboarding.Withdrawal), ReasonIn)
add_task_actions(CASES, W.transfer_task, W.add_signer, W.return_to_step, at="/approval")
CASES.message("/withdrawal-decision", W.decide_withdrawal, HrManager, carrying(offboarding.WithdrawalDecision), DecisionIn)
CASES.message("/filings", W.record_filing, Hr, carrying(offboarding.Filing), FilingIn)


@router.post("/employees/{employee_id}/records", status_code=201, response_model=RecordOut,
             responses=responses(400, 401, 403, 404, 422), summary="登记离职须了结的事项 (Record what a departure must settle)")
async def add_record(employee_id: str, body: RecordIn, request: Request, request_id: RequestId,
                     principal: Annotated[Principal, Depends(require(*STAFF))]) -> RecordOut:
    """登记员工名下离职时须了结的事项，离职流程会把它们列为关卡事项：争议、投诉、违纪由合规登记，借款、预支由财务，
    资产、系统权限由 IT，竞业限制协议由人事。已审计。kind 未知答 422，角色不负责该类事项答 403，员工不存在答 404。

    Record something of hers a departure must settle; an offboarding lists it as a gate item:
    disputes, complaints and violations by compliance, loans and advances by finance, assets and
    access by IT, non-compete agreements by HR. Audited. An unknown ``kind`` is 422, a role that does
    not own the kind 403, no such employee 404."""
    def work(session: Session) -> RecordOut:
        owners = RECORD_OWNERS.get(body.kind)
        if owners is None:
            kinds = sorted(RECORD_OWNERS)
            raise ApiError(422, "validation_failed", [{"field": "kind", "rule": "record_kind_known",
                                                       "message": f"记录种类须为以下之一：{kinds}"
                                                                  f" (kind must be one of {kinds})"}])
        if principal.role not in owners:
            raise ApiError(403, "forbidden", f"此类事项（{body.kind}）由 {'、'.join(sorted(o.value for o in owners))} 登记 (a {body.kind} is recorded by {', '.join(sorted(o.value for o in owners))})")
        if session.get(Employee, employee_id) is None:
            raise ApiError(404, "not_found", f"没有员工 {employee_id} (no employee {employee_id})")
        row = EmployeeRecord(employee_id=employee_id, kind=body.kind, title=body.title, amount=body.amount,
                             recorded_by=principal.user)
        session.add(row)
        session.flush()
        audit.append(session, audit.AuditEntry(
            actor=principal.user, actor_role=principal.role.value, action=f"record.{body.kind}_added",
            subject=employee_id, request_id=request_id, after=body.model_dump()))
        session.refresh(row)
        return RecordOut.model_validate(row, from_attributes=True)

    return await transact(request, work)


@router.get("/employees/{employee_id}/records", response_model=list[RecordOut], responses=responses(401, 403),
            summary="员工的待了结事项 (Her records)")
async def list_records(employee_id: str, request: Request,
                       _: Annotated[Principal, Depends(require(*STAFF))]) -> list[RecordOut]:
    """员工名下登记的所有事项及其状态，按登记顺序。除员工外的所有角色可调用。

    Every record of hers with its status, in the order recorded. Every role but employee."""
    def work(session: Session) -> list[RecordOut]:
        rows = session.scalars(select(EmployeeRecord).where(EmployeeRecord.employee_id == employee_id)
                               .order_by(EmployeeRecord.id))
        return [RecordOut.model_validate(r, from_attributes=True) for r in rows]

    return await transact(request, work)
