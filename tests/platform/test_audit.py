"""The audit trail is append-only in the database and tamper-evident through its hash chain."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from db import audit
from db.audit import AuditEntry, verify_chain
from db.models import AuditEvent
from db.session import Limits, database_busy, make_engine, make_session_factory
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


def test_a_row_is_one_statement_hashed_as_python_hashes_it(session_factory) -> None:
    """PostgreSQL hashes the row by row_hash's recipe, however its content is spelled: Chinese text,
    keys named like the spliced fields, quotes and backslashes, a delegator, empty fields."""
    tricky = [
        {"after": {"备注": "王芳 “产假” 返岗", "prev_hash": "x", "seq": 7, "nested": {"seq": "\\\"q\""}}},
        {"before": None, "after": None, "subject": "E001", "on_behalf_of": "mgr.zhao", "request_id": "r-1"},
        {"after": ['"prev_hash":"', '"seq":'], "before": {"amount": "1234.56"}},
    ]
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    engine = session_factory.kw["bind"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        for fields in [{}, *tricky]:  # the first creates the chain's head
            with session_factory.begin() as s:
                statements.clear()
                audit.append(s, AuditEntry(actor="hr.李", actor_role="hr_specialist", action="test.tricky",
                                           workflow_id="wf-a", **fields))
                assert len(statements) == 1, statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
    with session_factory() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.chain == "case:wf-a").order_by(AuditEvent.seq)).all()
        assert [r.seq for r in rows] == [1, 2, 3, 4]
        assert all(r.hash == audit.row_hash(r) and r.prev_hash == p.hash for r, p in zip(rows[1:], rows, strict=False))
        assert (verify_chain(s).ok, verify_chain(s).rows_checked) == (True, 4)



def test_a_step_audited_once_is_one_statement_and_its_retries_write_nothing(session_factory) -> None:
    """``append_once`` claims the case's step and appends in one statement; a later try of the step
    (a retry after the commit) finds it claimed and writes nothing, and the chain still verifies."""
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    engine = session_factory.kw["bind"]
    event.listen(engine, "before_cursor_execute", count)
    entry = AuditEntry(actor="hr.li", actor_role="hr_specialist", action="test.once", workflow_id="wf-once",
                       after={"amount": "12.30"})
    try:
        verdicts = []
        for step in ("s1", "s1", "s2", "s1"):  # s1's first try creates the chain's head
            with session_factory.begin() as s:
                statements.clear()
                verdicts.append(audit.append_once(s, entry, step=step))
                assert len(statements) == 1, statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert verdicts == [True, False, True, False]
    with session_factory() as s:
        rows = s.scalars(select(AuditEvent.seq).where(AuditEvent.chain == "case:wf-once")).all()
        steps = s.scalars(text("SELECT step FROM activity_steps WHERE workflow_id = 'wf-once' ORDER BY step")).all()
        assert (sorted(rows), steps, verify_chain(s).ok) == ([1, 2], ["s1", "s2"], True)


def test_a_retry_of_a_step_still_being_audited_waits_and_writes_nothing(session_factory) -> None:
    """Two tries of one step at once (a retry while the first is still in its transaction): the
    second waits on the first's claim and, once that commits, finds the step done."""
    entry = AuditEntry(actor="hr.li", actor_role="hr_specialist", action="test.once", workflow_id="wf-twice")
    with session_factory.begin() as s:
        audit.append(s, entry)  # the chain has a head: both tries take the one-statement way
    answers: list[bool] = []

    def retry() -> None:
        with session_factory.begin() as s:
            answers.append(audit.append_once(s, entry, step="s1"))

    with session_factory.begin() as s:
        assert audit.append_once(s, entry, step="s1")
        racer = threading.Thread(target=retry)
        racer.start()
        racer.join(1.0)
        assert racer.is_alive() and answers == []  # held on the claim this transaction holds
    racer.join(10)
    assert answers == [False]
    with session_factory() as s:
        assert len(s.scalars(select(AuditEvent.id).where(AuditEvent.chain == "case:wf-twice")).all()) == 2


