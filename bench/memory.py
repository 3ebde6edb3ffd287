"""Worker memory: the worker's resident memory with 10,000 open cases waiting in its cache.

    python -m bench.memory --size small|full [--no-default-cache-phase]

The worker runs as a separate process (``bench.worker``: ``worker.build_worker``); its RSS is read
from ``/proc/<pid>/status`` (VmRSS). Phase 1: the worker is started with max_cached_workflows = the
number of cases (10,000 at full size, so every case stays cached; hrflow's default is 800), the
cases are started, and once every case waits for its approval (its task is open in the database)
and the worker's sticky cache (the SDK's ``temporal_sticky_cache_size`` metric) holds them all,
RSS is read (target < 500 MB). Phase 2 (small and full): a fresh worker with hrflow's default of
800 cached workflows (``HRFLOW_WORKER_MAX_CACHED_WORKFLOWS``); a query to every case brings each one back into its cache in turn (so it
replays, and the cache stays at its limit), then RSS is read again.

The cases are social-insurance enrollment changes waiting for the checker's approval: each one
has opened its case, checked the request against the records, recorded its stage and opened the
checker's task (four activities), and now waits. They are started with the Temporal client and
the same request the API's ``POST /si-changes`` builds (pinned policy, maker, windows), which
spares this process 10,000 HTTP requests; the employees are bulk-inserted first.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from decimal import Decimal
from typing import Any

from bench.common import (
    RUNNERS,
    Stack,
    Table,
    cpu_seconds,
    finish,
    machine_facts,
    metric_values,
    print_facts,
    rss_mb,
    say,
    size_arg,
    verdict,
    worker_metrics,
)
from hrflow.settings import Settings

SIZES = {"tiny": 30, "small": 1000, "full": 10_000}
TARGET_MB = 500.0
DEFAULT_CACHE = Settings.model_fields["worker_max_cached_workflows"].default  # what `hrflow worker` runs with


def sticky_cache_size(port: int | None) -> int | None:
    """The worker's sticky cache size as its Prometheus endpoint reports it (None if unknown)."""
    text = worker_metrics(port)
    if text is None:
        return None
    values = metric_values(text, r"^temporal_sticky_cache_size\{[^}]*\} ([0-9.e+]+)$")
    return int(sum(values)) if values else None


async def start_cases(stack: Stack, employees: list[str], concurrency: int = 50) -> float:
    from temporalio.common import WorkflowIDConflictPolicy

    from domain.actors import Actor
    from domain.contracts.si_change import ChangeFacts
    from domain.policy import pin_si_change
    from domain.si_change import ChangeKind, parse_month
    from workflows import search_attributes as sa
    from workflows.si_change import SiChangeRequest, SocialInsuranceChangeWorkflow

    client = await stack.client()
    today = dt.date.today()
    month = f"{today:%Y-%m}"
    policy = pin_si_change("Beijing", parse_month(month, "effective_month"))
    sem = asyncio.Semaphore(concurrency)

    async def one(emp: str) -> None:
        facts = ChangeFacts(employee_id=emp, city=policy.city, kind=ChangeKind.ENROLLMENT, base=Decimal("10000.00"),
                            months=[], effective_month=month)
        req = SiChangeRequest(facts=facts, reason="new hire", maker=Actor(user="hr.li", role="hr_specialist",
                                                                          request_id=f"bench-{emp}"),
                              department="Sales", province="Beijing", today=today, policy=policy)
        async with sem:
            await client.start_workflow(
                SocialInsuranceChangeWorkflow.run, req, id=f"si-change-{emp}-1", task_queue=stack.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=sa.at_start(employee_id=emp, kind="si_change", stage="submitted",
                                              province="Beijing", department="Sales"),
                static_summary=f"Social-insurance enrollment for {emp} in {policy.city}",
                static_details="Submitted by hr.li. Reason: new hire")

    t0 = time.perf_counter()
    await asyncio.gather(*(one(e) for e in employees))
    return time.perf_counter() - t0


