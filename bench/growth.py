"""Growth: the inbox, case list and report queries at 1k, 10k and 100k cases.

    python -m bench.growth --size small|full [--plans PATH]

For each size a fresh database (migrated to head) is bulk-seeded with COPY (never through
workflows), ANALYZEd, and each query is sent through the real API routes (``api.app.create_app``
over ASGI in this process; Temporal is not involved in these reads). The SQL each request issues
is captured from the engine and run again under EXPLAIN (ANALYZE): its server-side execution time
(median of repeated runs, summed over the request's statements) is the figure, the largest size's
over the smallest (target <= 2); the request time end to end is shown beside it (it also carries
the fixed cost of HTTP, auth and JSON, and the noise of a shared machine). Any "Seq Scan" on a
seeded table at the largest size is reported, and whether the planner would still choose it with
``random_page_cost = 1.1`` (the usual setting for SSD storage; PostgreSQL's default is 4).

The data model, the same at every size, is an installation growing older: only history piles up.
- cases arrive at 1,000 a month, oldest first (ids follow time): 1k cases are one month of
  history, 100k are a hundred months; kinds in turn (si_change, maternity, offboarding, transfer,
  non_compete);
- each case takes 5 to 90 days; those not finished by now are open, and so is one case in 50 of
  any age (the long-running ones: leaves, non-competes, items carried on), so open work grows a
  little and its share falls (1k: about two thirds open; 100k: about 3%);
- each case has two decided approval tasks, and each open case one open task for a role drawn at
  random (hr_specialist, hr_manager, finance, compliance, it); one in ten open tasks is assigned;
- every transfer case has its transfers row, three branches (completed with 10-60 days of
  processing within the case's time when it is closed) and an approving review; one in five was first
  rejected;
- employees: one per two cases.
The report is the transfer statistics (``db.transfer_stats`` via ``GET /transfers/statistics``) for
the last 30 days, as HR runs it monthly, with and without a department.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import random
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    EMPLOYEE_COLUMNS,
    Stack,
    Table,
    employee_rows,
    machine_facts,
    print_facts,
    say,
    size_arg,
    verdict,
    write_json,
)
from domain.roles import Role

SIZES = {"tiny": [200, 2000], "small": [1000, 10_000], "full": [1000, 10_000, 100_000]}
REPEATS = {"tiny": 5, "small": 15, "full": 25}
TARGET = 2.0
CHINA = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 1, tzinfo=CHINA)  # the newest case arrives just before this
PER_MONTH = 1000
KINDS = ("si_change", "maternity", "offboarding", "transfer", "non_compete")
ROLES = ("hr_specialist", "hr_manager", "finance", "compliance", "it")
PROVINCES = ("guizhou", "heilongjiang", "beijing", "shanghai", "guangdong", "sichuan", "zhejiang", "hubei")
DEPARTMENTS = ("Sales", "Research", "Operations", "Finance", "Legal", "IT", "Support", "Marketing")
REASONS = ("missing_document", "illegible_document", "wrong_document", "data_mismatch", "not_eligible", "other")
SEEDED = ("employees", "cases", "approval_tasks", "transfers", "transfer_branches", "transfer_reviews")
USER = "mgr.wang"  # the hr_manager who reads the inbox


@dataclass
class Query:
    name: str
    role: Role
    path: str  # may name {cursor_case}, {cursor_task}, {period_from}, {period_to}, {department}


QUERIES = [
    Query("inbox, first page", Role.HR_MANAGER, "/inbox"),
    Query("inbox, next page", Role.HR_MANAGER, "/inbox?cursor={cursor_task}"),
    Query("cases, first page", Role.HR_MANAGER, "/cases"),
    Query("cases, page in the middle", Role.HR_MANAGER, "/cases?cursor={cursor_case}"),
    Query("cases, open transfers", Role.HR_MANAGER, "/cases?kind=transfer&status=open"),
    Query("cases, one employee", Role.HR_MANAGER, "/cases?employee_id={employee}"),
    Query("report: transfer statistics, 30 days", Role.HR_MANAGER,
          "/transfers/statistics?from={period_from}&to={period_to}"),
    Query("report: transfer statistics, 30 days, one department", Role.HR_MANAGER,
          "/transfers/statistics?from={period_from}&to={period_to}&department={department}"),
    # TODO(monthly report): another engineer is adding a monthly report module (api/routes/reports.py).
    # When it lands, add its request here, e.g.
    #     Query("report: monthly", Role.HR_MANAGER, "/reports/monthly?month={month}"),
    # (``{month}`` is filled in ``params`` below), and seed in ``seed()`` any table it reads that is
    # not seeded yet; its plan is then checked for Seq Scans and its growth measured like the others.
]


# What this benchmark proposes (db/models/ and the migrations are not the benchmark's to change):
# each index is created in a second pass over the same seeded database, after the measurement of the
# schema as it ships, and the queries are measured again, so the proposal is shown to work.
PROPOSED_INDEXES = [
    ("inbox: open tasks of a role in id order (the inbox's ORDER BY id LIMIT n: one page's work at any size)",
     "CREATE INDEX IF NOT EXISTS ix_approval_tasks_open_role_id ON approval_tasks (role, id) WHERE status = 'open'"),
    ("report: rejections of the period's transfers, found from the transfers (also indexes the foreign key)",
     "CREATE INDEX IF NOT EXISTS ix_transfer_reviews_workflow_id ON transfer_reviews (workflow_id)"),
]


def processing_time_proposed(session: Any, f: Any) -> list[Any]:
    """The proposed form of ``db.transfer_stats.processing_time`` (same figures, same filter): the
    branches of the period's transfers are found by their ids (``workflow_id = ANY(ARRAY(SELECT
    ...))``) through uq_transfer_branches_workflow_id_kind. Joined as it ships, PostgreSQL at its
    default costs hash-joins with a Seq Scan over every branch ever filed, whatever the period."""
    from sqlalchemy import Numeric, cast, extract, func, literal, select

    from db import transfer_stats as stats
    from db.models import Transfer, TransferBranch

    period = stats.filtered(select(Transfer.workflow_id), f).scalar_subquery()
    seconds = extract("epoch", TransferBranch.completed_at - TransferBranch.started_at)
    days = literal(86400, Numeric)
    average = func.round(func.avg(seconds) / days, 1).label("average_days")
    p90 = func.round(cast(func.percentile_cont(0.9).within_group(seconds), Numeric) / days, 1).label("p90_days")
    stmt = (select(TransferBranch.kind, func.count().label("completed"), average, p90)
            .where(TransferBranch.status == "completed", TransferBranch.started_at.is_not(None),
                   TransferBranch.completed_at.is_not(None),
                   TransferBranch.workflow_id == func.any(func.array(period)))
            .group_by(TransferBranch.kind).order_by(TransferBranch.kind))
    return [stats.ProcessingTime(r.kind, r.completed, r.average_days, r.p90_days) for r in session.execute(stmt)]


PROPOSED_QUERY_CHANGES = {"processing_time": processing_time_proposed}  # in db.transfer_stats


# ---------------------------------------------------------------- seeding
def _copy(cur: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    def cell(v: Any) -> str:
        if v is None:
            return "\\N"
        if isinstance(v, dt.datetime):
            return v.isoformat()
        return str(v).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")
    buf = io.StringIO("".join("\t".join(cell(v) for v in row) + "\n" for row in rows))
    cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)


def seed(dsn: str, n: int) -> dict[str, Any]:
    """Seed ``n`` cases with COPY; returns counts and what the queries need (cursors, a period)."""
    import psycopg2

    rnd = random.Random(n)
    step = dt.timedelta(days=30) / PER_MONTH
    employees = [f"G{i:06d}" for i in range(max(100, n // 2))]
    cases, tasks, transfers, branches, reviews = [], [], [], [], []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        emp = employees[i % len(employees)]
        opened = NOW - (n - i) * step
        takes = dt.timedelta(days=rnd.randint(5, 90), hours=rnd.randint(0, 23))
        is_open = opened + takes > NOW or i % 50 == 0  # still running, or one of the long-running ones
        wf = f"{kind.replace('_', '-')}-{emp}-{i}"
        status = "open" if is_open else "completed"
        closed = None if is_open else opened + takes
        cases.append((wf, kind, emp, "in_progress" if is_open else "completed", status,
                      f"{kind} for {emp}, seeded case {i}", f"{i:064x}"[-64:], opened, closed,
                      opened + dt.timedelta(days=30) if is_open else None))
        for t in range(2):
            at = opened + dt.timedelta(hours=t + 1)
            role = ROLES[(i + t) % len(ROLES)]
            tasks.append((wf, f"step-t{t}", f"Decide step {t} of {wf}", role, None, "decided",
                          at + dt.timedelta(days=3),
                          "approved", "someone", role, None, at, at + dt.timedelta(hours=5)))
        if is_open:
            role = rnd.choice(ROLES)
            assignee = (USER if role == "hr_manager" else "someone.else") if rnd.random() < 0.1 else None
            tasks.append((wf, "approve-open", f"Approve {wf}", role, assignee, "open", opened + dt.timedelta(days=3),
                          None, None, None, None, opened + dt.timedelta(hours=3), None))
        if kind == "transfer":
            origin, dest = rnd.sample(PROVINCES, 2)
            types = '["pension", "medical", "housing_fund"]'
            transfers.append((wf, emp, DEPARTMENTS[(i // 5) % len(DEPARTMENTS)], origin, f"{origin}-city", dest,
                              f"{dest}-city", types, "relocated", "hr.li",
                              "in_progress" if is_open else "completed", opened, closed or opened, closed))
            for kind_ in ("pension", "medical", "housing_fund"):
                started = opened + dt.timedelta(days=2)
                done = None if closed is None else started + (closed - started) * rnd.uniform(0.5, 1.0)
                branches.append((wf, kind_, "transferring" if done is None else "completed",
                                 None if done else "receive", started, done))
            if rnd.random() < 0.2:
                reviews.append((wf, "rejected", rnd.choice(REASONS), None, "hr.li", opened + dt.timedelta(days=1)))
            reviews.append((wf, "approved", None, None, "hr.li", opened + dt.timedelta(days=2)))
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            _copy(cur, "employees", EMPLOYEE_COLUMNS, employee_rows(employees, 0))
            _copy(cur, "cases", ("workflow_id", "kind", "employee_id", "stage", "status", "summary", "policy_version",
                                 "opened_at", "closed_at", "next_due_at"), cases)
            _copy(cur, "approval_tasks", ("workflow_id", "task_key", "title", "role", "assignee", "status", "due_at",
                                          "decision", "actor", "actor_role", "reason", "created_at", "decided_at"),
                  tasks)
            _copy(cur, "transfers", ("workflow_id", "employee_id", "department", "origin_province", "origin_city",
                                     "destination_province", "destination_city", "types", "reason", "applicant",
                                     "stage", "created_at", "updated_at", "completed_at"), transfers)
            _copy(cur, "transfer_branches", ("workflow_id", "kind", "status", "current_step", "started_at",
                                             "completed_at"), branches)
            _copy(cur, "transfer_reviews", ("workflow_id", "decision", "reason_code", "note", "actor", "at"), reviews)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("ANALYZE")  # what autovacuum would do shortly after a bulk load
            cur.execute("SELECT id FROM cases ORDER BY id OFFSET %s LIMIT 1", (n // 2,))
            cursor_case = cur.fetchone()[0]
            counts = {}
            for table in SEEDED:
                cur.execute(f"SELECT count(*) FROM {table}")
                counts[table] = cur.fetchone()[0]
    finally:
        conn.close()
    period_to = (NOW - dt.timedelta(days=1)).date()
    return {"counts": counts, "cursor_case": cursor_case, "employee": employees[len(employees) // 2],
            "period_from": (period_to - dt.timedelta(days=29)).isoformat(), "period_to": period_to.isoformat(),
            "department": DEPARTMENTS[3], "month": f"{NOW - dt.timedelta(days=1):%Y-%m}"}


# ---------------------------------------------------------------- measuring
async def measure(stack: Stack, database_url: str, params: dict[str, Any], repeats: int) -> dict[str, Any]:
    import httpx
    import psycopg2
    from sqlalchemy import event

    from api.app import create_app
    from db.session import make_engine

    engine = make_engine(database_url, pool_size=2)
    captured: list[tuple[str, Any]] = []
    capturing = [False]

    @event.listens_for(engine, "before_cursor_execute")
    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if capturing[0] and statement.lstrip().upper().startswith("SELECT") and "FROM" in statement.upper():
            captured.append((statement, parameters))

    app = create_app(stack.settings(database_url=database_url), engine=engine, temporal=object(),
                     codec=stack.codec())
    results: dict[str, Any] = {}
    conn = psycopg2.connect(database_url.replace("postgresql+psycopg2://", "postgresql://", 1))
    conn.autocommit = True
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://hrflow.bench") as api:
            # the inbox's next page starts after the first page's cursor
            first = await api.get("/inbox", headers=stack.token(Role.HR_MANAGER, USER))
            params = params | {"cursor_task": first.json()["next_cursor"] or 0}
            for q in QUERIES:
                path = q.path.format(**params)
                headers = stack.token(q.role, USER)
                for _ in range(2):  # warm-up: plan cache, buffers
                    r = await api.get(path, headers=headers)
                    if r.status_code != 200:
                        raise RuntimeError(f"GET {path} -> {r.status_code}: {r.text[:300]}")
                request_times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    await api.get(path, headers=headers)
                    request_times.append(time.perf_counter() - t0)
                captured.clear()
                capturing[0] = True
                await api.get(path, headers=headers)
                capturing[0] = False
                statements = list(captured)
                db_times, plans, what_if = [], [], []
                with conn.cursor() as cur:
                    for _ in range(repeats):  # server-side execution time, summed over the statements
                        total = 0.0
                        for sql, p in statements:
                            cur.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql, p)
                            total += cur.fetchone()[0][0]["Execution Time"]
                        db_times.append(total)
                    for sql, p in statements:
                        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, p)
                        plans.append((cur.mogrify(sql, p).decode(), "\n".join(row[0] for row in cur.fetchall())))
                    cur.execute("SET random_page_cost = 1.1")
                    for sql, p in statements:
                        cur.execute("EXPLAIN " + sql, p)
                        what_if.append(("", "\n".join(row[0] for row in cur.fetchall())))
                    cur.execute("RESET random_page_cost")
                results[q.name] = {"path": path, "request_ms": statistics.median(request_times) * 1000,
                                   "db_ms": statistics.median(db_times), "statements": len(statements),
                                   "buffers": sum(buffers(plan) for _, plan in plans),
                                   "plans": plans, "seq_scans": seq_scans(plans),
                                   "seq_scans_ssd_costs": seq_scans(what_if)}
    finally:
        conn.close()
        engine.dispose()
    return results


def seq_scans(plans: list[tuple[str, str]]) -> list[str]:
    found = []
    for _, plan in plans:
        found += [t for t in re.findall(r"Seq Scan on (\w+)", plan) if t in SEEDED]
    return sorted(set(found))


def buffers(plan: str) -> int:
    """Shared buffers the statement touched (hit + read), from its root node: a measure of work that,
    unlike time, does not depend on how busy the machine is."""
    for line in plan.splitlines():
        m = re.search(r"Buffers: shared((?: \w+=\d+)+)", line)
        if m:
            return sum(int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1)) if k in ("hit", "read"))
    return 0


def plan_summary(plan: str) -> list[str]:
    keep = ("Scan", "Join", "Nested Loop", "Sort", "Limit", "Aggregate", "Execution Time", "Hash")
    return [line.rstrip() for line in plan.splitlines() if any(k in line for k in keep) and "Buckets" not in line]


# ---------------------------------------------------------------- report
def report(sizes: list[int], by_size: dict[int, dict[str, Any]], counts: dict[int, dict[str, int]]) -> list[Table]:
    small, large = sizes[0], sizes[-1]
    head = ["query"] + [f"db ms @{n:,}" for n in sizes] + [f"request ms @{n:,}" for n in (small, large)] + [
        f"db ratio {large:,}/{small:,}", "request ratio", f"buffers @{small:,}/@{large:,}", "target",
        "verdict", f"seq scans @{large:,}", "with random_page_cost 1.1"]
    table = Table(f"growth: inbox, case list and report at {', '.join(f'{n:,}' for n in sizes)} cases", head)
    for q in QUERIES:
        a, b = by_size[small][q.name], by_size[large][q.name]
        ratio = b["db_ms"] / a["db_ms"]
        table.add(q.name, *[by_size[n][q.name]["db_ms"] for n in sizes], a["request_ms"], b["request_ms"], ratio,
                  b["request_ms"] / a["request_ms"], f"{a['buffers']}/{b['buffers']}", f"<= {TARGET}",
                  verdict(ratio <= TARGET and not b["seq_scans"]),
                  ", ".join(b["seq_scans"]) or "none", ", ".join(b["seq_scans_ssd_costs"]) or "none")
    table.notes.append("rows seeded: " + "; ".join(
        f"{n:,} cases: " + ", ".join(f"{t} {c:,}" for t, c in counts[n].items()) for n in sizes))
    table.notes.append("db ms: server-side execution time (EXPLAIN ANALYZE, median of repeats) of the statements"
                       " the request issued; request ms: median of the whole request through the API (ASGI, in"
                       " process); buffers: shared buffers the statements touched (work, independent of load);"
                       " verdict: db ratio within target and no Seq Scan on a seeded table")
    return [table]


def main() -> None:
    parser = size_arg(__doc__.split("\n\n")[0])
    parser.add_argument("--plans", metavar="PATH", help="write every EXPLAIN (ANALYZE, BUFFERS) plan here")
    args = parser.parse_args()
    sizes, repeats = SIZES[args.size], REPEATS[args.size]
    facts = machine_facts(benchmark="growth", size=args.size, sizes=sizes, repeats=repeats)
    print_facts(facts)
    t0 = time.monotonic()
    by_size: dict[int, dict[str, Any]] = {}
    with_indexes: dict[int, dict[str, Any]] = {}
    counts: dict[int, dict[str, int]] = {}
    stack = Stack("growth")
    try:
        import psycopg2

        from db.migrate import upgrade

        stack.start_postgres("hrflow_growth_template")
        admin = psycopg2.connect(stack.postgres.get_uri())
        admin.autocommit = True
        for n in sizes:
            name = f"hrflow_growth_{n}"
            with admin.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "hrflow_growth_template"')
            url = stack.postgres.get_uri(name).replace("postgresql://", "postgresql+psycopg2://", 1)
            upgrade(url)  # already at head (from the template): a no-op kept for clarity
            t = time.monotonic()
            params = seed(url.replace("postgresql+psycopg2://", "postgresql://", 1), n)
            counts[n] = params.pop("counts")
            stack.seal_personal_data(url)  # COPY wrote them plain, as a register from before the sealing
            say(f"{n:,} cases seeded in {time.monotonic() - t:.1f} s: {counts[n]}")
            by_size[n] = asyncio.run(measure(stack, url, params, repeats))
            for q in QUERIES:
                r = by_size[n][q.name]
                say(f"  {q.name}: db {r['db_ms']:.2f} ms, request {r['request_ms']:.2f} ms"
                    + (f", SEQ SCAN on {', '.join(r['seq_scans'])}" if r["seq_scans"] else ""))
            conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://", 1))
            conn.autocommit = True
            with conn.cursor() as cur:
                for _, ddl in PROPOSED_INDEXES:
                    cur.execute(ddl)
                cur.execute("ANALYZE")
            conn.close()
            from db import transfer_stats

            shipped = {name_: getattr(transfer_stats, name_) for name_ in PROPOSED_QUERY_CHANGES}
            for name_, fn in PROPOSED_QUERY_CHANGES.items():
                setattr(transfer_stats, name_, fn)
            try:
                with_indexes[n] = asyncio.run(measure(stack, url, params, repeats))
            finally:
                for name_, fn in shipped.items():
                    setattr(transfer_stats, name_, fn)
            say("  with the proposed indexes: " + ", ".join(
                f"{q.name} {with_indexes[n][q.name]['db_ms']:.2f} ms" for q in QUERIES))
        admin.close()
    finally:
        with contextlib.suppress(Exception):
            stack.close()
    for table in report(sizes, by_size, counts):
        table.print()
    proposed = report(sizes, with_indexes, counts)[0]
    proposed.title = ("the same, with the proposed indexes (in the benchmark's database only) and the proposed"
                      " form of the processing-time query")
    proposed.notes = [f"{i + 1}. {why}: {ddl}" for i, (why, ddl) in enumerate(PROPOSED_INDEXES)]
    proposed.notes.append(f"{len(PROPOSED_INDEXES) + 1}. db/transfer_stats.processing_time as"
                          " bench.growth.processing_time_proposed: branches of the period's transfers by"
                          " workflow_id = ANY(ARRAY(SELECT workflow_id FROM transfers WHERE <period>))")
    proposed.print()
    large = sizes[-1]
    say(f"\nplans at {large:,} cases (node lines; --plans writes them whole):")
    for q in QUERIES:
        say(f"-- {q.name}: {by_size[large][q.name]['path']}")
        for _, plan in by_size[large][q.name]["plans"]:
            for line in plan_summary(plan):
                say(f"   {line}")
    say(f"\nplans at {large:,} cases with the proposals (the queries that changed):")
    for q in QUERIES:
        before = [p for _, p in by_size[large][q.name]["plans"]]
        after = [p for _, p in with_indexes[large][q.name]["plans"]]
        def shape(plans: list[str]) -> list[list[str]]:
            return [[re.sub(r"\s*\(.*", "", line) for line in plan_summary(p) if "Time" not in line] for p in plans]
        if shape(before) != shape(after):
            say(f"-- {q.name}")
            for plan in after:
                for line in plan_summary(plan):
                    say(f"   {line}")
    if args.plans:
        with open(args.plans, "w") as out:
            for label, runs in (("schema as shipped", by_size), ("with the proposals", with_indexes)):
                for n in sizes:
                    for q in QUERIES:
                        for sql, plan in runs[n][q.name]["plans"]:
                            out.write(f"==== {label} | {n:,} cases | {q.name} | {runs[n][q.name]['path']}\n"
                                      f"{sql}\n\n{plan}\n\n")
        say(f"plans written to {Path(args.plans).resolve()}")
    say(f"\ntotal wall time {time.monotonic() - t0:.0f} s")

    def strip(runs: dict[int, dict[str, Any]]) -> dict[int, Any]:
        return {n: {k: {kk: vv for kk, vv in v.items() if kk != "plans"} for k, v in r.items()}
                for n, r in runs.items()}
    write_json(args.json, {"facts": facts, "sizes": sizes, "counts": counts, "results": strip(by_size),
                           "with_proposed_indexes": strip(with_indexes),
                           "proposed_indexes": [ddl for _, ddl in PROPOSED_INDEXES]})


if __name__ == "__main__":
    main()
