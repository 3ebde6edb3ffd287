"""Employee master data: HR registers employees; each reader sees personal data per their role."""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import scope
from api.auth import Authenticated, Principal, require
from api.deps import RequestId
from api.errors import ApiError, responses
from api.plausibility import PlausibleDate, problem, refuse, within
from api.routes import resource_router
from api.transactions import transact
from db import access_log, audit
from db.models import Case, Employee, EmploymentEventRow, ManagerAssignment, OrgUnit
from db.sealed_fields import id_number_in
from domain.identity import InvalidResidentId, parse_resident_id
from domain.months import add_months
from domain.policy import BaseOutOfRange, Catalogue, PolicyError, check_base, contribution_limits
from domain.privacy import mask_id_number, mask_name, may_see_id_number, may_see_name
from domain.roles import STAFF, Role

log = logging.getLogger("hrflow.api.employees")
router = resource_router(prefix="/employees", tags=["employees"])

EmployeeNumber = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", examples=["E1001"])]
Text100 = Annotated[str, Field(min_length=1, max_length=100)]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


class EmployeeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "employee_id": "E1001", "resident_id_number": "110105198506151236", "name": "王芳", "department": "人事部",
        "position": "人事专员", "hire_date": "2021-03-01", "probation_end": "2021-08-31", "si_province": "Beijing",
        "si_city": "Beijing", "contribution_base": "12000.00", "email": "wang.fang@example.com", "language": "zh",
    }]})

    employee_id: EmployeeNumber
    resident_id_number: str = Field(examples=["11010519491231002X"])
    name: Text100
    department: Text100
    position: Text100
    hire_date: PlausibleDate
    probation_end: PlausibleDate | None = None
    si_province: Annotated[str, Field(min_length=1, max_length=32)]
    si_city: Annotated[str, Field(min_length=1, max_length=32)]
    contribution_base: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
    email: Annotated[str, Field(max_length=200)] | None = None
    language: Literal["zh", "en"] = "zh"
    manager_id: EmployeeNumber | None = None
    unit_code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$", examples=["SALES-BJ"],
                                    description="her unit in the organisation (GET /org-units)")] | None = None

    @field_validator("resident_id_number")
    @classmethod
    def _resident_id(cls, value: str) -> str:
        try:
            return parse_resident_id(value).number
        except InvalidResidentId as exc:
            raise PydanticCustomError(f"resident_id_{exc.part}", str(exc)) from None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise PydanticCustomError("email_format", "must look like name@example.com")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        """A name is shown to colleagues and printed on certificates: a zero-width or bidi-override
        character would make one person's name read as another's."""
        if any(unicodedata.category(ch) in ("Cf", "Cc", "Co", "Cs") for ch in value):
            raise PydanticCustomError("visible_characters", "may not hold invisible or direction-changing characters")
        return value

    @model_validator(mode="after")
    def _probation_after_hire(self) -> EmployeeIn:
        if self.probation_end is not None and self.probation_end < self.hire_date:
            raise PydanticCustomError("probation_before_hire", "probation_end is before hire_date")
        return self


class EmployeeOut(BaseModel):
    employee_id: str
    name: str
    resident_id_number: str
    masked: bool = Field(description="true when name or ID number are masked for this reader")
    department: str
    position: str
    hire_date: dt.date
    probation_end: dt.date | None
    si_province: str
    si_city: str
    contribution_base: Decimal
    language: str
    manager_id: str | None
    unit_code: str | None = None
    employment_status: str = Field(default="active", description="active, notice_given or departed")
    leaving_on: dt.date | None = Field(default=None, description="her last day, once notice is given")
    notes: list[str] = Field(default_factory=list, description="what registration could not check, and why")