def test_a_claimed_first_row_that_raced_its_chains_first_row_lands_once(session_factory) -> None:
    """A step's first row of a new chain, racing another first row of that chain, goes the batch's
    way with its claim already made: it lands once, after the other, and its retry writes nothing."""
    other = AuditEntry(actor="first", actor_role="hr_specialist", action="test.first", workflow_id="wf-race")
    mine = AuditEntry(actor="second", actor_role="hr_specialist", action="test.once", workflow_id="wf-race")
    done: list[bool] = []

    def second() -> None:
        with session_factory.begin() as s:
            done.append(audit.append_once(s, mine, step="s1"))

    with session_factory.begin() as s:
        audit.append(s, other)
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(1.0)
        assert racer.is_alive()  # held on the head this transaction created
    racer.join(10)
    with session_factory.begin() as s:
        again = audit.append_once(s, mine, step="s1")
    assert (done, again) == ([True], False)
    with session_factory() as s:
        rows = s.execute(select(AuditEvent.actor, AuditEvent.seq).where(AuditEvent.chain == "case:wf-race")
                         .order_by(AuditEvent.seq)).all()
        assert [tuple(r) for r in rows] == [("first", 1), ("second", 2)]
        assert verify_chain(s).ok


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


@contextmanager
def _trigger_off(session_factory, table: str = "audit_events") -> Iterator[Session]:
    """What only a superuser could do: a transaction with the table's append-only trigger off."""
    with session_factory.begin() as s:
        s.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_change"))
        yield s
        s.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_no_change"))


def _tamper(session_factory, statement: str) -> None:
    """Switch the trigger off and change history."""
    with _trigger_off(session_factory) as s:
        s.execute(text(statement))


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


def test_two_first_rows_of_a_chain_at_once_both_land_in_order(session_factory) -> None:
    """The second waits on the head the first is creating, then appends after it."""
    def entry(actor: str) -> AuditEntry:
        return AuditEntry(actor=actor, actor_role="hr_specialist", action="test.first", workflow_id="wf-new")

    second_done = threading.Event()

    def second() -> None:
        with session_factory.begin() as s:
            audit.append(s, entry("second"))
        second_done.set()

    with session_factory.begin() as s:
        audit.append(s, entry("first"))
        racer = threading.Thread(target=second)
        racer.start()
        assert not second_done.wait(1.0)  # held on the head this transaction created
    racer.join(10)
    assert second_done.is_set()
    with session_factory() as s:
        rows = s.execute(select(AuditEvent.actor, AuditEvent.seq).where(AuditEvent.chain == "case:wf-new")
                         .order_by(AuditEvent.seq)).all()
        assert [tuple(r) for r in rows] == [("first", 1), ("second", 2)]
        assert verify_chain(s).ok


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


# ---------------------------------------------------------------- one chain per case, sealed


def _case_rows(session_factory, chain: str) -> list[tuple[int, int, str]]:
    with session_factory() as s:
        return list(s.execute(text("SELECT id, seq, hash FROM audit_events WHERE chain = :c ORDER BY seq"),
                              {"c": chain}).all())


def _seal(session_factory) -> audit.Sealed | None:
    with session_factory.begin() as s:
        return audit.seal(s)


def _in_cases(session_factory, cases: list[str], each: int) -> None:
    for i in range(each):
        for case in cases:
            with session_factory.begin() as s:
                audit.append(s, AuditEntry(actor="hr.li", actor_role="hr_specialist", action="test.step",
                                           workflow_id=case, after={"i": i}))


def test_each_case_has_its_own_chain_numbered_from_one(session_factory) -> None:
    _in_cases(session_factory, ["wf-a", "wf-b"], 3)
    with session_factory.begin() as s:
        audit.append(s, AuditEntry(actor="hr.li", actor_role="hr_specialist", action="employee.updated",
                                   subject="E001"))
        audit.append(s, AuditEntry(actor="admin", actor_role="admin", action="policy.changed"))
    assert [seq for _, seq, _ in _case_rows(session_factory, "case:wf-a")] == [1, 2, 3]
    assert [seq for _, seq, _ in _case_rows(session_factory, "case:wf-b")] == [1, 2, 3]
    assert len(_case_rows(session_factory, "subject:E001")) == len(_case_rows(session_factory, "system")) == 1
    with session_factory() as s:
        report = verify_chain(s)
    assert (report.ok, report.rows_checked, report.chains_checked, report.unsealed_rows) == (True, 8, 4, 8)


