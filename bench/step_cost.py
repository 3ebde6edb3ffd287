"""Bookkeeping step cost: the Python one database step of a case costs, against the same
statements sent by raw psycopg2, side by side.

    python -m bench.step_cost --size small|full

A case's open and its three stage changes (``si_change.transition``, the hottest local activity:
claim the step and move the case, upsert the change row, append to its audit chain, queue her notice)
are called in this process exactly as the worker calls them, on a fresh embedded PostgreSQL. Every
statement and its parameters is recorded as it goes to the driver; the baseline replays those
statements, one transaction per step as hrflow ran them, through a bare psycopg2 cursor on a copy
of the database as it was before (``CREATE DATABASE ... TEMPLATE``), so each statement does the
same work on the same rows. That is the floor: what any implementation must send. Rounds
alternate, each hrflow round on new cases and followed by the replay of its statements.

Reported per step: CPU of this process (``time.process_time``: SQLAlchemy, pydantic, hashing,
the driver), wall time, statements (round trips, not counting BEGIN and COMMIT), and the ratio of
hrflow's CPU to the baseline's (the pair ratios' spread beside it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from decimal import Decimal
from typing import Any

from bench import common

SIZES = {"tiny": (20, 2), "small": (200, 3), "full": (500, 5)}  # cases per round, rounds of each side
STEPS_PER_CASE = 4  # the open and three transitions


def _hrflow(stack: common.Stack) -> tuple[Any, Any, list[list[tuple[str, Any]]]]:
    """The activities as the worker builds them, and the statements of each step as they were sent."""
    from sqlalchemy import event

    from activities.cases import CaseActivities
    from activities.si_change import SocialInsuranceActivities
    from db.session import make_engine
    from hrflow.temporal import sealing_sessions

    assert stack.database_url
    engine = make_engine(stack.database_url, pool_size=2, pre_ping=False)  # as the worker's pool
    sessions = sealing_sessions(stack.settings(), engine, url=stack.database_url)
    steps: list[list[tuple[str, Any]]] = []

    @event.listens_for(engine, "begin")
    def _begin(_conn: Any) -> None:
        steps.append([])

    @event.listens_for(engine, "before_cursor_execute")
    def _sent(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if steps:  # not the driver's own queries on its first connection
            steps[-1].append((statement, parameters))

    return CaseActivities(sessions), SocialInsuranceActivities(sessions, None), steps  # type: ignore[arg-type]


def _case(cases: Any, si: Any, workflow_id: str, employee_id: str, at: dt.datetime) -> None:
    from domain.contracts import si_change as c
    from domain.contracts.cases import OpenCase
    from domain.si_change import ChangeKind

    facts = c.ChangeFacts(employee_id=employee_id, city="Beijing", kind=ChangeKind.BASE_ADJUSTMENT,
                          base=Decimal("12000.00"), effective_month="2027-01")
    cases.open_case(OpenCase(workflow_id=workflow_id, kind="si_change", employee_id=employee_id, stage="submitted",
                             opened_at=at))
    for step, stage, status in (("submitted", "submitted", None), ("approved", "approved", None),
                                ("done", "executed", "completed")):
        si.transition(c.Transition(workflow_id=workflow_id, step=step, facts=facts, stage=stage, status=status,
                                   estimate_total=Decimal("2000.00"), maker="hr.li", at=at))


def _replay(cursor: Any, steps: list[list[tuple[str, Any]]]) -> int:
    statements = 0
    for step in steps:
        for statement, parameters in step:
            cursor.execute(statement, parameters)
            statements += 1
        cursor.connection.commit()
    return statements


def measure(stack: common.Stack, cases_per_round: int, rounds: int) -> dict[str, Any]:
    import psycopg2

    from hrflow.stack import admin_cursor, libpq_url, sqlalchemy_url

    stack.start_postgres("hrflow_steps")
    stack.add_employees(["E1"])
    with admin_cursor(stack.postgres.get_uri()) as cur:  # the baseline's copy, as the database is now
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"  # the sealing's idle pool
                    " WHERE datname = 'hrflow_steps' AND pid <> pg_backend_pid()")
        cur.execute('CREATE DATABASE "hrflow_steps_raw" TEMPLATE "hrflow_steps"')
    raw = psycopg2.connect(libpq_url(sqlalchemy_url(stack.postgres.get_uri("hrflow_steps_raw"))))
    cases, si, recorded = _hrflow(stack)
    at = dt.datetime.now(dt.UTC)
    _case(cases, si, "si-change-E1-warm-up", "E1", at)  # compiled statements and a key in cache, as a running worker
    with raw.cursor() as cur:
        _replay(cur, recorded)
    recorded.clear()
    runs: dict[str, list[dict[str, float]]] = {"hrflow": [], "psycopg2": []}
    pending: list[list[tuple[str, Any]]] = []
    n = 0
    for side in [side for _ in range(rounds) for side in ("hrflow", "psycopg2")]:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if side == "hrflow":
            for _ in range(cases_per_round):
                n += 1
                _case(cases, si, f"si-change-E1-{n}", "E1", at)
            steps, statements = len(recorded), sum(len(s) for s in recorded)
            pending, recorded[:] = list(recorded), []
        else:
            with raw.cursor() as cur:
                statements, steps = _replay(cur, pending), len(pending)
            pending = []
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        runs[side].append({"cpu_ms": 1000 * cpu / steps, "wall_ms": 1000 * wall / steps, "statements": statements / steps})
    raw.close()
    return runs


def report(runs: dict[str, list[dict[str, float]]], cases_per_round: int) -> tuple[list[common.Table], dict[str, Any]]:
    table = common.Table("bookkeeping step: hrflow / the same statements by raw psycopg2", [
        "side", "rounds", "CPU ms per step", "wall ms per step", "statements per step", "CPU ratio", "pair ratios min-max"])
    pairs = [h["cpu_ms"] / p["cpu_ms"] for h, p in zip(runs["hrflow"], runs["psycopg2"], strict=False)]
    mean = {side: sum(r["cpu_ms"] for r in rs) / len(rs) for side, rs in runs.items()}
    for side, rs in runs.items():
        table.add(side, len(rs), mean[side], sum(r["wall_ms"] for r in rs) / len(rs), rs[0]["statements"],
                  mean[side] / mean["psycopg2"] if side == "hrflow" else 1.0,
                  f"{min(pairs):.2f}-{max(pairs):.2f}" if side == "hrflow" else "")
    table.notes += [
        (f"{cases_per_round} cases per round, each an open and three si_change transitions ({STEPS_PER_CASE} steps),"
         " one transaction per step"),
        ("the baseline replays hrflow's own statements and parameters on a copy of the database taken before;"
         " CPU is this process's (the server's is the same for both)"),
    ]
    return [table], {"runs": runs, "cpu_ratio": mean["hrflow"] / mean["psycopg2"], "pair_ratios": pairs}


def main() -> None:
    args = common.size_arg(__doc__.split("\n\n")[0]).parse_args()
    cases_per_round, rounds = SIZES[args.size]
    facts = common.machine_facts(benchmark="step_cost", size=args.size, cases_per_round=cases_per_round, rounds=rounds)
    common.print_facts(facts)
    t0 = time.monotonic()
    stack = common.Stack("step-cost")
    try:
        runs = measure(stack, cases_per_round, rounds)
    finally:
        with contextlib.suppress(Exception):
            stack.close()
    tables, figures = report(runs, cases_per_round)
    common.finish(tables, t0, args.json, {"facts": facts, "results": figures})


if __name__ == "__main__":
    main()