def present(row: Employee, viewer: Principal) -> EmployeeOut:
    is_self = viewer.is_self(row.employee_id)
    show_name = may_see_name(viewer.role, is_self=is_self)
    show_id = may_see_id_number(viewer.role, is_self=is_self)
    return EmployeeOut(
        employee_id=row.employee_id,
        name=row.name if show_name else mask_name(row.name),
        resident_id_number=row.resident_id_number if show_id else mask_id_number(row.resident_id_number),
        masked=not (show_name and show_id),
        department=row.department,
        position=row.position,
        hire_date=row.hire_date,
        probation_end=row.probation_end,
        si_province=row.si_province,
        si_city=row.si_city,
        contribution_base=row.contribution_base,
        language=row.language,
        manager_id=row.manager_id,
        unit_code=row.unit_code,
        employment_status=row.employment_status,
        leaving_on=row.leaving_on,
    )


def disclosed(session: Session, row: Employee, viewer: Principal, request_id: str,
              purpose: str | None = None) -> EmployeeOut:
    """``present``, with a row in the access log for each value it shows in full, in the answer's
    own transaction (``db.access_log``: nothing for her own record, nothing for a masked value)."""
    out = present(row, viewer)
    is_self = viewer.is_self(row.employee_id)
    for what, shown in (("resident_id_number", may_see_id_number(viewer.role, is_self=is_self)),
                        ("name", may_see_name(viewer.role, is_self=is_self))):
        if shown:
            access_log.record(session, viewer, row.employee_id, what, purpose=purpose, request_id=request_id)
    return out


def check_purpose(session: Session, employee_id: str, purpose: str) -> None:
    """A stated purpose is one of her cases (422 naming ``purpose`` otherwise): the log must not
    carry a reason that is no reason."""
    case_of = session.scalar(select(Case.employee_id).where(Case.workflow_id == purpose))
    if case_of is None or case_of != employee_id:
        raise ApiError(422, "validation_failed", [{
            "field": "query.purpose", "rule": "case_of_employee",
            "message": f"查阅目的须为员工 {employee_id} 的案件编号，{purpose} 不是她的案件"
                       f" (purpose must be a case of {employee_id}; {purpose} is not one of hers)"}])


def check_hire_date(hire_date: dt.date, today: dt.date, resident_id_number: str | None = None) -> None:
    """A hire up to a year ahead is an offer already signed; later, or before 1900, is a typo. A
    hire before her 16th birthday would be child labour (Labour Law art. 15): a wrong date."""
    latest = add_months(today, 12)
    wrong = within("hire_date", "hire_date_plausible", hire_date, dt.date(1900, 1, 1), latest, "入职日期", "the hire date")
    if wrong is not None:
        raise refuse(wrong)
    if resident_id_number is not None:
        try:
            born = parse_resident_id(resident_id_number, today=today).birth_date
        except InvalidResidentId:
            return  # a number on file from before the check: its own validation is not this one's
        sixteen = add_months(born, 16 * 12)
        if hire_date < sixteen:
            raise refuse(problem("hire_date", "hire_at_16_or_older",
                                 f"入职日期 {hire_date} 早于其年满十六周岁之日 {sixteen}",
                                 f"the hire date {hire_date} is before her 16th birthday on {sixteen}"))


def check_contribution_base(city: str, base: Decimal, today: dt.date, catalogue: Catalogue | None = None) -> list[str]:
    """The base within the city's floor and ceiling for today, or a 422 naming both. A city the
    catalogue holds no base for is not refused (a registration must not wait for a figure): the
    answer's notes say the base could not be checked, and the log says so too. An import passes
    the ``catalogue`` it loaded once for all its rows."""
    try:
        check_base(city, base, today, catalogue=catalogue)
    except BaseOutOfRange as exc:
        limits = contribution_limits(city, today, catalogue=catalogue)
        raise refuse(problem("contribution_base", "base_within_city_limits",
                             f"缴费基数 {base} 超出{limits.city_zh} {today} 适用的缴费基数上下限"
                             f" {limits.floor} 至 {limits.ceiling}（规则 {limits.rule.id}）", exc.message)) from None
    except PolicyError as exc:
        note = (f"缴费基数未能核对：目录中没有 {city} {today} 适用的上下限"
                f" (the contribution base could not be checked: {exc.message})")
        log.warning("registration: contribution base %s for %s not checked: %s", base, city, exc.message)
        return [note]
    return []


class RehireIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [
        {"hire_date": "2027-01-04", "department": "销售部", "position": "销售顾问", "contribution_base": "13000.00"},
    ]})
    hire_date: PlausibleDate
    department: Text100 | None = None
    position: Text100 | None = None
    contribution_base: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] | None = None


@router.post("/{employee_id}/rehire", response_model=EmployeeOut, responses=responses(400, 401, 403, 404, 409, 422),
             summary="离职员工重新入职 (Rehire a former employee)")
async def rehire(employee_id: str, body: RehireIn, request: Request, request_id: RequestId,
                 principal: Annotated[Principal, Depends(require(Role.HR_SPECIALIST, Role.HR_MANAGER))]) -> EmployeeOut:
    """已离职的人再次入职：沿用原员工编号开始一段新的雇佣，记为雇佣事件并审计；她以前的案件（及尚欠的款项）保持原样。
    仅人事专员和人事经理可调用。员工不存在答 404，尚未离职答 409；入职日期不合理（1900 年前、一年以后、未满 16 周岁）
    或不晚于上次离职日、缴费基数超出所在城市今天的上下限，答 422。

    A person who left joins again: a new employment under the same employee number, recorded as an
    employment event and audited; her earlier cases (and what she still owes) stay as they are. HR
    specialists and managers only. No such employee is 404, one not departed 409; an implausible hire
    date (before 1900, over a year ahead, before her 16th birthday) or one not after her last day, or
    a base outside her city's limits for today, is 422."""
    today = dt.date.today()
    notes: list[str] = []

    def work(session: Session) -> EmployeeOut:
        row = session.get(Employee, employee_id, with_for_update=True)
        if row is None or not scope.covers(session, principal, employee_id):
            raise ApiError(404, "not_found", f"没有员工 {employee_id} (no employee {employee_id})")
        check_hire_date(body.hire_date, today, row.resident_id_number)
        if body.contribution_base is not None:
            notes.extend(check_contribution_base(row.si_city, body.contribution_base, today))
        if row.employment_status != "departed":
            raise ApiError(409, "still_employed", f"员工 {employee_id} 尚未离职，无需重新入职"
                           f" ({employee_id} is {row.employment_status}, not departed)")
        if row.leaving_on is not None and body.hire_date <= row.leaving_on:
            raise ApiError(422, "validation_failed", [{"field": "hire_date", "rule": "after_last_day",
                                                       "message": f"重新入职日期须晚于上次离职日 {row.leaving_on}"
                                                                  f" (after her last day {row.leaving_on})"}])
        before = {"employment_status": row.employment_status, "leaving_on": row.leaving_on, "hire_date": row.hire_date}
        row.employment_status, row.leaving_on, row.hire_date, row.probation_end = "active", None, body.hire_date, None
        for key in ("department", "position", "contribution_base"):
            if getattr(body, key) is not None:
                setattr(row, key, getattr(body, key))
        now = dt.datetime.now(dt.UTC)
        session.add(EmploymentEventRow(event_id=f"rehire:{employee_id}:{body.hire_date}:{request_id}",
                                       employee_id=employee_id, kind="rehired", on=body.hire_date,
                                       source=f"api:{principal.user}", told=[], at=now))
        audit.append(session, audit.AuditEntry(
            actor=principal.user, actor_role=principal.role.value, action="employment.rehired", subject=employee_id,
            request_id=request_id, before=before, after={"hire_date": body.hire_date, "employment_status": "active"}))
        session.flush()
        return disclosed(session, row, principal, request_id).model_copy(update={"notes": notes})

    return await transact(request, work)


@router.post("", status_code=201, response_model=EmployeeOut, responses=responses(400, 401, 403, 409, 422),
             summary="登记员工 (Register an employee)")