def test_a_held_case_chain_does_not_hold_up_another_case(database_url, session_factory) -> None:
    quick_engine = make_engine(database_url, pool_size=2, limits=Limits(lock_timeout_ms=300))
    quick = make_session_factory(quick_engine)
    with session_factory.begin() as holder:  # a transaction that appended to wf-a and has not committed
        audit.append(holder, AuditEntry(actor="hr.li", actor_role="hr_specialist", action="test.step",
                                        workflow_id="wf-a"))
        with quick.begin() as other:
            audit.append(other, AuditEntry(actor="hr.wang", actor_role="hr_specialist", action="test.step",
                                           workflow_id="wf-b"))
        with pytest.raises(DBAPIError) as waited, quick.begin() as same:
            audit.append(same, AuditEntry(actor="hr.wang", actor_role="hr_specialist", action="test.step",
                                          workflow_id="wf-a"))
    quick_engine.dispose()
    assert database_busy(waited.value)
    with session_factory() as s:
        assert verify_chain(s).ok


def test_a_seal_folds_only_the_heads_that_moved(session_factory) -> None:
    _in_cases(session_factory, ["wf-a", "wf-b", "wf-c"], 2)
    first = _seal(session_factory)
    assert first is not None and first.chains == 3
    assert _seal(session_factory) is None  # nothing moved since
    _in_cases(session_factory, ["wf-b"], 1)
    second = _seal(session_factory)
    assert second is not None and second.chains == 1
    with session_factory() as s:
        heads = s.execute(text("SELECT heads FROM audit_seals ORDER BY id DESC LIMIT 1")).scalar_one()
        report = verify_chain(s)
    assert heads == {"case:wf-b": [3, _case_rows(session_factory, "case:wf-b")[-1][2]]}
    assert (report.ok, report.seals_checked, report.unsealed_rows, report.head_hash) == (True, 2, 0, second.hash)
    _in_cases(session_factory, ["wf-c"], 1)
    with session_factory() as s:
        assert verify_chain(s).unsealed_rows == 1


def test_seals_refuse_changes(session_factory) -> None:
    _in_cases(session_factory, ["wf-a"], 1)
    _seal(session_factory)
    for statement in ("UPDATE audit_seals SET heads = '{}'", "DELETE FROM audit_seals", "TRUNCATE audit_seals"):
        with session_factory() as s, pytest.raises(DBAPIError, match="audit_seals is append-only"):
            s.execute(text(statement))
            s.commit()


def _rewrite_chain(session_factory, chain: str, keep: int | None = None) -> None:
    """What a superuser covering her tracks does: rewrite a case's rows with fresh, consistent
    hashes (or cut the chain at ``keep`` rows) and move its head to match."""
    with _trigger_off(session_factory) as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq)).all()
        if keep is not None:
            s.execute(text("DELETE FROM audit_events WHERE chain = :c AND seq > :k"), {"c": chain, "k": keep})
            rows = rows[:keep]
        else:
            prev = audit.GENESIS
            for row in rows:
                row.actor, row.prev_hash = "someone-else", prev
                row.hash = prev = audit.row_hash(row)
            s.flush()
        s.execute(text("UPDATE audit_chain_heads SET seq = :n, head_hash = :h WHERE chain = :c"),
                  {"n": len(rows), "h": rows[-1].hash, "c": chain})


def test_a_consistently_rewritten_case_breaks_its_seal(session_factory) -> None:
    _in_cases(session_factory, ["wf-a", "wf-b"], 3)
    _seal(session_factory)
    _rewrite_chain(session_factory, "case:wf-a")
    with session_factory() as s:
        report = verify_chain(s)
    assert (report.ok, report.broken_chain) == (False, "case:wf-a")
    assert report.first_broken_id == _case_rows(session_factory, "case:wf-a")[-1][0]
    assert "seal" in report.reason


def test_a_cut_sealed_tail_is_found_even_with_the_head_moved_back(session_factory) -> None:
    _in_cases(session_factory, ["wf-a"], 4)
    _seal(session_factory)
    _rewrite_chain(session_factory, "case:wf-a", keep=2)
    with session_factory() as s:
        report = verify_chain(s)
    assert (report.ok, report.broken_chain, report.first_broken_id) == (False, "case:wf-a", None)
    assert "sealed at row 4" in report.reason


def test_a_cut_unsealed_tail_is_found_by_the_head(session_factory) -> None:
    _in_cases(session_factory, ["wf-a"], 3)
    _tamper(session_factory, "DELETE FROM audit_events WHERE chain = 'case:wf-a' AND seq = 3")
    with session_factory() as s:
        report = verify_chain(s)
    assert (report.ok, report.broken_chain) == (False, "case:wf-a")
    assert "head" in report.reason


