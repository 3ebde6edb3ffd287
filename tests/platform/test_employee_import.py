"""Importing employees from a clerk's spreadsheet: a dry run, then all rows or none, every problem
named by row, column, field and rule; XLSX as Excel writes it and CSV in UTF-8 or GB18030."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import httpx
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from stdnum.cn import ric

from db.audit import verify_chain
from db.models import AuditEvent, Employee
from domain.roles import Role


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"import_max_rows": 10})


HEADER = "工号,姓名,身份证号,部门,岗位,入职日期,参保省份,参保城市,缴费基数,直属上级工号,邮箱"


def resident_id(birth: str, seq: int) -> str:
    """A valid number for a Beijing (110105) birth on ``birth`` (YYYYMMDD)."""
    first = f"110105{birth}{seq:03d}"
    return first + ric.calc_check_digit(first + "0")


def csv_file(*lines: str, encoding: str = "utf-8-sig") -> bytes:
    return ("\r\n".join((HEADER, *lines)) + "\r\n").encode(encoding)


def line(emp: str, name: str, seq: int, *, manager: str = "", hire: str = "2022-03-01", base: str = "12000.00",
         id_number: str | None = None) -> str:
    return ",".join((emp, name, id_number or resident_id("19900101", seq), "销售部", "销售顾问", hire, "Beijing",
                     "Beijing", base, manager, f"{emp.lower()}@corp.test"))


async def post(api: httpx.AsyncClient, auth, content: bytes, name: str = "员工.csv", *, dry_run: bool = False,
               role: Role = Role.HR_SPECIALIST) -> httpx.Response:
    return await api.post("/employees/import", params={"dry_run": str(dry_run).lower()},
                          files={"file": (name, content, "application/octet-stream")}, headers=auth(role, "hr.li"))


def registered(session_factory) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(Employee))


async def test_a_dry_run_checks_then_the_import_registers_everyone_at_once(api, auth, session_factory) -> None:
    # The manager comes after her reports: the order of the rows does not matter.
    content = csv_file(line("E2", "李雷", 2, manager="E1"), line("E3", "韩梅梅", 3, manager="E1"), line("E1", "王芳", 1))
    dry = await post(api, auth, content, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert (dry.json()["rows"], dry.json()["valid"], dry.json()["imported"], dry.json()["problems"]) == (3, 3, 0, [])
    assert registered(session_factory) == 0
    done = await post(api, auth, content)
    assert done.status_code == 201 and done.json()["imported"] == 3, done.text
    with session_factory() as s:
        managers = {e: m for e, m in s.execute(select(Employee.employee_id, Employee.manager_id))}
        assert managers == {"E1": None, "E2": "E1", "E3": "E1"}
        events = s.scalars(select(AuditEvent).where(AuditEvent.action.like("employee.%")).order_by(AuditEvent.id)).all()
        assert [e.action for e in events] == ["employee.imported"] + ["employee.registered"] * 3
        assert events[0].after["sha256"] == done.json()["sha256"] and events[0].after["employees"] == 3
        assert all("王芳" not in str(e.after) and resident_id("19900101", 1) not in str(e.after) for e in events)
        assert verify_chain(s).ok
    again = await post(api, auth, content)  # the same file twice registers nobody twice
    assert again.status_code == 422
    assert {(p["row"], p["rule"]) for p in again.json()["detail"]} >= {(2, "already_registered"), (4, "already_registered")}
    assert registered(session_factory) == 3


async def test_a_file_with_bad_rows_imports_nothing_and_names_every_bad_row(api, auth, session_factory) -> None:
    wrong_digit = resident_id("19900101", 5)[:-1] + ("0" if resident_id("19900101", 5)[-1] != "0" else "1")
    content = csv_file(
        line("E1", "王芳", 1),                                  # row 2: fine
        line("E2", "李雷", 2, id_number=wrong_digit),            # row 3: check digit
        line("E3", "韩梅梅", 3, hire="2021-02-30"),              # row 4: no such date
        line("E1", "王芳二", 4),                                 # row 5: the same number as row 2
        line("E5", "赵六", 6, manager="E404"),                   # row 6: a manager nobody knows
        line("E6", "钱七", 7, manager="E7"),                     # rows 7, 8: managers in a loop
        line("E7", "孙八", 8, manager="E6"),
        line("E8", "周九", 9, base="12000.001"),                 # row 9: fen at most
    )
    r = await post(api, auth, content)
    assert r.status_code == 422, r.text
    found = {(p["row"], p["field"], p["rule"]) for p in r.json()["detail"]}
    assert found == {(3, "resident_id_number", "resident_id_check_digit"), (4, "hire_date", "date_from_datetime_parsing"),
                     (5, "employee_id", "duplicate_in_file"), (6, "manager_id", "employee_exists"),
                     (7, "manager_id", "managers_loop"), (8, "manager_id", "managers_loop"),
                     (9, "contribution_base", "decimal_max_places")}
    by_row = {p["row"]: p for p in r.json()["detail"]}
    assert by_row[3]["column"] == "身份证号" and by_row[3]["message"].startswith("第 3 行：")
    assert "与第 2 行重复" in by_row[5]["message"]
    assert registered(session_factory) == 0
    dry = (await post(api, auth, content, dry_run=True)).json()
    assert (dry["rows"], dry["valid"]) == (8, 1) and {(p["row"], p["rule"]) for p in dry["problems"]} == \
        {(row, rule) for row, _, rule in found}
    english = await api.post("/employees/import", files={"file": ("e.csv", content)},
                             headers=auth(Role.HR_SPECIALIST, "hr.li") | {"Accept-Language": "en"})
    assert {p["row"]: p["message"] for p in english.json()["detail"]}[5] == "row 5: the same as row 2"


async def test_xlsx_as_excel_writes_it_with_dates_numbers_and_an_id_typed_as_a_number(api, auth, session_factory) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["员工编号", "姓名", "居民身份证号码", "部门", "岗位", "入职日期", "社保参保省份", "社保参保城市", "缴费基数"])
    sheet.append(["E1", "王芳", resident_id("19900101", 1), "人事部", "专员", dt.datetime(2022, 3, 1), "Beijing", "Beijing",
                  12000.1])
    sheet.append([1002, "李雷", resident_id("19900101", 2), "人事部", "专员", dt.datetime(2022, 3, 1), "Beijing", "Beijing",
                  15000])
    buffer = io.BytesIO()
    book.save(buffer)
    r = await post(api, auth, buffer.getvalue(), "员工.xlsx")
    assert r.status_code == 201, r.text
    with session_factory() as s:
        rows = {e.employee_id: (e.hire_date, e.contribution_base) for e in s.scalars(select(Employee))}
    assert rows == {"E1": (dt.date(2022, 3, 1), Decimal("12000.10")), "1002": (dt.date(2022, 3, 1), Decimal("15000.00"))}

    sheet.append(["E3", "韩梅梅", 110105199001010031, "人事部", "专员", dt.datetime(2022, 3, 1), "Beijing", "Beijing", 12000])
    buffer = io.BytesIO()
    book.save(buffer)
    r = await post(api, auth, buffer.getvalue(), "员工.xlsx", dry_run=True)
    problems = r.json()["problems"]
    assert [(p["row"], p["rule"]) for p in problems if p["row"] == 4] == [(4, "resident_id_as_text")]
    assert "须以文本格式保存" in problems[-1]["message"]


async def test_csv_as_chinese_excel_saves_it_in_gb18030(api, auth, session_factory) -> None:
    r = await post(api, auth, csv_file(line("E1", "王芳", 1), encoding="gb18030"))
    assert r.status_code == 201, r.text
    with session_factory() as s:
        assert s.scalars(select(Employee)).one().name == "王芳"


async def test_the_header_and_the_file_itself_are_checked_first(api, auth, session_factory) -> None:
    r = await post(api, auth, "工号,姓名,花名\r\nE1,王芳,小王\r\n".encode())
    assert r.status_code == 422
    rules = {(p["row"], p["rule"], p["column"]) for p in r.json()["detail"]}
    assert (1, "unknown_column", "花名") in rules and (1, "column_missing", None) in rules
    r = await post(api, auth, b"%PDF-1.4 not a table", "员工.xlsx")
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "table_format"
    r = await post(api, auth, b"PK\x03\x04broken zip", "员工.xlsx")
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "table_format"
    r = await post(api, auth, csv_file())
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "no_rows"
    assert (await post(api, auth, csv_file(line("E1", "王芳", 1)), role=Role.FINANCE)).status_code == 403
    assert registered(session_factory) == 0


async def test_the_template_is_a_file_the_import_takes(api, auth, session_factory) -> None:
    r = await api.get("/employees/import/template.csv", headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 200 and r.content.startswith("\ufeff员工编号".encode())
    dry = await post(api, auth, r.content, "template.csv", dry_run=True)
    assert dry.status_code == 200 and (dry.json()["valid"], dry.json()["problems"]) == (1, []), dry.text


async def test_what_an_attacker_would_upload_is_refused_in_words(api, auth, session_factory) -> None:
    nul = csv_file(line("E1", "王\x00芳", 1))
    r = await post(api, auth, nul)
    assert r.status_code == 422 and [(p["row"], p["field"], p["rule"]) for p in r.json()["detail"]] == \
        [(2, "name", "no_nul_character")]
    huge_field = (HEADER + "\r\n" + "E1," + "x" * 200_000 + "\r\n").encode()
    r = await post(api, auth, huge_field)
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] in ("table_format", "string_too_long"), r.text[:300]
    blank = (HEADER + "\r\n" + ",,,,,,,,,,\r\n" * 3000).encode()  # a million empty rows, in small
    r = await post(api, auth, blank)
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "too_many_rows"
    r = await post(api, auth, csv_file(*(line(f"E{i}", "王芳", i) for i in range(11))))
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "too_many_rows"  # HRFLOW_IMPORT_MAX_ROWS is 10 here
    assert "一次最多导入 10 行" in r.json()["detail"][0]["message"]
    assert registered(session_factory) == 0