async def register_employee(
    body: EmployeeIn,
    request: Request,
    request_id: RequestId,
    principal: Annotated[Principal, Depends(require(Role.HR_SPECIALIST, Role.HR_MANAGER))],
) -> EmployeeOut:
    """登记一名员工：身份证号须通过校验位检查，入职日期须合理（1900 年起、至多一年以后、年满 16 周岁），
    缴费基数须在其城市今天适用的上下限之内；目录中没有该城市的上下限时照样登记，答复的 notes 说明未能核对。
    仅人事专员和人事经理可调用；员工编号或身份证号已登记答 409，上级 manager_id 或单位 unit_code 不存在答 422。
    审计记录里姓名和身份证号打码。

    Register an employee: a resident ID number whose check digit holds, a plausible hire date (from
    1900, at most a year ahead, on or after her 16th birthday), a contribution base within her city's
    floor and ceiling for today; a city the catalogue has no limits for is registered all the same,
    with a note saying the base was not checked. HR specialists and managers only; a number or ID
    number already registered is 409, an unknown ``manager_id`` or ``unit_code`` 422. The audit record masks her name
    and ID number."""
    today = dt.date.today()
    check_hire_date(body.hire_date, today, body.resident_id_number)
    notes = check_contribution_base(body.si_city, body.contribution_base, today)

    def work(session: Session) -> EmployeeOut:
        clash = session.scalar(
            select(Employee.employee_id).where(
                (Employee.employee_id == body.employee_id)
                | id_number_in(session, [body.resident_id_number])
            )
        )
        if clash is not None:
            raise ApiError(409, "employee_exists", f"已有相同员工编号或身份证号的员工（{clash}） (an employee with this number or ID number exists ({clash}))")
        if body.manager_id is not None and session.get(Employee, body.manager_id) is None:
            raise ApiError(422, "validation_failed", [{"field": "manager_id", "rule": "employee_exists",
                                                       "message": f"没有员工 {body.manager_id}"
                                                                  f" (no employee {body.manager_id})"}])
        if body.unit_code is not None and session.get(OrgUnit, body.unit_code) is None:
            raise ApiError(422, "validation_failed", [{"field": "unit_code", "rule": "unit_exists",
                                                       "message": f"没有组织单位 {body.unit_code}"
                                                                  f" (no unit {body.unit_code})"}])
        scope.require_unit(session, principal, body.unit_code)
        row = Employee(**body.model_dump())
        session.add(row)
        try:
            session.flush()
        except IntegrityError as exc:  # a concurrent registration won the race
            raise ApiError(409, "employee_exists", str(exc.orig).splitlines()[0]) from None
        if body.manager_id is not None:
            session.add(ManagerAssignment(employee_id=row.employee_id, manager_id=body.manager_id,
                                          effective_from=body.hire_date))
        audit.append(
            session,
            audit.AuditEntry(
                actor=principal.user,
                actor_role=principal.role.value,
                action="employee.registered",
                subject=row.employee_id,
                after=body.model_dump(exclude={"name", "resident_id_number"})
                | {"name": mask_name(body.name), "resident_id_number": mask_id_number(body.resident_id_number)},
                request_id=request_id,
            ),
        )
        return present(row, principal).model_copy(update={"notes": notes})  # what she typed: not logged as a read

    return await transact(request, work)


@router.get("/{employee_id}", response_model=EmployeeOut, responses=responses(401, 404),
            summary="查看员工 (Read an employee)")