def test_an_edited_seal_is_named(session_factory) -> None:
    _in_cases(session_factory, ["wf-a"], 1)
    _seal(session_factory)
    with _trigger_off(session_factory, "audit_seals") as s:
        s.execute(text("""UPDATE audit_seals SET heads = jsonb_set(heads, '{case:wf-a,0}', '0')"""))
    with session_factory() as s:
        report = verify_chain(s)
    assert (report.ok, report.broken_chain) == (False, "seals")
    assert "content" in report.reason


def test_rows_from_before_per_case_chains_still_verify_and_are_sealed_once(session_factory) -> None:
    prev = audit.GENESIS
    with session_factory.begin() as s:  # two rows as the single global chain wrote them
        for i in range(2):
            row = {"occurred_at": dt.datetime(2026, 11, 1, tzinfo=dt.UTC), "actor": "hr.li",
                   "actor_role": "hr_specialist", "action": "test.old", "workflow_id": "wf-old", "subject": None,
                   "before": None, "after": {"i": i}, "request_id": None, "on_behalf_of": None,
                   "chain": None, "seq": None, "prev_hash": prev}
            row["hash"] = prev = audit.row_hash(row)
            s.execute(insert(AuditEvent).values(row))
    _in_cases(session_factory, ["wf-old"], 1)
    first = _seal(session_factory)
    assert first is not None and first.chains == 2
    with session_factory() as s:
        heads = s.execute(text("SELECT heads FROM audit_seals")).scalar_one()
        report = verify_chain(s)
    assert heads[audit.LEGACY] == [2, prev]
    assert (report.ok, report.rows_checked, report.chains_checked) == (True, 3, 2)
    _tamper(session_factory, "DELETE FROM audit_events WHERE chain IS NULL AND after = '{\"i\": 1}'")
    with session_factory() as s:
        report = verify_chain(s)
    assert (report.ok, report.broken_chain) == (False, audit.LEGACY)


def test_a_batch_across_many_chains_lands_whole_and_verifies(session_factory) -> None:
    entries = [AuditEntry(actor="import", actor_role="hr_specialist", action="employee.imported",
                          subject=f"E{i:05d}") for i in range(2500)]
    entries += [AuditEntry(actor="import", actor_role="hr_specialist", action="import.done",
                           workflow_id="wf-import", after={"n": n}) for n in range(3)]
    with session_factory.begin() as s:
        audit.append_many(s, entries)
    with session_factory() as s:
        report = verify_chain(s)
        heads = s.execute(text("SELECT count(*), max(seq) FROM audit_chain_heads")).one()
    assert (report.ok, report.rows_checked, report.chains_checked) == (True, 2503, 2501)
    assert tuple(heads) == (2501, 3)
    assert [seq for _, seq, _ in _case_rows(session_factory, "case:wf-import")] == [1, 2, 3]


def test_one_case_verifies_against_its_newest_seal(session_factory) -> None:
    _in_cases(session_factory, ["wf-a", "wf-b"], 2)
    sealed = _seal(session_factory)
    _in_cases(session_factory, ["wf-a"], 1)
    with session_factory() as s:
        one = audit.verify_case(s, "wf-a")
        none = audit.verify_case(s, "wf-never")
    assert sealed is not None
    assert (one.ok, one.rows_checked, one.unsealed_rows, one.head_hash) == (True, 3, 1, sealed.hash)
    assert (none.ok, none.rows_checked) == (True, 0)
    _rewrite_chain(session_factory, "case:wf-a")
    with session_factory() as s:
        broken, other = audit.verify_case(s, "wf-a"), audit.verify_case(s, "wf-b")
    assert (broken.ok, broken.broken_chain, other.ok) == (False, "case:wf-a", True)
    assert "seal" in broken.reason


def test_cli_seals_and_verifies_one_case(session_factory, database_url, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HRFLOW_DATABASE_URL", database_url)
    _in_cases(session_factory, ["wf-a"], 2)
    assert cli(["audit", "seal"]) == 0
    assert '"chains": 1' in capsys.readouterr().out
    assert cli(["audit", "verify", "--case", "wf-a"]) == 0
    out = capsys.readouterr().out
    assert '"ok": true' in out and '"rows_checked": 2' in out and '"unsealed_rows": 0' in out
