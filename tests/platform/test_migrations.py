"""Migrations run from an empty database to head and back down to nothing, and up again."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, pool

from db import migrate

PLATFORM_TABLES = {"employees", "cases", "approval_tasks", "audit_events", "activity_steps"}


def _tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_up_down_up(empty_database_url: str) -> None:
    assert _tables(empty_database_url) == set()
    migrate.upgrade(empty_database_url)
    assert PLATFORM_TABLES <= _tables(empty_database_url)
    assert migrate.current(empty_database_url) is not None
    migrate.downgrade(empty_database_url, "base")
    assert _tables(empty_database_url) == set()
    assert migrate.current(empty_database_url) is None
    migrate.upgrade(empty_database_url)
    assert PLATFORM_TABLES <= _tables(empty_database_url)


def test_models_match_migrations(database_url: str) -> None:
    """Autogenerate finds nothing to do: the models and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from db.base import Base

    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
