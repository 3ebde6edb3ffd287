"""``/privacy/access-log``: compliance reads who saw whose personal data in full, and why (PIPL).

The rows are ``db.access_log``'s; this module only filters them, a page at a time (keyset on time
and id, newest first) or all of a filter's rows as a CSV file. Reading the log is not itself logged:
it names people by number and carries no name or ID number.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.auth import Principal, require
from api.errors import ApiError, responses
from api.routes import resource_router
from api.transactions import transact
from db import access_log
from db.models import ACCESS_KINDS
from domain.roles import Role

router = resource_router(prefix="/privacy", tags=["privacy"])
CHINA = dt.timezone(dt.timedelta(hours=8))
Compliance = Annotated[Principal, Depends(require(Role.COMPLIANCE, Role.ADMIN))]
MAX_CSV_ROWS = 100_000  # a bigger download is a narrower filter's, not one file's
# What each kind of row says, Chinese first: the CSV's words and the web page's.
KIND_WORDS = {"resident_id_number": ("身份证号", "resident ID number"), "name": ("姓名", "name"),
              "document": ("文件", "document"), "export": ("个人信息导出", "export of her data")}
CSV_COLUMNS = ("时间（北京时间） (Time in China)", "查阅人 (Reader)", "角色 (Role)", "代为办理的委托人 (On behalf of)",
               "员工编号 (Employee)", "查阅内容 (What)", "详情 (Detail)", "查阅目的（案件） (Purpose: case)",
               "请求编号 (Request id)")

EmployeeQuery = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="whose data (an employee number)")]
ActorQuery = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._@-]{1,64}$", description="who read it (a login)")]
WhatQuery = Annotated[str | None, Query(description="what was read: " + ", ".join(ACCESS_KINDS))]
SinceQuery = Annotated[dt.datetime | None, Query(description="from this time on (a time without a zone is China time)")]
UntilQuery = Annotated[dt.datetime | None, Query(description="before this time (a time without a zone is China time)")]


class AccessOut(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    actor_role: str
    on_behalf_of: str | None
    employee_id: str
    what: str
    detail: str | None
    purpose: str | None
    request_id: str


class AccessPage(BaseModel):
    items: list[AccessOut]
    next_cursor: str | None


def _instant(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value if value.tzinfo else value.replace(tzinfo=CHINA)


def _filter(employee_id: str | None, actor: str | None, what: str | None, since: dt.datetime | None,
            until: dt.datetime | None) -> access_log.Filter:
    """The filter the query asks for, or a 422 naming the parameter and its rule."""
    if what is not None and what not in ACCESS_KINDS:
        kinds = ", ".join(ACCESS_KINDS)
        raise ApiError(422, "validation_failed", [{"field": "query.what", "rule": "access_kind_known",
                                                   "message": f"查阅内容须为以下之一：{kinds} (must be one of {kinds})"}])
    start, end = _instant(since), _instant(until)
    if start is not None and end is not None and start >= end:
        raise ApiError(422, "validation_failed", [{"field": "query.until", "rule": "period_order",
                                                   "message": f"截止时间须晚于起始时间 {since} (until must be after since {since})"}])
    return access_log.Filter(employee_id=employee_id, actor=actor, what=what, since=start, until=end)


@router.get("/access-log", response_model=AccessPage, responses=responses(401, 403),
            summary="个人信息访问记录 (Personal data access log)")
async def read_log(
    request: Request, _: Compliance,
    employee_id: EmployeeQuery = None, actor: ActorQuery = None, what: WhatQuery = None,
    since: SinceQuery = None, until: UntilQuery = None,
    cursor: Annotated[str | None, Query(max_length=60, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AccessPage:
    """谁在何时、为何完整查看了谁的个人信息（身份证号、姓名、文件、个人信息导出），新的在前，分页（cursor 为上一页的
    next_cursor）；可按员工、查阅人、查阅内容和时间段筛选（不带时区的时间按北京时间）。仅合规和管理员可调用，其他角色答 403；
    参数不合规则答 422 并指出参数和规则。

    Who saw whose personal data in full (ID number, name, document, an export of her data), when
    and why, newest first, a page at a time (``cursor`` is the previous page's ``next_cursor``);
    filter by employee, reader, what was read and period (a time without a zone is China time).
    Compliance and admins only (anyone else 403); a parameter breaking its rule is 422 naming it."""
    given = _filter(employee_id, actor, what, since, until)
    after = None
    if cursor is not None:
        after = access_log.parse_cursor(cursor)
        if after is None:
            raise ApiError(422, "validation_failed", [{"field": "query.cursor", "rule": "cursor_format",
                                                       "message": "翻页位置须为上一页答复中的 next_cursor"
                                                                  " (cursor must be a next_cursor of a previous page)"}])

    def work(session: Session) -> AccessPage:
        rows, next_cursor = access_log.page(session, given, cursor=after, limit=limit)
        return AccessPage(items=[AccessOut.model_validate(r, from_attributes=True) for r in rows],
                          next_cursor=next_cursor)

    return await transact(request, work)


@router.get("/access-log.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}, **responses(401, 403)},
            summary="个人信息访问记录 CSV (The access log as CSV)")
async def log_csv(
    request: Request, _: Compliance,
    employee_id: EmployeeQuery = None, actor: ActorQuery = None, what: WhatQuery = None,
    since: SinceQuery = None, until: UntilQuery = None,
) -> Response:
    """筛选条件（与列表相同）下的全部访问记录，新的在前，以附件下载：UTF-8 带 BOM（Excel 直接打开），首行为中英文列名，
    时间为北京时间，以公式开头的文字前加撇号。超过 10 万行答 422，请缩小时间段。仅合规和管理员可调用。

    Every row the filter (the list's) selects, newest first, as an attachment: UTF-8 with a
    byte-order mark (Excel opens it as is), Chinese and English column names first, times in China
    time, text that starts like a formula behind an apostrophe. Over 100,000 rows is 422: narrow
    the period. Compliance and admins only."""
    given = _filter(employee_id, actor, what, since, until)

    def work(session: Session) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for count, row in enumerate(access_log.every(session, given), start=1):
            if count > MAX_CSV_ROWS:
                raise ApiError(422, "validation_failed", [{
                    "field": "query.since", "rule": "csv_rows_within_limit",
                    "message": f"超过 {MAX_CSV_ROWS} 行，请缩小时间段 (over {MAX_CSV_ROWS} rows: narrow the period)"}])
            writer.writerow([row.at.astimezone(CHINA).isoformat(timespec="seconds"), row.actor, row.actor_role,
                             row.on_behalf_of or "", row.employee_id, KIND_WORDS.get(row.what, (row.what,))[0],
                             _cell(row.detail), row.purpose or "", row.request_id])
        return out.getvalue()

    body = await transact(request, work)
    name = f"access-log-{dt.datetime.now(CHINA):%Y%m%d-%H%M%S}.csv"
    return Response(("\ufeff" + body).encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _cell(value: str | None) -> str:
    """A CSV cell Excel will not run: text starting like a formula gets a leading apostrophe."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
