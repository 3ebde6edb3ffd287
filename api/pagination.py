"""Keyset pagination: the rows after the cursor, in key order, and the cursor of the next page.

Every list of the API pages this way: ``cursor`` is the key of the last row of the previous page
(its ``next_cursor``), ``next_cursor`` is None on the last page. One row more than the page is read
to know whether another page follows.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

Row = TypeVar("Row")
Key = TypeVar("Key")
Out = TypeVar("Out", bound=BaseModel)


def where_given(stmt: Select[Row], *equal: tuple[InstrumentedAttribute[Any], object]) -> Select[Row]:
    """``stmt`` narrowed to the rows whose column equals each value given; a None value (a filter
    the caller left out) narrows nothing."""
    for column, value in equal:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def keyset_page(session: Session, stmt: Select[Row], key: InstrumentedAttribute[Key], cursor: Key | None,
                limit: int, out: type[Out], *, descending: bool = False) -> tuple[list[Out], Key | None]:
    """The page of ``stmt``'s rows ordered by ``key`` (newest first when ``descending``) after
    ``cursor``, each as ``out`` (read from the row's attributes), and the next page's cursor."""
    stmt = stmt.order_by(key.desc() if descending else key).limit(limit + 1)
    if cursor is not None:
        stmt = stmt.where(key < cursor if descending else key > cursor)
    rows = list(session.scalars(stmt))
    page = rows[:limit]
    last: Any = page[-1] if page else None
    return ([out.model_validate(row, from_attributes=True) for row in page],
            getattr(last, key.key) if len(rows) > limit else None)
