"""Each sweep query reads due rows through an index, never by scanning a whole table: with
sequential scans priced out, PostgreSQL must find an index path for every category."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from db import reminders
from tests.reminders.seed import NOW, seed

BIG_TABLES = {"approval_tasks", "case_deadlines", "receivables", "transfer_branches", "cases", "employees"}
# the partial index each category's driving table must be read through (only due rows are in it)
DRIVING_INDEX = {
    "approval_overdue": ("approval_tasks", {"ix_approval_tasks_open_due", "ix_approval_tasks_open_undated"}),
    "maternity_return": ("case_deadlines", {"ix_case_deadlines_open"}),
    "departure_filing": ("case_deadlines", {"ix_case_deadlines_open"}),
    "non_compete_proof": ("case_deadlines", {"ix_case_deadlines_open"}),
    "receivable_no_followup": ("receivables", {"ix_receivables_open_followup"}),
    "transfer_step_overdue": ("transfer_branches", {"ix_transfer_branches_active_due"}),
    "policy_lapse": ("employees", {"ix_employees_insured_city"}),  # the cities where someone employed is insured
}


class Recording:
    """Passes queries through to a real session and keeps them for EXPLAIN."""

    def __init__(self, session) -> None:
        self.session, self.statements = session, []
        self.info = session.info  # its keys: a look-up by e-mail digests the address

    def execute(self, stmt, *args, **kw):
        self.statements.append(stmt)
        return self.session.execute(stmt, *args, **kw)

    def scalars(self, stmt, *args, **kw):
        self.statements.append(stmt)
        return self.session.scalars(stmt, *args, **kw)

    def get(self, *args, **kw):  # by primary key
        return self.session.get(*args, **kw)

    def scalar(self, stmt, *args, **kw):
        self.statements.append(stmt)
        return self.session.scalar(stmt, *args, **kw)


def _scans(plan: dict) -> list[tuple[str, str, str]]:
    """(node type, table, index) of every node; a bitmap heap scan names the indexes under it."""
    index = plan.get("Index Name", "")
    if plan["Node Type"] == "Bitmap Heap Scan":
        index = ",".join(sorted({i for _, _, i in _scans_below(plan) if i}))
    found = [(plan["Node Type"], plan.get("Relation Name", ""), index)]
    return found + _scans_below(plan)


def _scans_below(plan: dict) -> list[tuple[str, str, str]]:
    return [scan for child in plan.get("Plans", []) for scan in _scans(child)]


@pytest.mark.parametrize("category", reminders.CATEGORIES)
def test_category_query_reads_its_partial_index(category: str, session_factory) -> None:
    seed(session_factory)
    _many_open_tasks_not_yet_due(session_factory)
    table, wanted = DRIVING_INDEX[category]
    with session_factory() as session:
        rec = Recording(session)
        for after in (None, reminders.Cursor(NOW - 400 * reminders.dt.timedelta(days=1), 0)):  # first and later batches
            reminders.due(rec, category, now=NOW, policy=reminders.SweepPolicy(), after=after, limit=50)
        session.execute(text("SET LOCAL enable_seqscan = off"))
        for stmt in rec.statements:
            sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
            plan = session.execute(text("EXPLAIN (FORMAT JSON) " + sql)).scalar_one()
            scans = _scans((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"])
            assert [r for node, r, _ in scans if node == "Seq Scan" and r in BIG_TABLES] == [], sql
            if not any(r == table for _, r, _ in scans):
                continue  # a look-up beside the category's query (a person's management chain): no scan, above
            driving = {i for _, r, index in scans if r == table for i in index.split(",")}
            assert driving and driving <= wanted, f"{category} read {table} through {driving}\n{sql}"


def _many_open_tasks_not_yet_due(session_factory) -> None:
    """Open work that is not due: an index over all open tasks (the inbox's) is no way to find
    the due ones, and with these rows the planner's costs say so too."""
    with session_factory.begin() as s:
        s.execute(text(
            "INSERT INTO approval_tasks (workflow_id, task_key, title, role, status, due_at, created_at)"
            " SELECT 'si-change-E1-1', 'later-' || n, 'Later', 'hr_specialist', 'open',"
            " :now + interval '30 days', :now FROM generate_series(1, 5000) AS n"), {"now": NOW})
        s.execute(text("ANALYZE approval_tasks"))
