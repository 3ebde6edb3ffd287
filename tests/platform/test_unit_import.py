"""Importing the organisation from a spreadsheet: parents on any row, a dry run, then all rows or
none, each problem named by row, column, field and rule; heads added on a second import."""

from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy import func, select

from db.audit import verify_chain
from db.models import AuditEvent, OrgUnit
from domain.roles import Role
from tests.processes.support import add_employee

HEADER = "单位编码,单位名称,单位类型,上级单位编码,社保参保城市,负责人员工编号"
TREE = ["SH-SALES,上海销售部,部门,SH,,",  # her parent comes later in the file
        "SH,上海分公司,分公司,CO,Shanghai,",
        "CO,演示科技有限公司,法人主体,,Beijing,",
        "HR,人力资源部,department,CO,,"]


def csv_file(*lines: str) -> bytes:
    return ("\r\n".join((HEADER, *lines)) + "\r\n").encode("utf-8-sig")


async def upload(api, auth, content: bytes, *, name: str = "org.csv", dry_run: bool = False):
    return await api.post("/org-units/import", params={"dry_run": str(dry_run).lower()},
                          headers=auth(Role.HR_MANAGER, "mgr.wang"), files={"file": (name, content, "text/csv")})


def units(session_factory) -> dict[str, str | None]:
    with session_factory() as s:
        return {code: parent for code, parent in s.execute(select(OrgUnit.code, OrgUnit.parent_code))}


async def test_a_dry_run_checks_then_the_tree_is_imported_parents_first(api, auth, session_factory) -> None:
    r = await upload(api, auth, csv_file(*TREE), dry_run=True)
    assert r.status_code == 200, r.text
    assert (r.json()["rows"], r.json()["valid"], r.json()["imported"], r.json()["problems"]) == (4, 4, 0, [])
    assert units(session_factory) == {}  # a dry run writes nothing
    r = await upload(api, auth, csv_file(*TREE))
    assert r.status_code == 201 and r.json()["imported"] == 4, r.text
    assert units(session_factory) == {"CO": None, "SH": "CO", "SH-SALES": "SH", "HR": "CO"}
    tree = {u["code"]: u for u in (await api.get("/org-units", headers=auth(Role.HR_MANAGER))).json()}
    assert tree["SH-SALES"]["path"] == ["CO", "SH"] and tree["SH"]["kind"] == "branch"
    with session_factory() as s:
        actions = list(s.scalars(select(AuditEvent.action)))
        assert actions.count("org_unit.saved") == 4 and actions.count("org_unit.imported") == 1
        assert verify_chain(s).ok


async def test_a_file_with_bad_rows_imports_nothing_and_names_every_bad_row(api, auth, session_factory) -> None:
    r = await upload(api, auth, csv_file(
        "CO,演示科技有限公司,法人主体,,Beijing,",           # 2: good
        "A,甲部,部门,B,,",                                   # 3: A -> B -> A
        "B,乙部,部门,A,,",                                   # 4
        "C,丙部,部门,A,,",                                   # 5: under the loop
        "SH,上海分公司,分公司,HR,Shanghai,",                 # 6: a branch under a department
        "HR,人力资源部,部门,CO,,",                           # 7: good
        "GZ,广州分公司,分公司,CO,,",                         # 8: a branch needs its city
        "GZ-1,广州一部,部门,GZ,,",                           # 9: under a refused row
        "X,某部,部门,NOPE,,",                                # 10: no such parent
        "CO,又一个,法人主体,,Beijing,",                      # 11: CO twice
        "Y,某部,小组,CO,,",                                  # 12: no such kind
        "Z,某部,部门,CO,,E404"))                             # 13: the head is not an employee
    assert r.status_code == 422, r.text
    found = {(p["row"], p["field"], p["rule"]) for p in r.json()["detail"]}
    assert found == {(3, "parent_code", "no_loop"), (4, "parent_code", "no_loop"),
                     (5, "parent_code", "parent_row_refused"), (6, "parent_code", "branch_under_entity"),
                     (8, "si_city", "missing"), (9, "parent_code", "parent_row_refused"),
                     (10, "parent_code", "unit_exists"), (11, "code", "duplicate_in_file"),
                     (12, "kind", "string_pattern_mismatch"), (13, "head_employee_id", "employee_exists")}
    assert all(p["message"].startswith(f"第 {p['row']} 行") for p in r.json()["detail"])  # in Chinese, by row
    assert all(p["column"] for p in r.json()["detail"])  # the column as the file names it
    assert units(session_factory) == {}
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0


async def test_an_xlsx_reimport_adds_the_heads_and_moves_a_unit(api, auth, session_factory) -> None:
    assert (await upload(api, auth, csv_file(*TREE))).status_code == 201
    add_employee(session_factory, "E1001")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(["HR", "人力资源部", "部门", "SH", None, "E1001"])  # moved under Shanghai, with a head
    content = io.BytesIO()
    book.save(content)
    r = await upload(api, auth, content.getvalue(), name="org.xlsx")
    assert r.status_code == 201, r.text
    head = (await api.get("/org-units/HR/head", headers=auth(Role.HR_MANAGER))).json()
    assert (head["head_employee_id"], units(session_factory)["HR"]) == ("E1001", "SH")
    r = await upload(api, auth, csv_file("CO,演示科技有限公司,法人主体,SH-SALES,Beijing,"))
    assert r.status_code == 422  # an entity stays at the top
    r = await upload(api, auth, csv_file("SH,上海分公司,分公司,CO,Shanghai,", "CO,演示科技有限公司,部门,SH-SALES,,"))
    assert r.status_code == 422 and {p["rule"] for p in r.json()["detail"]} == {"no_loop", "parent_row_refused"}, r.text


async def test_only_admins_and_hr_managers_import_and_the_template_is_a_file_it_takes(api, auth) -> None:
    r = await api.post("/org-units/import", headers=auth(Role.HR_SPECIALIST, "hr.li"),
                       files={"file": ("org.csv", csv_file(*TREE), "text/csv")})
    assert r.status_code == 403
    template = await api.get("/org-units/import/template.csv", headers=auth(Role.ADMIN, "ops.zhou"))
    assert template.status_code == 200 and template.content.startswith("\ufeff单位编码".encode())
    r = await upload(api, auth, template.content, dry_run=True)
    assert r.status_code == 200 and r.json()["valid"] == 3, r.text
