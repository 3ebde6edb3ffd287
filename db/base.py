"""Declarative base with a constraint naming convention, so Alembic migrations name things stably."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import MetaData, Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table(model: type[Base]) -> Table:
    """A mapped class's table, for the hot paths' Core statements: an INSERT or UPDATE on the table
    skips the ORM's bulk-persistence machinery, which costs more Python than the statement."""
    found = model.__table__
    assert isinstance(found, Table)
    return found


def upsert(model: type[Base], keys: Iterable[str], updated: Iterable[str]) -> Any:
    """INSERT ... ON CONFLICT (``keys``) DO UPDATE SET ``updated`` from the row offered, built once
    by a hot path (module level) and executed with its values as parameters."""
    new = insert(table(model))
    return new.on_conflict_do_update(index_elements=list(keys), set_={c: new.excluded[c] for c in updated})