BARE_WAITING = [{"op": "acts", "n": 1}] * 4 + [{"op": "msg", "kind": "update"}]  # the same four steps, then wait


async def start_bare(stack: Stack, n: int, concurrency: int = 50) -> float:
    """The baseline: bare workflows that run four no-op activities and wait for a message."""
    from bench.bare import BareInput, BareWorkflow

    client = await stack.client()
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await client.start_workflow(BareWorkflow.run, BareInput(steps=BARE_WAITING), id=f"bare-waiting-{i}",
                                        task_queue=stack.task_queue)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - t0


def open_tasks(stack: Stack) -> int:
    import psycopg2

    conn = psycopg2.connect(stack.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM approval_tasks WHERE status = 'open'")
            return cur.fetchone()[0]
    finally:
        conn.close()


def wait_for(what: str, probe: Any, timeout: float, stack: Stack) -> float:
    t0 = time.monotonic()
    last = None
    while True:
        stack.check_children()
        value = probe()
        if value is True:
            return time.monotonic() - t0
        if value != last:
            say(f"  {what}: {value}")
            last = value
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"{what}: not reached in {timeout:.0f} s (last {value})")
        time.sleep(2)


def wait_idle(pid: int, timeout: float = 600) -> float:
    """Until the worker has used under 2% of a core over 5 s (everything started has settled)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        before = cpu_seconds(pid)
        time.sleep(5)
        if cpu_seconds(pid) - before < 0.1:
            break
    return time.monotonic() - t0


def settle_rss(pid: int, seconds: float = 10) -> float:
    """RSS once it stops moving (read every second; the largest of the last reads)."""
    reads = []
    for _ in range(int(seconds)):
        reads.append(rss_mb(pid))
        time.sleep(1)
    return max(reads[-3:])


async def query_all(stack: Stack, ids: list[str], concurrency: int = 20) -> float:
    from workflows.si_change import SocialInsuranceChangeWorkflow

    client = await stack.client()
    sem = asyncio.Semaphore(concurrency)

    async def one(wf: str) -> None:
        async with sem:
            await client.get_workflow_handle(wf).query(SocialInsuranceChangeWorkflow.view)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(w) for w in ids))
    return time.perf_counter() - t0


def main() -> None:
    parser = size_arg(__doc__.split("\n\n")[0])
    parser.add_argument("--no-default-cache-phase", action="store_true",
                        help="skip phase 2 (a worker with hrflow's default cache)")
    parser.add_argument("--cases", type=int, help="override the size's number of cases")
    parser.add_argument("--bare", action="store_true",
                        help="the baseline instead: bare workflows with the same four activities, then waiting")
    parser.add_argument("--runner", choices=RUNNERS, default="default",
                        help="the worker's sandbox: default is hrflow's, strict the full sandbox (the baseline), see bench.worker")
    args = parser.parse_args()
    n = args.cases or SIZES[args.size]
    phase2 = not args.no_default_cache_phase and args.size != "tiny" and not args.bare
    facts = machine_facts(benchmark="memory", size=args.size, cases=n, sandbox_runner=args.runner,
                          workflows="bare (baseline)" if args.bare else "si_change waiting for approval")
    print_facts(facts)
    t0 = time.monotonic()
    results: dict[str, Any] = {"cases": n}
    stack = Stack("memory")
    try:
        stack.start_postgres()
        stack.start_temporal(db_file=False)
        employees = [f"W{i:06d}" for i in range(n)]
        stack.add_employees(employees)
        cache = max(n, DEFAULT_CACHE)
        worker = stack.start_worker(max_cached=cache, metrics=True, runner=args.runner)
        port = stack.worker_metrics_port
        quick = args.size == "tiny"
        time.sleep(1 if quick else 3)
        results["phase1"] = p1 = {"max_cached_workflows": cache,
                                  "rss_idle_mb": settle_rss(worker.pid, 3 if quick else 5)}
        say(f"phase 1: worker pid {worker.pid}, max_cached_workflows={cache}, idle RSS {p1['rss_idle_mb']:.0f} MB")
        if args.bare:
            p1["start_seconds"] = asyncio.run(start_bare(stack, n))
            p1["until_waiting_seconds"] = 0.0
        else:
            p1["start_seconds"] = asyncio.run(start_cases(stack, employees))
            say(f"  {n:,} workflows started in {p1['start_seconds']:.0f} s; waiting for every one to wait for approval")
            p1["until_waiting_seconds"] = wait_for("open approval tasks",
                                                   lambda: open_tasks(stack) >= n or open_tasks(stack),
                                                   timeout=3600, stack=stack)
        p1["cached_seconds"] = wait_for(
            "worker sticky cache", lambda: (sticky_cache_size(port) or 0) >= n or sticky_cache_size(port),
            timeout=600, stack=stack)
        p1["idle_after_seconds"] = wait_idle(worker.pid, timeout=5 if quick else 600)
        p1["sticky_cache_size"] = sticky_cache_size(port)
        p1["rss_mb"] = settle_rss(worker.pid, 3 if quick else 10)
        p1["worker_cpu_s"] = cpu_seconds(worker.pid)
        p1["per_case_kb"] = (p1["rss_mb"] - p1["rss_idle_mb"]) * 1024 / n
        say(f"  RSS {p1['rss_mb']:.0f} MB with {p1['sticky_cache_size']} cached workflows")
        if phase2:
            stack.stop(worker)
            worker = stack.start_worker(max_cached=DEFAULT_CACHE, metrics=True, runner=args.runner)
            port = stack.worker_metrics_port
            time.sleep(3)
            results["phase2"] = p2 = {"max_cached_workflows": DEFAULT_CACHE, "rss_idle_mb": settle_rss(worker.pid, 5)}
            say(f"phase 2: worker pid {worker.pid}, max_cached_workflows={DEFAULT_CACHE}, idle RSS"
                f" {p2['rss_idle_mb']:.0f} MB; querying every case")
            p2["query_seconds"] = asyncio.run(query_all(stack, [f"si-change-{e}-1" for e in employees]))
            p2["sticky_cache_size"] = sticky_cache_size(port)
            p2["rss_mb"] = settle_rss(worker.pid)
            say(f"  RSS {p2['rss_mb']:.0f} MB with {p2['sticky_cache_size']} cached workflows")
    finally:
        with contextlib.suppress(Exception):
            stack.close()
    what = "bare workflows waiting after four activities" if args.bare else "open si_change cases waiting for approval"
    table = Table(f"worker memory: {n:,} {what} (sandbox runner: {args.runner})",
                  ["phase", "max_cached_workflows", "cached (sticky cache)", "RSS idle MB", "RSS MB",
                   "KB per cached case",
                   "target", "verdict"])
    p1 = results["phase1"]
    table.add("1: every case cached", p1["max_cached_workflows"], p1["sticky_cache_size"], p1["rss_idle_mb"],
              p1["rss_mb"], p1["per_case_kb"], f"< {TARGET_MB:.0f} MB", verdict(p1["rss_mb"] < TARGET_MB))
    if "phase2" in results:
        p2 = results["phase2"]
        cached = p2["sticky_cache_size"] or DEFAULT_CACHE
        table.add("2: hrflow's default cache, every case queried", p2["max_cached_workflows"], p2["sticky_cache_size"],
                  p2["rss_idle_mb"], p2["rss_mb"], (p2["rss_mb"] - p2["rss_idle_mb"]) * 1024 / cached,
                  f"< {TARGET_MB:.0f} MB", verdict(p2["rss_mb"] < TARGET_MB))
    table.notes.append(f"started in {p1['start_seconds']:.0f} s; all waiting {p1['until_waiting_seconds']:.0f} s later;"
                       " dev server in memory, simulated agency latency 0")
    table.notes.append("RSS of the worker process only (VmRSS from /proc/<pid>/status), the largest of the last"
                       " three one-second reads")
    finish([table], t0, args.json, {"facts": facts, "results": results})


if __name__ == "__main__":
    main()
