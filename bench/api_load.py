"""API under load: concurrent checkers listing their inbox and approving, next to a bare update.

    python -m bench.api_load --size small|full

The API runs as its own process, started as ``hrflow dev`` starts it (``python -m hrflow.cli api``:
uvicorn, one process, the default pool of 10 database connections), with the worker as another
process and the Temporal dev server in memory. Social-insurance enrollment changes waiting for the
checker's approval are prepared first (started with the request ``POST /si-changes`` builds; the
rollback window keeps its default of 72 h, so an approved change just waits).

Then ``clients`` checkers (50; each its own ``httpx.AsyncClient``, its own login) loop for the
duration (60 s full, a few seconds small): ``GET /inbox`` (first page), then ``POST
/si-changes/{id}/approve`` on the next change of its own share, so no two checkers race for the
same case. A checker whose share runs out revokes its oldest approval and approves it again (both
counted, revocations on their own line), so the load never stops for want of cases.

Side by side, in this same process and for the same duration, loops send updates to trivial
workflows (``bench.bare.TrivialWorkflow``) with the Temporal client, one after the other: ``write``,
whose handler runs one local activity inserting one row (the one durable write a decision cannot
avoid), and ``ping``, which does nothing (the floor of an update's latency). Both go to one
workflow, always in the worker's cache. A third loop sends ``write`` to as many trivial workflows
as there are cases, each update to the next one (started before the cases, so they are as far out
of the worker's cache as the cases are): every approval goes to a case of its own, and with more
cases waiting than the cache holds, most of them are replayed from their history first; the
spread bare update meets the same cache. Before the load, the calls to the one workflow are
measured on an idle system for reference.

Targets: no errors; approve latency at most 1.5x the durable bare update's (p50, p95 and p99),
against both the one cached workflow and the spread ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import defaultdict
from typing import Any

from bench import common
from domain.roles import Role
from hrflow.settings import Settings

SIZES = {"tiny": (10, 2.0, 30), "small": (50, 5.0, 300), "full": (50, 60.0, 2500)}  # clients, seconds, cases
TARGET_RATIO = 1.5
HRFLOW_CACHE = Settings.model_fields["worker_max_cached_workflows"].default
IDLE_SAMPLES = 20
SPREAD_NAME = "bare durable update, spread"


def own_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Recorder:
    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)

    async def timed(self, name: str, call: Any) -> Any:
        t0 = time.perf_counter()
        try:
            result = await call
        except Exception as exc:  # noqa: BLE001 - every failure is counted and shown, never hidden
            self.errors[name].append(f"{type(exc).__name__}: {str(exc)[:200]}")
            return None
        finally:
            self.times[name].append(time.perf_counter() - t0)
        status = getattr(result, "status_code", 200)
        if status >= 400:
            self.errors[name].append(f"HTTP {status}: {result.text[:200]}")
        return result


SPREAD = "bench-trivial-spread"


async def start_spread(stack: common.Stack, n: int) -> float:
    """``n`` trivial workflows for the spread bare update, started 100 at a time; seconds taken."""
    from bench.bare import TrivialWorkflow

    temporal, t0 = await stack.client(), time.monotonic()
    for first in range(0, n, 100):
        await asyncio.gather(*(temporal.start_workflow(TrivialWorkflow.run, id=f"{SPREAD}-{i}", task_queue=stack.task_queue)
                               for i in range(first, min(n, first + 100))))
    return time.monotonic() - t0


async def run(stack: common.Stack, clients: int, seconds: float, cases: list[str]) -> dict[str, Any]:
    import httpx

    from bench.bare import TrivialWorkflow

    temporal = await stack.client()
    trivial = await temporal.start_workflow(TrivialWorkflow.run, id="bench-trivial", task_queue=stack.task_queue)
    await trivial.execute_update(TrivialWorkflow.ping, 0)  # the workflow is up and cached
    base = stack.api_url or ""
    out: dict[str, Any] = {}

    # ---- idle reference: one call at a time, nothing else running
    idle = Recorder()
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        headers = stack.token(Role.HR_MANAGER, "mgr.idle")
        for i in range(IDLE_SAMPLES):
            await idle.timed("bare update", trivial.execute_update(TrivialWorkflow.ping, i))
            await idle.timed("bare durable update", trivial.execute_update(TrivialWorkflow.write, i))
            await idle.timed("inbox", http.get("/inbox", headers=headers))
            await idle.timed("approve", http.post(f"/si-changes/{cases[i]}/approve", json={}, headers=headers))
    out["idle"] = idle
    load_cases = cases[IDLE_SAMPLES:]

    # ---- the load
    load = Recorder()
    stop_at = time.monotonic() + seconds
    revokes = [0]

    async def checker(i: int) -> None:
        user = f"mgr.{i:02d}"
        headers = stack.token(Role.HR_MANAGER, user)
        mine = load_cases[i::clients]
        approved: list[str] = []
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            while time.monotonic() < stop_at:  # a round once begun is finished: every checker approves at least once
                await load.timed("inbox", http.get("/inbox", headers=headers))
                if mine:
                    wf = mine.pop(0)
                else:  # share used up: revoke the oldest approval (back to submitted) and approve it again
                    wf = approved.pop(0)
                    revokes[0] += 1
                    await load.timed("revoke (share used up)", http.post(
                        f"/si-changes/{wf}/revoke", json={"reason": "benchmark: approve again"}, headers=headers))
                r = await load.timed("approve", http.post(f"/si-changes/{wf}/approve", json={}, headers=headers))
                if r is not None and r.status_code == 200:
                    approved.append(wf)

    async def bare_probe(name: str, update: Any) -> None:
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            await load.timed(name, trivial.execute_update(update, n))

    async def spread_probe() -> None:  # each update to a workflow of its own, oldest first
        n = 0
        while time.monotonic() < stop_at:
            handle = temporal.get_workflow_handle(f"{SPREAD}-{n % len(cases)}")
            n += 1
            await load.timed(SPREAD_NAME, handle.execute_update(TrivialWorkflow.write, n))

    pids = stack.pids()
    cpu_before = {name: common.cpu_seconds(pid) for name, pid in pids.items()}
    own_before, pg_before = own_cpu(), common.postgres_cpu(stack)
    waits = common.PgWaits(stack.dsn)
    waits.start()
    hist_before = common.worker_histograms(stack.worker_metrics_port)
    cache_before = {k: common.worker_counter(stack.worker_metrics_port, f"sticky_cache_{k}") for k in ("hit", "miss")}
    t0 = time.monotonic()
    await asyncio.gather(bare_probe("bare update", TrivialWorkflow.ping),
                         bare_probe("bare durable update", TrivialWorkflow.write), spread_probe(),
                         *(checker(i) for i in range(clients)))
    out["elapsed"] = time.monotonic() - t0
    await waits.stop()
    out["pg_waits"] = waits.summary()
    out["worker_latencies"] = common.mean_latencies(hist_before, common.worker_histograms(stack.worker_metrics_port))
    out["cache"] = {k: common.worker_counter(stack.worker_metrics_port, f"sticky_cache_{k}") - v
                    for k, v in cache_before.items()}
    cpu: dict[str, float] = defaultdict(float)
    for name, pid in pids.items():  # the worker processes' CPU summed as one "worker"
        cpu[name.split("#")[0]] += common.cpu_seconds(pid) - cpu_before[name]
    out["cpu"] = dict(cpu)
    out["cpu"]["postgres"] = common.postgres_cpu(stack) - pg_before
    out["cpu"]["load generator (this process)"] = own_cpu() - own_before
    out["load"] = load
    out["revokes"] = revokes[0]
    await trivial.signal(TrivialWorkflow.finish)
    return out


def stats(times: list[float], errors: list[str], elapsed: float | None = None) -> dict[str, Any]:
    ms = [t * 1000 for t in times]
    return {"count": len(ms), "p50": common.percentile(ms, 50), "p95": common.percentile(ms, 95), "p99": common.percentile(ms, 99),
            "errors": len(errors), "per_s": len(ms) / elapsed if elapsed else None, "error_samples": errors[:5]}


def report(out: dict[str, Any], clients: int, seconds: float) -> tuple[list[common.Table], dict[str, Any]]:
    load, idle, elapsed = out["load"], out["idle"], out["elapsed"]
    figures: dict[str, Any] = {"load": {}, "idle": {}, "elapsed": elapsed, "revokes": out["revokes"]}
    t = common.Table(f"API under load: {clients} checkers for {seconds:.0f} s (inbox, then approve), bare update beside them",
              ["call", "count", "per s", "p50 ms", "p95 ms", "p99 ms", "errors", "target", "verdict"])
    references = ("bare update", "bare durable update", SPREAD_NAME)
    for name in ("inbox", "approve", "revoke (share used up)", *references):
        if name not in load.times:
            continue
        s = figures["load"][name] = stats(load.times[name], load.errors[name], elapsed)
        target = "no errors" if name not in references else "(reference)"
        t.add(name, s["count"], s["per_s"], s["p50"], s["p95"], s["p99"], s["errors"], target,
              common.verdict(s["errors"] == 0) if name not in references else "")
    missing = [name for name in ("approve", *references) if name not in figures["load"]]
    if missing:  # the ratio is the benchmark's point: without both sides there is no result to print
        raise SystemExit(f"no {' and no '.join(missing)} measured during the {elapsed:.1f} s of load")
    approve, bare, durable, spread = (figures["load"][n] for n in ("approve", *references))
    ratio = common.Table("approve latency / bare update latency, same run, same load",
                  ["percentile", "approve ms", "bare durable ms", "approve / durable", "verdict",
                   "spread durable ms", "approve / spread", "verdict", "bare no-op ms", "approve / no-op"])
    for p in ("p50", "p95", "p99"):
        r, rs = approve[p] / durable[p], approve[p] / spread[p]
        figures[f"ratio_{p}"], figures[f"ratio_spread_{p}"] = r, rs
        figures[f"ratio_noop_{p}"] = approve[p] / bare[p]
        ratio.add(p, approve[p], durable[p], r, common.verdict(r <= TARGET_RATIO), spread[p], rs,
                  common.verdict(rs <= TARGET_RATIO), bare[p], approve[p] / bare[p])
    ratio.notes.append(f"target: approve / durable <= {TARGET_RATIO}. Bare durable update: an update whose handler"
                       " runs one local activity inserting one row (the one durable write a decision cannot avoid),"
                       " to one workflow, always cached; spread durable: the same update, each to a workflow of its"
                       f" own among {out['cases']:,} (as each approval goes to a case of its own), meeting the same"
                       " cache; bare no-op: an update that does nothing")
    idle_t = common.Table(f"idle reference: {IDLE_SAMPLES} calls one at a time, nothing else running",
                   ["call", "p50 ms", "p95 ms", "errors"])
    for name in ("inbox", "approve", *references):
        s = figures["idle"][name] = stats(idle.times[name], idle.errors[name])
        idle_t.add(name, s["p50"], s["p95"], s["errors"])
    idle_ratio = figures["idle"]["approve"]["p50"] / figures["idle"]["bare durable update"]["p50"]
    idle_t.notes.append(f"idle approve / bare durable update p50: {idle_ratio:.2f}")
    for name, s in figures["load"].items():
        for e in s["error_samples"]:
            t.notes.append(f"{name} error: {e}")
    t.notes.append(f"revocations because a checker's share ran out: {out['revokes']}")
    figures["cpu_seconds"] = out["cpu"]
    figures["pg_waits"] = out["pg_waits"]
    figures["worker_latencies"] = out["worker_latencies"]
    t.notes.append(f"worker task latencies during the load (means): {out['worker_latencies']}")
    figures["sticky_cache"] = out["cache"]
    t.notes.append(f"worker's workflow cache during the load: {out['cache']['hit']:.0f} hits,"
                   f" {out['cache']['miss']:.0f} misses (a miss replays the case's history in a fresh sandbox);"
                   f" max_cached_workflows {out['max_cached']}, {out['cases']:,} cases waiting,"
                   f" sandbox runner {out['runner']}")
    t.notes.append(f"PostgreSQL during the load: {out['pg_waits']}")
    t.notes.append(f"CPU used during the load (s of one core, over {elapsed:.0f} s on {os.cpu_count()} cores): "
                   + ", ".join(f"{k} {v:.1f}" for k, v in out["cpu"].items()))
    return [t, ratio, idle_t], figures


def main() -> None:
    parser = common.size_arg(__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--cases", type=int, help="changes prepared for approval")
    parser.add_argument("--max-cached", type=int, default=HRFLOW_CACHE,
                        help=f"the worker's max_cached_workflows (hrflow's default: {HRFLOW_CACHE})")
    parser.add_argument("--worker-processes", type=int, default=1,
                        help="worker processes, as hrflow worker --processes N (cache and task latencies: the first one's)")
    parser.add_argument("--runner", choices=common.RUNNERS, default="default",
                        help="the worker's sandbox: default is hrflow's, strict the full sandbox (the baseline), see bench.worker")
    args = parser.parse_args()
    clients, seconds, n_cases = SIZES[args.size]
    clients, seconds, n_cases = args.clients or clients, args.seconds or seconds, args.cases or n_cases
    facts = common.machine_facts(benchmark="api_load", size=args.size, clients=clients, seconds=seconds, cases=n_cases,
                          max_cached_workflows=args.max_cached, sandbox_runner=args.runner,
                                 worker_processes=args.worker_processes)
    common.print_facts(facts)
    t0 = time.monotonic()
    stack = common.Stack("api-load")
    try:
        from bench.memory import open_tasks, start_cases, wait_for

        stack.start_postgres()
        stack.start_temporal(db_file=False)
        stack.start_worker(max_cached=args.max_cached, metrics=True, runner=args.runner)
        for _ in range(args.worker_processes - 1):
            stack.start_worker(max_cached=args.max_cached, runner=args.runner)
        stack.start_api()
        common.say(f"stack up: API {stack.api_url} (pid {stack.pids()['api']}), worker pid {stack.pids()['worker']}")
        employees = [f"L{i:06d}" for i in range(n_cases)]
        spread_took = asyncio.run(start_spread(stack, n_cases))  # before the cases: as far out of the cache
        common.say(f"{n_cases:,} trivial workflows for the spread bare update ({spread_took:.0f} s)")
        stack.add_employees(employees)
        took = asyncio.run(start_cases(stack, employees))
        wait_for("open approval tasks", lambda: open_tasks(stack) >= n_cases, 3600, stack)
        common.say(f"{n_cases:,} changes waiting for approval ({time.monotonic() - t0:.0f} s; starts took {took:.0f} s)")
        out = asyncio.run(run(stack, clients, seconds, [f"si-change-{e}-1" for e in employees]))
        out.update(max_cached=args.max_cached, cases=n_cases, runner=args.runner)
        stack.check_children()
    finally:
        with contextlib.suppress(Exception):
            stack.close()
    tables, figures = report(out, clients, seconds)
    common.finish(tables, t0, args.json, {"facts": facts, "results": figures})


if __name__ == "__main__":
    main()
