"""The organisation kept in step with the HR master system (``integrations.hr_master``).

The master's units follow the rules of the organisation import (``api.routes.unit_import``): each
unit as ``PUT /org-units/{code}`` would check it, parents first, all or nothing; a unit the master
closed stays in the tree, inactive. A unit whose head is not registered yet (a newcomer in the same
export) keeps the head it has and is noted: sync the units, then the employees
(``POST /employees/sync``), then the units again. Units the master does not list are left alone
(a company may keep some by hand).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import RequestId
from api.errors import ApiError, responses
from api.i18n import Language, Text, language, say
from api.imports import RowProblem, problem_at, said
from api.master_sync import master_snapshot
from api.routes import resource_router
from api.routes.organisation import Keepers
from api.routes.unit_import import COLUMNS, UnitRow, place_units, read_units
from api.spreadsheets import Row
from api.transactions import transact
from db.models import Employee, OrgUnit
from integrations.hr_master import UNIT_STATUSES, MasterSnapshot

router = resource_router(prefix="/org-units", tags=["organisation"])
FIELDS = ("name", "kind", "parent_code", "si_city", "head_employee_id", "active")


class UnitSyncReport(BaseModel):
    dry_run: bool
    source: str = Field(description="the master system's name for its snapshot")
    exported_at: dt.datetime | None
    records: int = Field(description="units in the master's snapshot")
    changed: list[str] = Field(description="codes of the units created or changed (applied unless a dry run)")
    applied: bool
    problems: list[RowProblem] = Field(description="each names the unit's place among the snapshot's units (row)")
    notes: list[str] = Field(description="heads not registered yet: sync again after the employees")


def _rows(snapshot: MasterSnapshot) -> tuple[list[Row], list[dict[str, Any]]]:
    rows, problems = [], []
    for record in snapshot.units:
        if record.status not in UNIT_STATUSES:
            problems.append(problem_at(record.position, "status", "status", "status_known",
                                       f"单位状态须为 active 或 closed，不是“{record.status}”",
                                       f"a unit's status must be active or closed, not '{record.status}'"))
            continue
        rows.append(Row(number=record.position, cells=record.fields | {"active": record.status == "active"}))
    return rows, problems


def _changed(session: Session, units: dict[str, tuple[Row, UnitRow]], lang: Language
             ) -> tuple[dict[str, tuple[Row, UnitRow]], list[str]]:
    """The units that differ from the tree, each with a head the register does not know yet replaced
    by the head it has (noted)."""
    known = {u.code: u for u in session.scalars(select(OrgUnit).where(OrgUnit.code.in_(list(units))))}
    heads = {b.head_employee_id for _, b in units.values() if b.head_employee_id}
    registered = set(session.scalars(select(Employee.employee_id).where(Employee.employee_id.in_(heads))))
    changed: dict[str, tuple[Row, UnitRow]] = {}
    notes: list[str] = []
    for code, (row, body) in units.items():
        unit = known.get(code)
        if body.head_employee_id and body.head_employee_id not in registered:
            notes.append(say(Text(f"单位 {code} 的负责人 {body.head_employee_id} 尚未登记：员工同步后再同步一次单位",
                                  f"the head {body.head_employee_id} of {code} is not registered yet: sync the units"
                                  " again after the employees"), lang))
            body = body.model_copy(update={"head_employee_id": unit.head_employee_id if unit else None})
        if unit is None or any(getattr(unit, f) != getattr(body, f) for f in FIELDS):
            changed[code] = (row, body)
    return changed, notes


@router.post("/sync", response_model=UnitSyncReport, responses=responses(400, 401, 403, 409, 422, 503),
             summary="从人事主数据同步组织架构 (Sync the organisation from the HR master system)")
async def sync_units(
    request: Request, request_id: RequestId, principal: Keepers,
    dry_run: Annotated[bool, Query(description="只比较、不修改 (compare only, change nothing)")] = False,
) -> UnitSyncReport:
    """读取人事主数据系统导出（HRFLOW_HR_MASTER_EXPORT）中的组织单位，与组织架构比较：新单位和有变化的单位按组织架构导入的
    规则写入（上级在前，已关闭的单位保留为停用），主数据未列出的单位不动；负责人尚未登记的单位保留原负责人并列入 notes，
    员工同步后再同步一次。dry_run=true 只比较；否则全部通过才一次性修改，有任何问题则一处也不改（422，逐条列出）。每处修改
    都记入审计。不限组织单位的管理员和人事经理可调用；未配置主数据答 409，主数据读取失败答 503。

    Read the organisation units of the HR master system's export (HRFLOW_HR_MASTER_EXPORT) and
    compare them with the tree: new and changed units are written under the organisation import's
    rules (parents first; a unit the master closed stays, inactive); units the master does not list
    are left alone; a unit whose head is not registered yet keeps the head it has and is noted, to
    be synced again after the employees. ``dry_run=true`` only compares; otherwise everything is
    applied at once when nothing is wrong, and with any problem nothing is (422, each listed). Every
    change is audited. Admins and HR managers who work for the whole company; no master configured
    is 409, a master that cannot be read 503."""
    snapshot = await master_snapshot(request, principal)
    rows, problems = _rows(snapshot)
    columns = {f: f for f in (*COLUMNS, "active")}  # the status, as a closed unit's active: false
    units, found = read_units(rows, columns)
    problems += found

    def work(session: Session) -> UnitSyncReport:
        changed, notes = _changed(session, units, language(request))
        written = session.begin_nested()
        found = sorted(problems + place_units(session, changed, columns, principal, request_id),
                       key=lambda i: (i["row"], i["field"]))
        if found or dry_run:
            written.rollback()
        else:
            written.commit()
        if found and not dry_run:
            raise ApiError(422, "validation_failed", found)
        return UnitSyncReport(dry_run=dry_run, source=snapshot.source, exported_at=snapshot.exported_at,
                              records=len(snapshot.units), changed=sorted(changed), applied=not dry_run,
                              problems=said(found, language(request)), notes=notes)

    return await transact(request, work)
