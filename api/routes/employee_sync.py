"""The employee register kept in step with the HR master system (``integrations.hr_master``).

The master's word wins for who she is in the organisation: name, department, position, e-mail, unit
and line manager. What a process changes (her ID number, hire date, where she is insured and her
contribution base) is never overwritten: a difference there is reported for HR to handle through
that process, and so is a person the master says has left (her offboarding has legal steps). People
the register does not know yet are registered under the import's rules. A dry run reports what
would change; otherwise everything is applied at once, or, with any problem, nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Principal, require
from api.deps import RequestId
from api.errors import ApiError, responses
from api.i18n import Language, Text, language, say
from api.imports import RowProblem, problem_at, said
from api.master_sync import master_snapshot
from api.plausibility import today
from api.routes import resource_router
from api.routes.employee_import import RowNote, across_rows, check_row, register
from api.routes.employees import EmployeeIn
from api.spreadsheets import Row
from api.transactions import transact
from db import audit, organisation
from db.models import Case, Employee, OrgUnit
from domain.policy import load_catalogue
from domain.privacy import mask_name
from domain.roles import Role
from integrations.hr_master import STATUSES, MasterRecord, MasterSnapshot

router = resource_router(prefix="/employees", tags=["employees"])

SYNCED = ("name", "department", "position", "email", "unit_code", "manager_id")
# Changed only through a process (an enrollment change, a transfer, a correction HR signs): reported.
KEPT = ("resident_id_number", "hire_date", "si_province", "si_city", "contribution_base")
Syncer = Annotated[Principal, Depends(require(Role.HR_MANAGER, Role.ADMIN))]


class FieldChange(BaseModel):
    employee_id: str
    field: str
    before: str | None
    after: str | None


class SyncReport(BaseModel):
    dry_run: bool
    source: str = Field(description="the master system's name for its snapshot")
    exported_at: dt.datetime | None
    records: int = Field(description="records in the master's snapshot")
    registered: list[str] = Field(description="employees new to the register (registered unless a dry run)")
    changes: list[FieldChange] = Field(description="fields the master changes (applied unless a dry run)")
    applied: bool
    problems: list[RowProblem] = Field(description="each names the record's place in the snapshot (row)")
    notes: list[RowNote] = Field(description="what HR handles by hand: a process's field that differs, a leaver")


def _shown(field: str, value: Any) -> str | None:
    if value is None:
        return None
    return mask_name(str(value)) if field == "name" else str(value)


class _Plan:
    """What a snapshot changes in the register, and what stops it."""

    def __init__(self) -> None:
        self.new: list[tuple[Row, EmployeeIn]] = []
        self.changes: list[tuple[Employee, str, Any, Any]] = []  # her, the field, before, after
        self.problems: list[dict[str, Any]] = []
        self.notes: list[RowNote] = []


def _plan(session: Session, snapshot: MasterSnapshot, on: dt.date, lang: Language, principal: Principal) -> _Plan:
    plan = _Plan()
    catalogue = load_catalogue()
    seen: dict[str, int] = {}
    existing_records: list[tuple[MasterRecord, Employee, EmployeeIn]] = []
    columns = {field: field for field in EmployeeIn.model_fields}
    numbers = [str(r.fields.get("employee_id") or "") for r in snapshot.records]
    registered = {e.employee_id: e for e in session.scalars(select(Employee).where(Employee.employee_id.in_(numbers)))}
    for record in snapshot.records:
        row = Row(number=record.position, cells=record.fields)
        number = str(record.fields.get("employee_id") or "")
        if record.status not in STATUSES:
            plan.problems.append(problem_at(row.number, "status", "status", "status_known",
                                            f"状态须为 active 或 left，不是“{record.status}”",
                                            f"status must be active or left, not '{record.status}'"))
            continue
        if number in seen:
            plan.problems.append(problem_at(row.number, "employee_id", "employee_id", "duplicate_in_file",
                                            f"与第 {seen[number]} 条记录重复", f"the same as record {seen[number]}"))
            continue
        seen[number] = row.number
        employee = registered.get(number)
        if employee is None:
            if record.status == "left":
                continue  # someone who left before she was ever registered: nothing to keep
            if snapshot.contacts_only:
                plan.notes.append(RowNote(row=row.number, employee_id=number, message=say(Text(
                    "通讯录中有此人，员工登记中没有：未匹配（请经员工导入或人事主数据登记；通讯录没有身份证号和入职日期）",
                    "in the address book but not in the register: unmatched (register her through the employee"
                    " import or the HR master; an address book has no ID number or hire date)"), lang)))
                continue
            body, found, _ = check_row(row, columns, on, catalogue)
            plan.problems.extend(found)
            if body is not None:
                plan.new.append((row, body))
            continue
        given = record.fields
        if snapshot.contacts_only:  # only what an address book knows, over what the register has
            given = {f: getattr(employee, f) for f in EmployeeIn.model_fields} | {
                k: v for k, v in record.fields.items() if k in SYNCED}
        try:
            master = EmployeeIn.model_validate({k: v for k, v in given.items() if v not in (None, "")})
        except ValidationError:
            _, found, _ = check_row(Row(number=row.number, cells=given), columns, on, catalogue)
            plan.problems.extend(found)
            continue
        existing_records.append((record, employee, master))
    if plan.new:
        plan.problems.extend(across_rows(session, plan.new, columns, principal))
    incoming = {b.employee_id for _, b in plan.new}
    for record, employee, master in existing_records:
        _compare(session, plan, record, employee, master, incoming, lang)
    _refuse_loops(session, plan, {r.fields.get("employee_id"): r.position for r, _, _ in existing_records})
    return plan


def _refuse_loops(session: Session, plan: _Plan, place: dict[Any, int]) -> None:
    """A new line manager whose own managers, as they will stand after the sync, lead back to her."""
    planned: dict[str, str | None] = {b.employee_id: b.manager_id for _, b in plan.new}
    planned |= {e.employee_id: after for e, f, _, after in plan.changes if f == "manager_id"}

    def manager_of(number: str) -> str | None:
        return planned[number] if number in planned else session.scalar(
            select(Employee.manager_id).where(Employee.employee_id == number))

    looping: set[str] = set()
    for e, field, _, after in plan.changes:
        if field != "manager_id" or after is None:
            continue
        chain, current = [e.employee_id], after
        while current is not None and current not in chain and len(chain) <= organisation.MAX_DEPTH:
            chain.append(current)
            current = manager_of(current)
        if current == e.employee_id:
            looping.add(e.employee_id)
            shown = " → ".join([*chain, current])
            plan.problems.append(problem_at(place[e.employee_id], field, field, "managers_loop",
                                            f"上级关系成环：{shown}", f"the managers go round in a loop: {shown}"))
    plan.changes = [c for c in plan.changes if c[0].employee_id not in looping or c[1] != "manager_id"]


def _compare(session: Session, plan: _Plan, record: MasterRecord, employee: Employee, master: EmployeeIn,
             incoming: set[str], lang: Language) -> None:
    number, place = employee.employee_id, record.position
    if record.status == "left":
        if employee.employment_status == "active" and not session.scalar(select(Case.id).where(
                Case.employee_id == number, Case.kind == "offboarding", Case.status == "open").limit(1)):
            plan.notes.append(RowNote(row=place, employee_id=number, message=say(Text(
                "主数据中她已离职：请为其发起离职流程（离职有法定步骤，不自动办理）",
                "she has left in the master system: start her offboarding (it has legal steps; hrflow does"
                " not start it by itself)"), lang)))
        return
    for field in KEPT:
        theirs, ours = getattr(master, field), getattr(employee, field)
        if theirs != ours:
            plan.notes.append(RowNote(row=place, employee_id=number, message=say(Text(
                f"{field} 与主数据不同（此处 {_shown(field, ours)}，主数据 {_shown(field, theirs)}）：须经相应流程变更，"
                "同步不改", f"{field} differs from the master ({_shown(field, ours)} here,"
                f" {_shown(field, theirs)} there): it changes only through its process, not by a sync"), lang)))
    for field in SYNCED:
        theirs = getattr(master, field)
        if theirs == getattr(employee, field):
            continue
        if field == "unit_code" and theirs is not None and session.get(OrgUnit, theirs) is None:
            plan.problems.append(problem_at(place, field, field, "unit_exists", f"没有组织单位 {theirs}", f"no unit {theirs}"))
            continue
        if field == "manager_id" and theirs is not None:
            if theirs == number:
                plan.problems.append(problem_at(place, field, field, "not_own_manager", "直属上级不能是本人",
                                                "she cannot be her own manager"))
                continue
            if theirs not in incoming and session.get(Employee, theirs) is None:
                plan.problems.append(problem_at(place, field, field, "employee_exists",
                                                f"直属上级 {theirs} 既未登记，也不在主数据中",
                                                f"the manager {theirs} is neither registered nor in the master"))
                continue
        plan.changes.append((employee, field, getattr(employee, field), theirs))


def _apply(session: Session, plan: _Plan, snapshot: MasterSnapshot, digest: str, principal: Principal,
           request_id: str, on: dt.date) -> None:
    if plan.new:
        register(session, [b for _, b in plan.new], principal, request_id, f"sync:{snapshot.source}", digest)
    by_employee: dict[str, list[tuple[Employee, str, Any, Any]]] = {}
    for change in plan.changes:
        by_employee.setdefault(change[0].employee_id, []).append(change)
    entries = []
    for number, changes in by_employee.items():
        employee = changes[0][0]
        for _, field, _, value in changes:
            if field == "manager_id":
                organisation.record_manager(session, number, value, on)
            else:
                setattr(employee, field, value)
        entries.append(audit.AuditEntry(
            actor=principal.user, actor_role=principal.role.value, action="employee.synced", subject=number,
            request_id=request_id, before={f: _shown(f, b) for _, f, b, _ in changes},
            after={f: _shown(f, a) for _, f, _, a in changes} | {"source": snapshot.source, "via": digest}))
    if entries:
        audit.append_many(session, entries)


@router.post("/sync", response_model=SyncReport, responses=responses(401, 403, 409, 422, 503),
             summary="与人事主数据系统同步员工 (Keep employees in step with the HR master system)")
async def sync_employees(
    request: Request, request_id: RequestId, principal: Syncer,
    dry_run: Annotated[bool, Query(description="只比较、不修改 (compare only, change nothing)")] = False,
) -> SyncReport:
    """读取人事主数据系统（HRFLOW_HR_MASTER_EXPORT 指定的导出文件）的员工快照，与员工登记比较：新员工按导入规则登记；
    姓名、部门、岗位、邮箱、组织单位和直属上级以主数据为准；身份证号、入职日期、参保地和缴费基数只经相应流程变更，
    不同时列入 notes；主数据中已离职的员工列入 notes，请人事发起离职流程。dry_run=true 只比较；否则全部通过才一次性
    修改，有任何问题则一处也不改（422，逐条列出）。每处修改都记入审计。不限组织单位的人事经理和管理员可调用（限于某单位的答 403）；未配置主数据答 409，
    主数据读取失败答 503。

    Read the HR master system's snapshot (the export file HRFLOW_HR_MASTER_EXPORT names) and compare
    it with the register: new people are registered under the import's rules; name, department,
    position, e-mail, unit and line manager follow the master; ID number, hire date, where she is
    insured and her base change only through their processes, so a difference is a note; a person
    the master says has left is a note for HR to start her offboarding. ``dry_run=true`` only
    compares; otherwise everything is applied at once when nothing is wrong, and with any problem
    nothing is (422, each listed). Every change is audited. HR managers and admins who work for
    the whole company (one placed in a unit is 403); no master configured is 409, a master that
    cannot be read 503."""
    snapshot = await master_snapshot(request, principal)
    digest = hashlib.sha256(json.dumps([r.fields | {"status": r.status} for r in snapshot.records],
                                       sort_keys=True, default=str).encode()).hexdigest()
    on, lang = today(), language(request)

    def work(session: Session) -> SyncReport:
        plan = _plan(session, snapshot, on, lang, principal)
        plan.problems.sort(key=lambda i: (i["row"], i["field"]))
        if plan.problems and not dry_run:
            raise ApiError(422, "validation_failed", plan.problems)
        if not dry_run:
            _apply(session, plan, snapshot, digest, principal, request_id, on)
        return SyncReport(
            dry_run=dry_run, source=snapshot.source, exported_at=snapshot.exported_at, records=len(snapshot.records),
            registered=[b.employee_id for _, b in plan.new],
            changes=[FieldChange(employee_id=e.employee_id, field=f, before=_shown(f, b), after=_shown(f, a))
                     for e, f, b, a in plan.changes],
            applied=not dry_run, problems=said(plan.problems, lang), notes=plan.notes)

    return await transact(request, work)
