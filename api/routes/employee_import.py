"""Employees imported from a spreadsheet (CSV or XLSX): a dry run first, then all rows or none.

Seed 002 asks that employee data come from the HR system or an Excel migration, not typed again.
Every row is held to the rules ``POST /employees`` applies (the same model, hire-date and base
checks), and the file as a whole to what no single row shows: a number or ID number twice in the
file or already registered, a manager who is neither registered nor in the file, a chain of
managers that loops. Any problem and nothing is imported; each problem names its row (as Excel
numbers it), its column (as the file names it), the field and the rule.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from api import scope
from api.auth import Hr, Principal
from api.deps import RequestId
from api.errors import ApiError, responses
from api.i18n import Text, language, say
from api.imports import (
    RowProblem,
    cell_value,
    columns_of,
    problem_at,
    problem_from,
    said,
    template,
    uploaded_table,
    validation_problems,
)
from api.plausibility import today
from api.routes import resource_router
from api.routes.employees import EmployeeIn, check_contribution_base, check_hire_date
from api.spreadsheets import Row
from api.transactions import transact
from db import audit
from db.models import Employee, ManagerAssignment, OrgUnit
from db.sealed_fields import FIELDS, digest_of, id_number_in, sealed_values
from domain.policy import Catalogue, load_catalogue
from domain.privacy import mask_id_number, mask_name

router = resource_router(prefix="/employees", tags=["employees"])

# The headers a column may carry: the field's name, its Chinese and English labels, and the words
# HR exports use for it (DingTalk, 用友 and hand-kept sheets).
COLUMNS: dict[str, tuple[str, ...]] = {
    "employee_id": ("员工编号", "工号", "employee number"),
    "resident_id_number": ("居民身份证号码", "身份证号码", "身份证号", "resident id number"),
    "name": ("姓名", "name"),
    "department": ("部门", "department"),
    "position": ("岗位", "职位", "position"),
    "hire_date": ("入职日期", "hire date"),
    "probation_end": ("试用期结束日期", "试用期截止日期", "转正日期", "end of probation"),
    "si_province": ("社保参保省份", "参保省份", "社保省份", "social insurance province"),
    "si_city": ("社保参保城市", "参保城市", "社保城市", "social insurance city"),
    "contribution_base": ("缴费基数", "contribution base"),
    "email": ("电子邮箱", "邮箱", "email address", "email"),
    "language": ("通知语言", "语言", "notification language"),
    "manager_id": ("直属上级员工编号", "直属上级工号", "上级工号", "manager's employee number"),
    "unit_code": ("组织单位编码", "部门编码", "unit code"),
}
REQUIRED = ("employee_id", "resident_id_number", "name", "department", "position", "hire_date", "si_province",
            "si_city", "contribution_base")
# Template for the clerk: the Chinese headers and one example row.
TEMPLATE_ROW = {"employee_id": "E1001", "resident_id_number": "110105198506151236", "name": "王芳",
                "department": "人事部", "position": "人事专员", "hire_date": "2021-03-01", "probation_end": "2021-08-31",
                "si_province": "Beijing", "si_city": "Beijing", "contribution_base": "12000.00",
                "email": "wang.fang@example.com", "language": "zh", "manager_id": "", "unit_code": ""}


class RowNote(BaseModel):
    row: int
    employee_id: str
    message: str


class ImportReport(BaseModel):
    dry_run: bool
    rows: int = Field(description="rows read (blank rows skipped)")
    valid: int = Field(description="rows that passed every check")
    imported: int = Field(description="employees registered by this request (0 for a dry run)")
    problems: list[RowProblem]
    notes: list[RowNote] = Field(description="what could not be checked and why (a row is imported all the same)")
    sha256: str = Field(description="of the file, as the audit trail records it")


def check_row(row: Row, columns: dict[str, str], on: dt.date, catalogue: Catalogue
               ) -> tuple[EmployeeIn | None, list[dict[str, Any]], list[str]]:
    """One row against the registration rules: the body, or its problems; and its notes."""
    header_of = columns
    id_cell = row.cells.get(columns.get("resident_id_number", ""))
    if isinstance(id_cell, (int, float)) and not isinstance(id_cell, bool):
        column = columns["resident_id_number"]
        return None, [problem_at(row.number, column, "resident_id_number", "resident_id_as_text",
                               "身份证号须以文本格式保存：存为数字时末位会丢失或变成 0，请把该列设为“文本”后重新填写",
                               "a resident ID number must be saved as text: as a number its last digits are lost;"
                               " format the column as text and enter it again")], []
    with_nul = [field for field, name in columns.items() if "\x00" in str(row.cells.get(name) or "")]
    if with_nul:
        return None, [problem_at(row.number, columns[f], f, "no_nul_character", "文字中不能含有 NUL 字符（U+0000）",
                               "text may not contain the NUL character (U+0000)") for f in with_nul], []
    values = {field: cell_value(row.cells.get(name), amount=field == "contribution_base")
              for field, name in columns.items()}
    try:
        body = EmployeeIn.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        return None, validation_problems(row.number, header_of, exc), []
    try:
        check_hire_date(body.hire_date, on, body.resident_id_number)
        notes = check_contribution_base(body.si_city, body.contribution_base, on, catalogue)
    except ApiError as exc:
        items = exc.detail if isinstance(exc.detail, list) else []
        return None, [problem_from(row.number, header_of, item) for item in items], []
    return body, [], notes


def across_rows(session: Session, checked: list[tuple[Row, EmployeeIn]], columns: dict[str, str],
                principal: Principal) -> list[dict[str, Any]]:
    """What no single row shows: repeats within the file, clashes with the register, managers
    unknown or in a loop, units that do not exist or that the importer does not work for."""
    problems: list[dict[str, Any]] = []
    first: dict[tuple[str, str], int] = {}
    for row, body in checked:
        for field in ("employee_id", "resident_id_number"):
            key = (field, getattr(body, field))
            if key in first:
                problems.append(problem_at(row.number, columns.get(field), field, "duplicate_in_file",
                                         f"与第 {first[key]} 行重复", f"the same as row {first[key]}"))
            else:
                first[key] = row.number
    numbers = [b.employee_id for _, b in checked]
    id_numbers = [b.resident_id_number for _, b in checked]
    digests = {n: digest_of(session, n) for n in id_numbers}  # the blind index: the numbers are stored sealed
    registered = session.execute(select(Employee.employee_id, Employee.resident_id_digest, Employee.resident_id_plain)
                                 .where(or_(Employee.employee_id.in_(numbers), id_number_in(session, id_numbers)))).all()
    taken_numbers = {r.employee_id for r in registered}
    taken_by = {key: r.employee_id for r in registered for key in (r.resident_id_digest, r.resident_id_plain) if key}
    taken_ids: dict[str, str] = {}
    for n in id_numbers:
        if owner := taken_by.get(digests[n]) or taken_by.get(n) or taken_by.get(n.upper()):
            taken_ids[n] = owner
    in_file = {b.employee_id: b for _, b in checked}
    wanted_managers = {b.manager_id for _, b in checked if b.manager_id and b.manager_id not in in_file}
    known_managers = set(session.scalars(select(Employee.employee_id).where(Employee.employee_id.in_(wanted_managers))))
    units = {b.unit_code for _, b in checked if b.unit_code}
    known_units = set(session.scalars(select(OrgUnit.code).where(OrgUnit.code.in_(units))))
    hers = scope.units(session, principal)
    for row, body in checked:
        if body.employee_id in taken_numbers:
            problems.append(problem_at(row.number, columns.get("employee_id"), "employee_id", "already_registered",
                                     f"员工编号 {body.employee_id} 已登记", f"employee {body.employee_id} is already registered"))
        if body.resident_id_number in taken_ids:
            problems.append(problem_at(row.number, columns.get("resident_id_number"), "resident_id_number",
                                     "already_registered", f"此身份证号已登记（{taken_ids[body.resident_id_number]}）",
                                     f"this ID number is already registered ({taken_ids[body.resident_id_number]})"))
        if body.unit_code is not None and body.unit_code not in known_units:
            problems.append(problem_at(row.number, columns.get("unit_code"), "unit_code", "unit_exists",
                                     f"没有组织单位 {body.unit_code}", f"no unit {body.unit_code}"))
        elif hers is not None and body.unit_code not in hers:
            problems.append(problem_at(row.number, columns.get("unit_code"), "unit_code", "within_your_unit",
                                     *scope.outside_unit(principal, body.unit_code)))
        manager = body.manager_id
        if manager is None:
            continue
        column = columns.get("manager_id")
        if manager == body.employee_id:
            problems.append(problem_at(row.number, column, "manager_id", "not_own_manager", "直属上级不能是本人",
                                     "she cannot be her own manager"))
        elif manager not in in_file and manager not in known_managers:
            problems.append(problem_at(row.number, column, "manager_id", "employee_exists",
                                     f"直属上级 {manager} 既未登记，也不在此文件中",
                                     f"the manager {manager} is neither registered nor in this file"))
        elif _loops(body.employee_id, in_file):
            problems.append(problem_at(row.number, column, "manager_id", "managers_loop",
                                     f"上级关系成环：{' → '.join(_chain(body.employee_id, in_file))}",
                                     f"the managers go round in a loop: {' -> '.join(_chain(body.employee_id, in_file))}"))
    return problems


def _chain(start: str, in_file: dict[str, EmployeeIn]) -> list[str]:
    seen = [start]
    current = in_file[start].manager_id
    while current in in_file and current not in seen:
        seen.append(current)
        current = in_file[current].manager_id
    return [*seen, current] if current is not None else seen


def _loops(start: str, in_file: dict[str, EmployeeIn]) -> bool:
    *walked, last = _chain(start, in_file)
    return last in walked


_SEALED = set(FIELDS) & set(EmployeeIn.model_fields)  # what a row gives that is kept only sealed


def register(session: Session, bodies: list[EmployeeIn], principal: Principal, request_id: str,
              filename: str, sha256: str) -> None:
    """All rows in one statement, each manager before the people who report to her (so every
    manager_id refers to a row already there); each registration audited."""
    session.execute(insert(Employee), [
        b.model_dump(exclude=_SEALED) | sealed_values(session, b.employee_id, {f: getattr(b, f) for f in _SEALED})
        for b in _managers_first(bodies)])
    managed = [{"employee_id": b.employee_id, "manager_id": b.manager_id, "effective_from": b.hire_date}
               for b in bodies if b.manager_id]
    if managed:
        session.execute(insert(ManagerAssignment), managed)
    entries: list[audit.AuditEntry] = [audit.AuditEntry(
        actor=principal.user, actor_role=principal.role.value, action="employee.imported",
        request_id=request_id, after={"file": filename, "sha256": sha256, "employees": len(bodies)})]
    entries += [audit.AuditEntry(
        actor=principal.user, actor_role=principal.role.value, action="employee.registered", subject=b.employee_id,
        request_id=request_id, after=b.model_dump(exclude={"name", "resident_id_number"})
        | {"name": mask_name(b.name), "resident_id_number": mask_id_number(b.resident_id_number), "via": sha256})
        for b in bodies]
    audit.append_many(session, entries)


def _managers_first(bodies: list[EmployeeIn]) -> list[EmployeeIn]:
    """The rows ordered by how many managers above them are in the file (no loops: checked)."""
    in_file = {b.employee_id: b for b in bodies}
    depth: dict[str, int] = {}
    for b in bodies:
        chain = []
        current: str | None = b.employee_id
        while current in in_file and current not in depth:
            chain.append(current)
            current = in_file[current].manager_id
        level = depth[current] + 1 if current in depth else 0
        for emp in reversed(chain):
            depth[emp] = level
            level += 1
    return sorted(bodies, key=lambda b: depth[b.employee_id])


@router.post("/import", response_model=ImportReport, status_code=201,
             responses={200: {"model": ImportReport, "description": "a dry run's report"},
                        **responses(400, 401, 403, 413, 422)},
             summary="从 Excel 或 CSV 导入员工 (Import employees from Excel or CSV)")
async def import_employees(
    file: UploadFile, request: Request, request_id: RequestId, principal: Hr, response: Response,
    dry_run: Annotated[bool, Query(description="只检查、不导入 (check only, import nothing)")] = False,
) -> ImportReport:
    """从 XLSX 或 CSV（UTF-8 或 Excel 中文版另存的 GB18030）导入员工：第 1 行为列名（中文、英文或字段名，见
    GET /employees/import/template.csv），每行一名员工，与 POST /employees 登记时的规则相同；另查文件内重复、与已登记
    的员工编号或身份证号重复、直属上级既未登记也不在文件中、上级关系成环。dry_run=true 只检查（答 200 和逐行结果）；
    否则全部通过才一次性导入（答 201），只要有一行不通过就一行也不导入，答 422 并列出每个问题的行号、列名、字段和规则。
    每名员工的登记和整个文件（SHA-256）都记入审计。人事专员和人事经理可调用。

    Import employees from XLSX or CSV (UTF-8, or GB18030 as Chinese Excel saves it): row 1 holds the
    column names (Chinese, English or field names; see GET /employees/import/template.csv), one
    employee a row, under the rules of POST /employees, and the file's own: repeats within it, an
    employee number or ID number already registered, a manager neither registered nor in the file,
    managers in a loop. ``dry_run=true`` only checks (200, with each row's result); otherwise the
    whole file is imported at once when every row passes (201), and with any problem nothing is, 422
    listing each problem's row, column, field and rule. Each registration and the file (its
    SHA-256) are audited. HR specialists and managers."""
    table, sha256 = await uploaded_table(file, request)
    filename = file.filename or ""
    columns, problems = columns_of(table.header, COLUMNS, REQUIRED)
    on, lang = today(), language(request)
    checked: list[tuple[Row, EmployeeIn]] = []
    notes: list[RowNote] = []

    def check_rows() -> None:
        """Each row on its own: no database, so no connection is held meanwhile."""
        catalogue = load_catalogue()
        for row in table.rows:
            body, row_problems, row_notes = check_row(row, columns, on, catalogue)
            problems.extend(row_problems)
            if body is not None:
                checked.append((row, body))
                notes.extend(RowNote(row=row.number, employee_id=body.employee_id, message=say(n, lang))
                             for n in row_notes)

    if not problems:
        await anyio.to_thread.run_sync(check_rows)

    def work(session: Session) -> ImportReport:
        found = problems + (across_rows(session, checked, columns, principal) if checked else [])
        found.sort(key=lambda i: (i["row"], i["field"]))
        bad_rows = {i["row"] for i in found}
        valid = sum(1 for row, _ in checked if row.number not in bad_rows)
        if found and not dry_run:
            raise ApiError(422, "validation_failed", found)
        if not dry_run:
            if not checked:
                raise ApiError(422, "validation_failed", [{"field": "file", "rule": "no_rows",
                                                           "message": Text("文件中没有员工数据行", "the file holds no employee rows")}])
            register(session, [b for _, b in checked], principal, request_id, filename, sha256)
        return ImportReport(dry_run=dry_run, rows=len(table.rows), valid=valid,
                            imported=0 if dry_run else len(checked), problems=said(found, lang), notes=notes,
                            sha256=sha256)

    report = await transact(request, work)
    if dry_run:
        response.status_code = 200
    return report


@router.get("/import/template.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}, **responses(401, 403)},
            summary="员工导入模板 (The employee import template)")
async def import_template(_: Hr) -> Response:
    """导入模板：中文列名和一行示例，UTF-8（带 BOM，Excel 直接打开不乱码）。人事专员和人事经理可调用。

    The import template: the Chinese column names and one example row, UTF-8 with a byte-order mark
    so Excel opens it without garbling. HR specialists and managers."""
    return template(COLUMNS, [TEMPLATE_ROW], "employees-template.csv")
