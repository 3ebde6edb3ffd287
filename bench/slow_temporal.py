"""The API while Temporal answers slowly: decisions, audited writes and reads from 50 clients.

    python -m bench.slow_temporal --size small|full [--delay-ms 250]

The API runs as its own process (``python -m hrflow.cli api``, the default pool of 10 connections
and a lock timeout of ``--lock-timeout-ms``) with the worker as another and the Temporal dev server in
memory. The worker talks to Temporal directly; the API talks to it through a proxy that delays every
byte by ``--delay-ms`` each way (``bench.latency_proxy``), so each Temporal call from the API takes
at least twice that.

Each of ``clients`` (50) loops for the duration (60 s full): an audited write (``POST
/employees/{id}/records``), a database-only read (``GET /cases``), a decision (``POST
/si-changes/{id}/approve``, or ``/revoke`` of the case it approved last, so cases never run out),
and the employee's own read of her case (``GET /si-changes/{id}``: a database check, then Temporal).
A 503 is sent again after its ``Retry-After`` with the same request id, as a client should.

The same load runs twice in one run: first with Temporal direct (the baseline), then slowed.
Measured: every request's wait; the database-only requests' wait against the lock timeout (target:
none waits longer); the slowed run's database-only latency against the baseline's (target: at most
1.5x, Temporal's slowness does not reach requests that do not call it); decisions lost (target: 0:
each answered decision has its one audit row, none has two); the API's sessions seen idle inside a
transaction for more than 0.5 s (target: 0; one Temporal call is at least ``2 * delay`` = 0.6 s, so a
transaction held across one would be seen; a thread waiting for the interpreter between two
statements under this load, for up to a few tenths of a second, is not).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from typing import Any

from bench.common import Stack, Table, finish, machine_facts, percentile, print_facts, say, size_arg, verdict
from bench.latency_proxy import LatencyProxy
from domain.roles import Role

SIZES = {"tiny": (6, 2.0), "small": (50, 10.0), "full": (50, 60.0)}  # clients, seconds per phase
CASES_PER_CLIENT = 2
DB_ONLY = ("record", "GET /cases")
TARGET_RATIO = 1.5


class Load:
    """Every request's kind, wait, final status, and the decisions answered 200 (by request id)."""

    def __init__(self) -> None:
        self.waits: dict[str, list[float]] = collections.defaultdict(list)
        self.errors: dict[str, list[str]] = collections.defaultdict(list)
        self.resent = 0
        self.decided: dict[str, list[str]] = collections.defaultdict(list)  # approve|revoke -> request ids

    async def send(self, kind: str, call: Any) -> Any:
        for attempt in range(10):
            t0 = time.monotonic()
            try:
                r = await call()
            except Exception as exc:  # noqa: BLE001 - a client-side timeout is a request that hung; all are counted
                self.waits[kind].append(time.monotonic() - t0)
                self.errors[kind].append(f"{type(exc).__name__}: {exc}"[:200])
                return None
            self.waits[kind].append(time.monotonic() - t0)
            if r.status_code != 503 or attempt == 9:
                break
            self.resent += 1
            await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
        if r.status_code >= 400:
            self.errors[kind].append(f"HTTP {r.status_code}: {r.text[:200]}")
        return r


async def phase(stack: Stack, api_url: str, clients: int, seconds: float, employees: list[str], tag: str,
                approved: set[str]) -> Load:
    """``approved``: the cases approved now (the next decision on each is its revocation)."""
    import httpx

    load = Load()
    stop_at = time.monotonic() + seconds

    async def client(i: int) -> None:
        mine = employees[i * CASES_PER_CLIENT:(i + 1) * CASES_PER_CLIENT]
        checker = stack.token(Role.HR_MANAGER, f"mgr.{i:02d}")
        compliance = stack.token(Role.COMPLIANCE, f"comp.{i:02d}")
        async with httpx.AsyncClient(base_url=api_url, timeout=120) as http:

            async def one_round(n: int) -> None:
                emp = mine[n % len(mine)]
                wf, rid = f"si-change-{emp}-1", f"{tag}-{i}-{n}"
                await load.send("record", lambda: http.post(
                    f"/employees/{emp}/records", json={"kind": "dispute", "title": f"bench {rid}"},
                    headers=compliance | {"X-Request-ID": f"record-{rid}"}))
                await load.send("GET /cases", lambda: http.get("/cases", headers=checker))
                decision = "revoke" if wf in approved else "approve"
                body = {"reason": "benchmark: approve again"} if decision == "revoke" else {}
                r = await load.send(decision, lambda: http.post(
                    f"/si-changes/{wf}/{decision}", json=body, headers=checker | {"X-Request-ID": f"{decision}-{rid}"}))
                if r is not None and r.status_code == 200:
                    load.decided[decision].append(f"{decision}-{rid}")
                    approved.symmetric_difference_update({wf})
                await load.send("own read", lambda: http.get(
                    f"/si-changes/{wf}", headers=stack.token(Role.EMPLOYEE, f"emp.{emp}", employee=emp)))

            n = 0
            while time.monotonic() < stop_at:
                n += 1
                await one_round(n)

    await asyncio.gather(*(client(i) for i in range(clients)))
    return load


