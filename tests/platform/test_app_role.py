"""The role the API and worker run as (the dev stack's, and the README's for production): it does
every write hrflow makes, and none of what would let it hide one, such as switching the audit
trail's append-only triggers off or changing the schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg2
import pytest
from psycopg2 import errors, sql
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from db import audit
from db.audit import AuditEntry
from hrflow.stack import admin_cursor, grant_app_role, libpq_url, role_uri


@pytest.fixture
def app_role(database_url: str) -> Iterator[str]:
    """A role of this test's own (roles belong to the whole cluster, which parallel tests share)."""
    role = f"hrflow_app_{uuid.uuid4().hex[:8]}"
    grant_app_role(libpq_url(database_url), "a-secret/with:odd@chars", role)
    yield role_uri(database_url, role, "a-secret/with:odd@chars")
    with admin_cursor(libpq_url(database_url)) as cur:
        cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_the_app_role_writes_what_hrflow_writes(app_role: str) -> None:
    engine = create_engine(app_role)
    try:
        with sessionmaker(engine).begin() as s:
            assert s.scalar(text("SELECT current_user")).startswith("hrflow_app_")
            audit.append(s, AuditEntry(actor="hr.li", actor_role="hr_specialist", action="test.step",
                                       workflow_id="wf-role"))
        with sessionmaker(engine).begin() as s:
            assert audit.seal(s) is not None
        with sessionmaker(engine)() as s:
            assert audit.verify_chain(s).ok
    finally:
        engine.dispose()


@pytest.mark.parametrize("statement", [
    "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "ALTER TABLE audit_events DISABLE TRIGGER USER",
    "DROP TRIGGER audit_events_no_change ON audit_events",
    "ALTER TABLE employees ADD COLUMN note text",
    "CREATE TABLE shadow (id int)",
    "DROP TABLE audit_seals",
])
def test_the_app_role_cannot_change_the_schema_or_switch_the_audit_triggers_off(app_role: str,
                                                                                statement: str) -> None:
    conn = psycopg2.connect(libpq_url(app_role))
    try:
        with conn.cursor() as cur, pytest.raises(errors.InsufficientPrivilege):
            cur.execute(statement)
    finally:
        conn.close()


def test_the_app_role_cannot_rewrite_the_audit_trail(app_role: str) -> None:
    engine = create_engine(app_role)
    try:
        with sessionmaker(engine).begin() as s:
            audit.append(s, AuditEntry(actor="hr.li", actor_role="hr_specialist", action="test.step",
                                       workflow_id="wf-role"))
        for statement in ("UPDATE audit_events SET actor = 'nobody'", "DELETE FROM audit_events",
                          "TRUNCATE audit_events"):
            with engine.connect() as conn, pytest.raises(Exception, match="append-only|permission denied"):
                conn.execute(text(statement))
    finally:
        engine.dispose()
