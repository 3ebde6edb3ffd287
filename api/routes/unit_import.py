"""The organisation imported from a spreadsheet (CSV or XLSX): a dry run first, then all rows or none.

Each row is a unit held to the rules of ``PUT /org-units/{code}`` (``organisation.check_unit``),
with the tree the file itself builds: a parent may be a unit of the file, on any row, so rows are
placed parents first; a code twice in the file, or parents that go round in a loop within it, is a
problem of its rows. A code already known is replaced, as a PUT would: import the units first,
then the employees, then the units again with their heads. Any problem and nothing is written;
each names its row (as Excel numbers it), its column (as the file names it), the field and the rule.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from api.auth import Principal
from api.deps import RequestId
from api.errors import ApiError, responses
from api.i18n import Text, language
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
from api.routes import resource_router
from api.routes.organisation import Keepers, UnitIn, check_unit, save_unit
from api.spreadsheets import Row
from api.transactions import transact
from db import audit

router = resource_router(prefix="/org-units", tags=["organisation"])

COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("单位编码", "组织单位编码", "部门编码", "unit code"),
    "name": ("单位名称", "名称", "部门名称", "unit name"),
    "kind": ("单位类型", "类型", "kind"),
    "parent_code": ("上级单位编码", "上级编码", "上级部门编码", "parent unit code"),
    "si_city": ("社保参保城市", "参保城市", "social insurance city"),
    "head_employee_id": ("负责人员工编号", "负责人工号", "部门负责人工号", "head's employee number"),
}
REQUIRED = ("code", "name", "kind")
# The kind as a clerk writes it: the field's own words, or the Chinese ones.
KINDS = {"entity": "entity", "法人主体": "entity", "公司": "entity", "branch": "branch", "分支机构": "branch",
         "分公司": "branch", "department": "department", "部门": "department"}
TEMPLATE = [{"code": "CO", "name": "演示科技有限公司", "kind": "法人主体", "parent_code": "", "si_city": "Beijing",
             "head_employee_id": ""},
            {"code": "SH", "name": "上海分公司", "kind": "分支机构", "parent_code": "CO", "si_city": "Shanghai",
             "head_employee_id": ""},
            {"code": "SH-SALES", "name": "上海销售部", "kind": "部门", "parent_code": "SH", "si_city": "",
             "head_employee_id": ""}]


class UnitRow(UnitIn):
    code: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")


class UnitImportReport(BaseModel):
    dry_run: bool
    rows: int = Field(description="rows read (blank rows skipped)")
    valid: int = Field(description="rows that passed every check")
    imported: int = Field(description="units created or replaced by this request (0 for a dry run)")
    problems: list[RowProblem]
    sha256: str = Field(description="of the file, as the audit trail records it")


def read_units(rows: list[Row], columns: dict[str, str]) -> tuple[dict[str, tuple[Row, UnitRow]], list[dict[str, Any]]]:
    """The rows as units by code, and the problems of single rows and of a code given twice."""
    units: dict[str, tuple[Row, UnitRow]] = {}
    problems: list[dict[str, Any]] = []
    for row in rows:
        body, row_problems = _read_row(row, columns)
        problems.extend(row_problems)
        if body is None:
            continue
        if body.code in units:
            first = units[body.code][0].number
            problems.append(problem_at(row.number, columns.get("code"), "code", "duplicate_in_file",
                                       f"与第 {first} 行重复", f"the same as row {first}"))
        else:
            units[body.code] = (row, body)
    return units, problems


def place_units(session: Session, units: dict[str, tuple[Row, UnitRow]], columns: dict[str, str],
                principal: Principal, request_id: str) -> list[dict[str, Any]]:
    """Check and write ``units``, parents first; the problems (the caller undoes the writes when
    there are any)."""
    order, looped, problems = _parents_first(units, columns)
    return problems + _place(session, units, order, looped, columns, principal, request_id)


def _read_row(row: Row, columns: dict[str, str]) -> tuple[UnitRow | None, list[dict[str, Any]]]:
    values = {f: cell_value(row.cells.get(name)) for f, name in columns.items()}
    if isinstance(values.get("kind"), str):
        values["kind"] = KINDS.get(values["kind"].casefold(), values["kind"])
    try:
        return UnitRow.model_validate({k: v for k, v in values.items() if v is not None}), []
    except ValidationError as exc:
        return None, validation_problems(row.number, columns, exc)


def _parents_first(units: dict[str, tuple[Row, UnitRow]], columns: dict[str, str]
                   ) -> tuple[list[str], set[str], list[dict[str, Any]]]:
    """The file's codes with each parent in the file ahead of its children, and those whose
    parents go round in a loop within the file (each a problem)."""
    order: list[str] = []
    seen: set[str] = set()  # in the order, or in a loop
    looped: set[str] = set()
    problems = []
    for start in units:
        path: list[str] = []
        code: str | None = start
        while code is not None and code in units and code not in seen and code not in path:
            path.append(code)
            code = units[code][1].parent_code
        if code is not None and code in path:  # the walk came back to a unit it passed
            cycle = path[path.index(code):]
            looped.update(cycle)
            for c in cycle:
                problems.append(problem_at(units[c][0].number, columns.get("parent_code"), "parent_code", "no_loop",
                                           f"上级单位成环：{' → '.join(cycle)} → {cycle[0]}",
                                           f"the parents go round in a loop: {' -> '.join(cycle)} -> {cycle[0]}"))
            path = path[:path.index(code)]
        seen.update(path, looped)
        order.extend(reversed(path))
    return order, looped, problems


def _place(session: Session, units: dict[str, tuple[Row, UnitRow]], order: list[str], refused: set[str],
           columns: dict[str, str], principal: Principal, request_id: str) -> list[dict[str, Any]]:
    """Each unit checked and written in ``order``, so a child is checked against its parent's row;
    a child of a ``refused`` row, or of one refused here, is refused too, naming that row."""
    problems: list[dict[str, Any]] = []
    refused = set(refused)
    for code in order:
        row, body = units[code]
        if body.parent_code is not None and body.parent_code in refused:
            refused.add(code)
            parent_row = units[body.parent_code][0].number
            problems.append(problem_at(row.number, columns.get("parent_code"), "parent_code", "parent_row_refused",
                                       f"上级单位 {body.parent_code}（第 {parent_row} 行）未通过检查",
                                       f"the parent {body.parent_code} (row {parent_row}) did not pass"))
            continue
        unit = UnitIn(**body.model_dump(exclude={"code"}))
        try:
            check_unit(session, code, unit)
        except ApiError as exc:
            refused.add(code)
            items = exc.detail if isinstance(exc.detail, list) else []
            problems.extend(problem_from(row.number, columns, item) for item in items)
            continue
        save_unit(session, code, unit, principal, request_id)
    return problems


@router.post("/import", response_model=UnitImportReport, status_code=201,
             responses={200: {"model": UnitImportReport, "description": "a dry run's report"},
                        **responses(400, 401, 403, 413, 422)},
             summary="从 Excel 或 CSV 导入组织架构 (Import the organisation from Excel or CSV)")
async def import_units(
    file: UploadFile, request: Request, request_id: RequestId, principal: Keepers, response: Response,
    dry_run: Annotated[bool, Query(description="只检查、不导入 (check only, import nothing)")] = False,
) -> UnitImportReport:
    """从 XLSX 或 CSV 导入组织单位：第 1 行为列名（见 GET /org-units/import/template.csv），每行一个单位（法人主体、分支机构
    或部门，类型可写中文），与 PUT /org-units/{code} 的规则相同；上级单位可以是文件中任意一行的单位，另查文件内编码重复、
    上级关系成环。已有的编码整体替换。建议先导入单位，再导入员工，然后带负责人再导入一次单位。dry_run=true 只检查（答 200）；
    否则全部通过才一次性导入（答 201），有一行不通过就一行也不导入，答 422 并列出每个问题的行号、列名、字段和规则。每个单位
    的变更和整个文件（SHA-256）都记入审计。管理员和人事经理可调用。

    Import units from XLSX or CSV: row 1 holds the column names (see GET
    /org-units/import/template.csv), one unit a row (an entity, a branch or a department; the kind
    may be written in Chinese) under the rules of PUT /org-units/{code}; a parent may be any row's
    unit, and the file's own rules add a code twice in it and parents in a loop. A known code is
    replaced. Import the units first, then the employees, then the units again with their heads.
    ``dry_run=true`` only checks (200); otherwise everything is imported at once when every row
    passes (201), and with any problem nothing is, 422 listing each problem's row, column, field
    and rule. Each unit's change and the file (its SHA-256) are audited. Admins and HR managers."""
    table, sha256 = await uploaded_table(file, request)
    columns, problems = columns_of(table.header, COLUMNS, REQUIRED)
    units: dict[str, tuple[Row, UnitRow]] = {}
    if not problems:
        units, problems = read_units(table.rows, columns)

    def work(session: Session) -> UnitImportReport:
        written = session.begin_nested()  # checked against the rows before it, then kept or undone as one
        found = problems + place_units(session, units, columns, principal, request_id)
        found.sort(key=lambda i: (i["row"], i["field"]))
        valid = len({row.number for row, _ in units.values()} - {i["row"] for i in found})
        if found or dry_run:
            written.rollback()
        if found and not dry_run:
            raise ApiError(422, "validation_failed", found)
        if not dry_run:
            if not units:
                raise ApiError(422, "validation_failed", [{"field": "file", "rule": "no_rows",
                                                           "message": Text("文件中没有组织单位数据行",
                                                                           "the file holds no unit rows")}])
            written.commit()
            audit.append(session, audit.AuditEntry(
                actor=principal.user, actor_role=principal.role.value, action="org_unit.imported", subject=None,
                after={"file": file.filename or "", "sha256": sha256, "units": len(units)}, request_id=request_id))
        return UnitImportReport(dry_run=dry_run, rows=len(table.rows), valid=valid,
                                imported=0 if dry_run else len(units), problems=said(found, language(request)),
                                sha256=sha256)

    report = await transact(request, work)
    if dry_run:
        response.status_code = 200
    return report


@router.get("/import/template.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}, **responses(401, 403)},
            summary="组织架构导入模板 (The organisation import template)")
async def import_template(_: Keepers) -> Response:
    """导入模板：中文列名和三行示例（公司、分公司、部门），UTF-8（带 BOM，Excel 直接打开不乱码）。管理员和人事经理可调用。

    The import template: the Chinese column names and three example rows (a company, a branch, a
    department), UTF-8 with a byte-order mark so Excel opens it without garbling. Admins and HR
    managers."""
    return template(COLUMNS, TEMPLATE, "org-units-template.csv")