async def watch_idle_transactions(dsn: str, stop: asyncio.Event, seen: list[tuple[str, float]]) -> None:
    import psycopg2

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            while not stop.is_set():
                cur.execute("SELECT left(query, 120), extract(epoch FROM now() - state_change)::float"
                            " FROM pg_stat_activity WHERE application_name = 'hrflow-api'"
                            " AND state = 'idle in transaction' AND now() - state_change > interval '500 ms'")
                seen.extend(cur.fetchall())
                await asyncio.sleep(0.1)
    finally:
        conn.close()


def lost_decisions(stack: Stack, decided: dict[str, list[str]]) -> tuple[int, int]:
    """(answered but not recorded, recorded twice): an approval is its task.approved row, a revocation
    of an approval its stage change back to submitted."""
    import psycopg2

    action = {"approve": "task.approved", "revoke": "si_change.stage_changed"}
    conn = psycopg2.connect(stack.dsn)
    try:
        with conn.cursor() as cur:
            missing = twice = 0
            for kind, ids in decided.items():
                cur.execute("SELECT request_id, count(*) FROM audit_events WHERE action = %s AND request_id = ANY(%s)"
                            " GROUP BY request_id", (action[kind], ids))
                counts = dict(cur.fetchall())
                missing += sum(1 for i in ids if i not in counts)
                twice += sum(1 for c in counts.values() if c > 1)
            return missing, twice
    finally:
        conn.close()