async def read_employee(
    employee_id: str, request: Request, principal: Authenticated, request_id: RequestId,
    purpose: Annotated[str | None, Query(max_length=200, description="为何查阅：她的一个案件编号，记入访问记录"
                                                                     " (why: one of her cases, kept in the access log)")] = None,
) -> EmployeeOut:
    """员工主数据及雇佣状态。任何登录用户可调用，但员工只能看自己，限于某组织单位的工作人员只能看该单位及其下属单位的员工（其他人答 404，与不存在一样）。姓名对人事、财务、
    合规和 IT 可见，身份证号只对人事和本人可见，其余打码（masked=true）。每次完整显示姓名或身份证号都记入个人信息访问记录
    （本人查看除外）；purpose 可写明为哪个案件查阅，须为她的案件，否则答 422。

    Her master data and employment status. Any signed-in user, but an employee sees only herself,
    and staff placed in a unit only its people (anyone else is 404, like a number that does not
    exist). Names show to HR, finance, compliance
    and IT, ID numbers to HR and herself; otherwise masked (``masked``: true). Each name or ID number
    shown in full is kept in the personal data access log (not her own views); ``purpose`` states the
    case it is read for, which must be one of hers (422 otherwise)."""
    def work(session: Session) -> EmployeeOut:
        row = session.get(Employee, employee_id)
        # An employee asking for someone else gets the same answer as for a number that does not exist.
        seen = principal.is_self(employee_id) or (principal.role in STAFF and scope.covers(session, principal,
                                                                                           employee_id))
        if row is None or not seen:
            raise ApiError(404, "not_found", f"没有您可查看的员工 {employee_id} (no employee {employee_id} visible to you)")
        if purpose is not None:
            check_purpose(session, employee_id, purpose)
        return disclosed(session, row, principal, request_id, purpose)

    return await transact(request, work)


class ContactIn(BaseModel):
    """How hrflow reaches the employee: her e-mail, her mobile (texts, when she has no e-mail) and
    the language of her notifications."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [
        {"email": "wang.fang@example.com", "language": "en"}, {"email": None, "mobile": "13812345678"},
    ]})

    email: Annotated[str, Field(max_length=200)] | None = None
    mobile: str | None = None
    language: Literal["zh", "en"] | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return EmployeeIn._email(value)

    @field_validator("mobile")
    @classmethod
    def _mobile(cls, value: str | None) -> str | None:
        if value is not None and not _MOBILE.match(value):
            raise PydanticCustomError("mobile_format", "must be a mainland mobile number: 11 digits starting with 1")
        return value


def _masked_contact(field: str, value: Any) -> Any:
    if not value or field not in ("email", "mobile"):
        return value
    return "***" if field == "email" else f"{str(value)[:3]}****{str(value)[-4:]}"


@router.patch("/{employee_id}/contact", response_model=EmployeeOut, responses=responses(400, 401, 404, 422),
              summary="设置联系方式 (Set her e-mail, mobile and language)")
async def update_contact(employee_id: str, body: ContactIn, request: Request, request_id: RequestId,
                         principal: Authenticated) -> EmployeeOut:
    """设置通知发到哪个邮箱、手机号（没有邮箱时短信通知）、用哪种语言（zh 或 en）；只改请求里给出的字段。人事专员、
    人事经理或员工本人可调用，其他人答 404（与员工不存在一样）。已审计，审计记录里邮箱和手机号打码。

    Set where and in which language (zh or en) notifications reach her: her e-mail, and her mobile
    (texts, when she has no e-mail); only the fields the request gives change. HR specialists and
    managers or the employee herself; anyone else gets 404 (as for no such employee). Audited, with
    the e-mail and mobile masked."""
    def work(session: Session) -> EmployeeOut:
        row = session.get(Employee, employee_id, with_for_update=True)
        allowed = principal.is_self(employee_id) or (principal.role in (Role.HR_SPECIALIST, Role.HR_MANAGER)
                                                     and scope.covers(session, principal, employee_id))
        if row is None or not allowed:
            raise ApiError(404, "not_found", f"没有您可修改的员工 {employee_id} (no employee {employee_id} you may change)")
        changes = body.model_dump(exclude_unset=True)
        before = {k: getattr(row, k) for k in changes}
        for key, value in changes.items():
            if key == "language" and value is None:
                continue
            setattr(row, key, value)
        audit.append(session, audit.AuditEntry(
            actor=principal.user, actor_role=principal.role.value, action="employee.contact_changed",
            subject=employee_id, before={k: _masked_contact(k, v) for k, v in before.items()},
            after={k: _masked_contact(k, v) for k, v in changes.items()}, request_id=request_id))
        session.flush()
        return disclosed(session, row, principal, request_id)

    return await transact(request, work)
