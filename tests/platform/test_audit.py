"""The audit trail is append-only in the database and tamper-evident through its hash chain."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from db import audit
from db.audit import AuditEntry, verify_chain
from hrflow.cli import main as cli


def _append(session_factory, n: int, actor: str = "hr.li") -> None:
    for i in range(n):
        with session_factory.begin() as s:
            audit.append(s, AuditEntry(actor=actor, actor_role="hr_specialist", action="test.step",
                                       workflow_id="wf-a", after={"i": i, "amount": "12.30"}))


def test_chain_verifies_after_appends(session_factory) -> None:
    _append(session_factory, 5)
    with session_factory() as s:
        report = verify_chain(s)
    assert (report.ok, report.rows_checked) == (True, 5)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET actor = 'someone-else'",
    "DELETE FROM audit_events",
    "TRUNCATE audit_events",
])
def test_database_refuses_changes(session_factory, statement: str) -> None:
    _append(session_factory, 2)
    with session_factory() as s, pytest.raises(DBAPIError, match="append-only"):
        s.execute(text(statement))
        s.commit()


def _tamper(session_factory, statement: str) -> None:
    """What only a superuser could do: switch the trigger off and change history."""
    with session_factory.begin() as s:
        s.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change"))
        s.execute(text(statement))
        s.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change"))


def test_edited_row_is_named(session_factory) -> None:
    _append(session_factory, 4)
    with session_factory() as s:
        third = s.execute(text("SELECT id FROM audit_events ORDER BY id OFFSET 2 LIMIT 1")).scalar()
    _tamper(session_factory, f"UPDATE audit_events SET after = '{{\"i\": 99}}' WHERE id = {third}")
    with session_factory() as s:
        report = verify_chain(s)
    assert not report.ok
    assert report.first_broken_id == third
    assert "content" in report.reason


def test_deleted_row_is_detected(session_factory) -> None:
    _append(session_factory, 4)
    with session_factory() as s:
        ids = list(s.execute(text("SELECT id FROM audit_events ORDER BY id")).scalars())
    _tamper(session_factory, f"DELETE FROM audit_events WHERE id = {ids[1]}")
    with session_factory() as s:
        report = verify_chain(s)
    assert (report.ok, report.first_broken_id) == (False, ids[2])


def test_concurrent_appends_keep_one_chain(session_factory) -> None:
    threads = [threading.Thread(target=_append, args=(session_factory, 10, f"u{t}")) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with session_factory() as s:
        report = verify_chain(s)
    assert (report.ok, report.rows_checked) == (True, 40)


def test_cli_verify_exit_codes(session_factory, database_url, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HRFLOW_DATABASE_URL", database_url)
    _append(session_factory, 3)
    assert cli(["audit", "verify"]) == 0
    assert '"ok": true' in capsys.readouterr().out
    with session_factory() as s:
        first = s.execute(text("SELECT min(id) FROM audit_events")).scalar()
    _tamper(session_factory, f"UPDATE audit_events SET actor = 'x' WHERE id = {first}")
    assert cli(["audit", "verify"]) == 1
    assert f'"first_broken_id": {first}' in capsys.readouterr().out
