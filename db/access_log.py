"""The personal data access log: every time a person's data leaves hrflow unmasked, who it went to.

``record`` is called inside the transaction that builds the answer, before the answer exists, so
an answer that carries a full value is never given unlogged: if the row cannot be written, the read
fails with it. Where it is called, and what each row says:

- ``GET /employees/{id}`` (and the other answers that present her record): ``resident_id_number``
  and ``name``, one row each, only when the reader's role sees that value in full
  (``domain.privacy``); a masked value is not a disclosure and is not logged.
- a transfer material's download: ``document``, ``detail`` the material's id, code and file name,
  ``purpose`` the transfer's workflow id.
- an export of her data (``api.routes.personal_export``): ``export``.

A person's own views are not logged: she is the data subject, and her looking at her own record
tells compliance nothing. An export is logged whoever asks for it, herself included: a whole file
of her data leaves the system, which is what a stolen session would be used for.

The evidence bundle (``api.routes.evidence``) is not logged here: it carries the case, its tasks
and its audit entries, whose personal data is masked before it is stored (``db.audit``), and each
export of it is an audit entry of its own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from db.models import ACCESS_KINDS, PersonalDataAccess
from domain.roles import Role

EXPORT = "export"
_CURSOR = re.compile(r"^(\d{1,20})\.(\d{1,19})$")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Reader(Protocol):
    """Who read (``api.auth.Principal`` is one): the login, her role, the delegator she acts for."""

    @property
    def user(self) -> str: ...
    @property
    def role(self) -> Role: ...
    @property
    def on_behalf_of(self) -> str | None: ...
    def is_self(self, employee_id: str | None) -> bool: ...


def record(session: Session, reader: Reader, employee_id: str, what: str, *,
           purpose: str | None = None, detail: str | None = None, request_id: str) -> bool:
    """Add one row in the caller's transaction (flushed with it); False when nothing is logged
    because she reads her own data. ``what`` is one of ``ACCESS_KINDS``."""
    if what not in ACCESS_KINDS:
        raise ValueError(f"unknown access kind {what!r}")
    if what != EXPORT and reader.is_self(employee_id):
        return False
    session.add(PersonalDataAccess(
        at=dt.datetime.now(dt.UTC), actor=reader.user, actor_role=reader.role.value, on_behalf_of=reader.on_behalf_of,
        employee_id=employee_id, what=what, detail=detail[:300] if detail else None, purpose=purpose,
        request_id=request_id))
    return True


# ---------------------------------------------------------------- reading the log
@dataclass(frozen=True)
class Filter:
    employee_id: str | None = None
    actor: str | None = None
    what: str | None = None
    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # exclusive


def cursor_of(row: PersonalDataAccess) -> str:
    """The key of a row as a page's ``next_cursor``: its time in microseconds and its id."""
    micros = (row.at - _EPOCH) // dt.timedelta(microseconds=1)
    return f"{micros}.{row.id}"


def parse_cursor(cursor: str) -> tuple[dt.datetime, int] | None:
    """``cursor_of``'s key back; None when the text is not one."""
    found = _CURSOR.match(cursor)
    if found is None:
        return None
    try:
        at = _EPOCH + dt.timedelta(microseconds=int(found.group(1)))
    except OverflowError:
        return None
    return at, int(found.group(2))


def _selected(given: Filter) -> Select[PersonalDataAccess]:
    stmt = select(PersonalDataAccess)
    for column, value in ((PersonalDataAccess.employee_id, given.employee_id),
                          (PersonalDataAccess.actor, given.actor), (PersonalDataAccess.what, given.what)):
        if value is not None:
            stmt = stmt.where(column == value)
    if given.since is not None:
        stmt = stmt.where(PersonalDataAccess.at >= given.since)
    if given.until is not None:
        stmt = stmt.where(PersonalDataAccess.at < given.until)
    return stmt.order_by(PersonalDataAccess.at.desc(), PersonalDataAccess.id.desc())


def page(session: Session, given: Filter, *, cursor: tuple[dt.datetime, int] | None,
         limit: int) -> tuple[list[PersonalDataAccess], str | None]:
    """Newest first (time, then id), the rows after ``cursor``, and the next page's cursor (None:
    the last page). Keyset: a page reads only its own rows, however far down the log it is."""
    stmt = _selected(given).limit(limit + 1)
    if cursor is not None:
        at, last_id = cursor
        stmt = stmt.where(or_(PersonalDataAccess.at < at,
                              and_(PersonalDataAccess.at == at, PersonalDataAccess.id < last_id)))
    rows = list(session.scalars(stmt))
    shown = rows[:limit]
    return shown, cursor_of(shown[-1]) if len(rows) > limit else None


def every(session: Session, given: Filter, *, chunk: int = 1000) -> Iterator[PersonalDataAccess]:
    """Every row the filter selects, newest first, read ``chunk`` at a time (the CSV download)."""
    yield from session.scalars(_selected(given).execution_options(yield_per=chunk))
