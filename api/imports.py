"""What every spreadsheet import shares (employees, the organisation): the upload read as a table,
its header matched to a body's fields by their Chinese, other or English names, cells as a body
takes them, each problem named by row (as Excel numbers it), column (as the file names it), field
and rule in both languages, and the template a clerk fills in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from fastapi import UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request

from api.body_limit import read_upload
from api.errors import ApiError, validation_items
from api.i18n import Language, Text, say
from api.spreadsheets import Cell, Table, UnreadableTable, read_table


class RowProblem(BaseModel):
    row: int = Field(description="the row as Excel numbers it (the header is row 1)")
    column: str | None = Field(description="the column as the file names it")
    field: str
    rule: str
    message: str

def problem_at(row: int, column: str | None, field: str, rule: str, zh: str, en: str) -> dict[str, Any]:
    return {"row": row, "column": column, "field": field, "rule": rule,
            "message": Text(f"第 {row} 行：{zh}", f"row {row}: {en}")}

def columns_of(header: list[str], known: dict[str, tuple[str, ...]], required: tuple[str, ...]
               ) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Field -> the file's header for it (``known``: each field's Chinese, other and English
    names), and the problems of the header row."""
    names_of = {h.casefold(): field for field, names in known.items() for h in (field, *names)}
    found: dict[str, str] = {}
    problems = []
    for name in header:
        if not name:
            continue
        field = names_of.get(name.casefold())
        if field is None:
            problems.append(problem_at(1, name, "file", "unknown_column", f"不认识列名“{name}”，可用的列名见导入模板",
                                     f"column '{name}' is not known; the import template lists the columns"))
        elif field in found:
            problems.append(problem_at(1, name, field, "duplicate_column", f"“{name}”与“{found[field]}”是同一列",
                                     f"'{name}' and '{found[field]}' are the same column"))
        else:
            found[field] = name
    for field in required:
        if field not in found:
            zh_name, en_name = known[field][0], known[field][-1]
            problems.append(problem_at(1, None, field, "column_missing", f"缺少必填的列“{zh_name}”",
                                     f"the required column '{en_name}' is missing"))
    return found, problems

def cell_value(cell: Cell, *, amount: bool = False) -> Any:
    """A cell as a request body takes it: dates as dates, an ``amount`` as an exact decimal (an
    Excel number is a binary float: 12000.1 is read as the decimal it shows), numbers as text."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if isinstance(cell, dt.datetime):
        return cell.date() if cell.time() == dt.time() else cell
    if isinstance(cell, float):
        return Decimal(repr(cell)) if amount else (
            str(int(cell)) if cell.is_integer() else repr(cell))
    if isinstance(cell, int) and not isinstance(cell, bool):
        return Decimal(cell) if amount else str(cell)
    return cell.strip() if isinstance(cell, str) else cell

def validation_problems(number: int, header_of: dict[str, str], exc: ValidationError) -> list[dict[str, Any]]:
    errors = RequestValidationError(exc.errors())
    zh, en = validation_items(errors, "zh"), validation_items(errors, "en")
    return [{"row": number, "column": header_of.get(z["field"]), "field": z["field"], "rule": z["rule"],
             "message": Text(f"第 {number} 行：{z['message']}", f"row {number}: {e['message']}")}
            for z, e in zip(zh, en, strict=True)]


def problem_from(number: int, header_of: dict[str, str], item: dict[str, Any]) -> dict[str, Any]:
    message = str(item.get("message", ""))
    zh, en = say(message, "zh"), say(message, "en")
    field = str(item.get("field", "body"))
    return {"row": number, "column": header_of.get(field), "field": field, "rule": str(item.get("rule")),
            "message": Text(f"第 {number} 行：{zh}", f"row {number}: {en}")}

def said(items: Iterable[dict[str, Any]], lang: Language) -> list[RowProblem]:
    return [RowProblem(row=i["row"], column=i["column"], field=i["field"], rule=i["rule"],
                       message=say(i["message"], lang)) for i in items]


async def uploaded_table(file: UploadFile, request: Request) -> tuple[Table, str]:
    """The upload as a table, and its SHA-256 for the audit trail; a file that is too large or not
    a spreadsheet is refused (413, 422 naming ``file``)."""
    settings = request.app.state.settings
    content = await read_upload(file, settings.max_upload_bytes)
    try:
        table = read_table(content, file.filename or "", max_rows=settings.import_max_rows)
    except UnreadableTable as exc:
        raise ApiError(422, "validation_failed", [{"field": "file", "rule": exc.rule,
                                                   "message": Text(exc.zh, exc.en)}]) from None
    return table, hashlib.sha256(content).hexdigest()


def template(columns: dict[str, tuple[str, ...]], examples: list[dict[str, str]], filename: str) -> Response:
    """The columns' Chinese names and example rows, as UTF-8 with a byte-order mark so that Excel
    opens it without garbling."""
    lines = [",".join(names[0] for names in columns.values())]
    lines += [",".join(row[field] for field in columns) for row in examples]
    return Response(("\ufeff" + "\r\n".join(lines) + "\r\n").encode(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"})