async def run(stack: Stack, clients: int, seconds: float, employees: list[str], delay: float,
              apis: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    approved: set[str] = set()
    for name in ("direct", "slowed"):
        stop, idle = asyncio.Event(), []
        watcher = asyncio.create_task(watch_idle_transactions(stack.dsn, stop, idle))
        t0 = time.monotonic()
        load = await phase(stack, apis[name], clients, seconds, employees, name, approved)
        elapsed = time.monotonic() - t0
        stop.set()
        await watcher
        out[name] = {"load": load, "elapsed": elapsed, "idle": idle,
                     "lost": lost_decisions(stack, load.decided)}
    return out


def summary(waits: list[float]) -> dict[str, float]:
    ms = [w * 1000 for w in waits]
    return {"count": len(ms), "p50": percentile(ms, 50), "p99": percentile(ms, 99), "max": max(ms, default=0.0)}


def report(out: dict[str, Any], clients: int, seconds: float, delay: float,
           lock_timeout_ms: int) -> tuple[list[Table], dict[str, Any]]:
    figures: dict[str, Any] = {}
    t = Table(f"slow Temporal: {clients} clients for {seconds:.0f} s per phase, Temporal {delay * 1000:.0f} ms"
              f" each way in the slowed phase, lock timeout {lock_timeout_ms} ms",
              ["phase", "request", "count", "p50 ms", "p99 ms", "max ms", "errors", "target", "verdict"])
    for name in ("direct", "slowed"):
        load: Load = out[name]["load"]
        figures[name] = {}
        for kind in ("record", "GET /cases", "approve", "revoke", "own read"):
            s = figures[name][kind] = summary(load.waits[kind]) | {"errors": len(load.errors[kind])}
            db_only = kind in DB_ONLY
            target = f"max <= {lock_timeout_ms} ms" if db_only else "no errors"
            ok = s["errors"] == 0 and (s["max"] <= lock_timeout_ms if db_only else True)
            t.add(name, kind, s["count"], s["p50"], s["p99"], s["max"], s["errors"], target, verdict(ok))
            for e in load.errors[kind][:3]:
                t.notes.append(f"{name} {kind}: {e}")
        missing, twice = out[name]["lost"]
        figures[name].update(resent=load.resent, lost=missing, twice=twice, idle_in_transaction=len(out[name]["idle"]))
        t.notes.append(f"{name}: decisions answered 200: {sum(len(v) for v in load.decided.values()):,};"
                       f" lost {missing}, recorded twice {twice} (target 0, 0: {verdict(missing == twice == 0)});"
                       f" 503s sent again after Retry-After: {load.resent}")
        t.notes.append(f"{name}: API sessions idle in a transaction > 0.5 s: {len(out[name]['idle'])}"
                       f" (target 0: {verdict(not out[name]['idle'])}) {out[name]['idle'][:2]}")
    ratio = Table("database-only requests: slowed phase / direct phase, same run",
                  ["request", "percentile", "direct ms", "slowed ms", "ratio", "target", "verdict"])
    for kind in DB_ONLY:
        for p in ("p50", "p99"):
            a, b = figures["direct"][kind][p], figures["slowed"][kind][p]
            r = b / a if a else float("nan")
            figures[f"ratio {kind} {p}"] = r
            ratio.add(kind, p, a, b, r, f"<= {TARGET_RATIO}", verdict(r <= TARGET_RATIO))
    decide = figures["slowed"]["approve"]["p50"] / max(figures["direct"]["approve"]["p50"], 1e-9)
    ratio.notes.append(f"approve p50, slowed / direct: {decide:.2f} (under this load a decision's time is mostly"
                       " the worker's queue, not the link; slowed clients also spend longer on each own read,"
                       " so they send fewer decisions per second)")
    return [t, ratio], figures


def main() -> None:
    parser = size_arg(__doc__.split("\n\n")[0])
    parser.add_argument("--delay-ms", type=float, default=300, help="delay each way between the API and Temporal")
    parser.add_argument("--lock-timeout-ms", type=int, default=5000, help="HRFLOW_DATABASE_LOCK_TIMEOUT_MS of the API")
    parser.add_argument("--clients", type=int)
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args()
    clients, seconds = SIZES[args.size]
    clients, seconds, delay = args.clients or clients, args.seconds or seconds, args.delay_ms / 1000
    facts = machine_facts(benchmark="slow_temporal", size=args.size, clients=clients, seconds=seconds,
                          delay_ms=args.delay_ms, lock_timeout_ms=args.lock_timeout_ms)
    print_facts(facts)
    t0 = time.monotonic()
    stack, proxy = Stack("slow-temporal"), None
    try:
        from bench.memory import open_tasks, start_cases, wait_for

        stack.start_postgres()
        temporal = stack.start_temporal(db_file=False)
        stack.start_worker()
        proxy = LatencyProxy(temporal, delay=delay)
        proxy.start()
        limits = {"HRFLOW_DATABASE_LOCK_TIMEOUT_MS": str(args.lock_timeout_ms)}
        apis = {"direct": stack.start_api(**limits),
                "slowed": stack.start_api(HRFLOW_TEMPORAL_ADDRESS=proxy.address, **limits)}
        employees = [f"T{i:05d}" for i in range(clients * CASES_PER_CLIENT)]
        stack.add_employees(employees)
        asyncio.run(start_cases(stack, employees))
        wait_for("open approval tasks", lambda: open_tasks(stack) >= len(employees) or open_tasks(stack), 600, stack)
        say(f"{len(employees)} changes waiting for approval; APIs {apis}")
        out = asyncio.run(run(stack, clients, seconds, employees, delay, apis))
        stack.check_children()
    finally:
        if proxy is not None:
            with contextlib.suppress(Exception):
                proxy.stop()
        with contextlib.suppress(Exception):
            stack.close()
    tables, figures = report(out, clients, seconds, delay, args.lock_timeout_ms)
    finish(tables, t0, args.json, {"facts": facts, "results": figures})


if __name__ == "__main__":
    main()
