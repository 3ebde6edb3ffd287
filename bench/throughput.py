"""Throughput: N cases of each process against one Temporal dev server, next to N bare cases of
the same shape, in the same run.

    python -m bench.throughput --size small|full [--temporal-db memory|file] [--only si_change,...]

One dev server (in memory by default; ``--temporal-db file`` gives it an SQLite file as
``hrflow dev`` does), one worker process (``bench.worker``: hrflow's ``build_worker`` with
max_cached_workflows=1000, 50 activity slots; the simulated agency's latency set to 0), real
PostgreSQL writes. Cases are driven through the API (``api.app.create_app``, served in this process
over ASGI, as the tests do) by ``bench.drivers``.

For each process, one calibration case runs first (also a warm-up); its histories (every run, every
child) give the bare workflow's shape: the same activities (parallel where the real ones were),
the same updates and signals in the same order, the same children and continue-as-new. Then the
batches run ABBA (bare, real, real, bare; N/2 cases each, at most ``concurrency`` in flight), so a
drift in the machine's load falls on both sides alike. cases/s = cases / wall time of their
batches; the ratio is real / bare (target >= 0.8).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import resource
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import common

SIZES = {"tiny": (2, 2), "small": (10, 10), "full": (100, 25)}  # cases per process and side, in flight
TARGET = 0.8
CODES = {"si_change": "S", "maternity": "M", "offboarding": "O", "transfer": "T", "non_compete": "N"}


async def batch(jobs: list[Callable[[], Awaitable[Any]]], concurrency: int) -> tuple[float, list[str]]:
    sem = asyncio.Semaphore(concurrency)
    errors: list[str] = []

    async def one(job: Callable[[], Awaitable[Any]]) -> None:
        async with sem:
            try:
                await job()
            except Exception as exc:  # noqa: BLE001 - counted and shown, never hidden
                errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")

    t0 = time.perf_counter()
    await asyncio.gather(*(one(j) for j in jobs))
    return time.perf_counter() - t0, errors


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(stack: common.Stack, processes: list[str], n: int, concurrency: int) -> dict[str, Any]:
    import httpx

    from api.app import create_app
    from bench import drivers
    from bench.bare import drive_bare, shape_of
    from db.session import make_engine

    settings = stack.settings(rollback_window_hours=0, si_followup_days=0, database_pool_size=concurrency + 5)
    client = await stack.client()
    engine = make_engine(stack.database_url or "", pool_size=concurrency + 5)
    poll_engine = make_engine(stack.database_url or "", pool_size=concurrency + 2)
    app = create_app(settings, engine=engine, temporal=client, codec=stack.codec())
    pids = stack.pids()
    results: dict[str, Any] = {}
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hrflow.bench", timeout=600) as api:
        ctx = drivers.Ctx(api=api, temporal=client, engine=poll_engine, tokens=stack.token)
        for process in processes:
            drive = drivers.DRIVERS[process]
            code = CODES[process]
            employees = [f"B{code}{i:05d}" for i in range(n + 1)]
            drivers.prepare(stack, process, employees)
            common.say(f"{process}: calibration case")
            calibration = await drive(ctx, employees[0])
            real_shape = await shape_of(client, calibration)
            bare_id = f"bare-{process}-calibration"
            await drive_bare(client, bare_id, real_shape.steps, stack.task_queue)
            bare_shape = await shape_of(client, bare_id)
            common.say(f"{process}: shape {real_shape.counts}")

            real_jobs = [functools.partial(drive, ctx, e) for e in employees[1:]]
            bare_jobs = [functools.partial(drive_bare, client, f"bare-{process}-{i}", real_shape.steps,
                                           stack.task_queue) for i in range(n)]
            half = n // 2
            spent = {"real": 0.0, "bare": 0.0}
            cpu = {k: {"worker": 0.0, "temporal": 0.0, "postgres": 0.0, "driver": 0.0} for k in spent}
            hist = {k: {name: [0.0, 0.0] for name in common.WORKER_LATENCIES} for k in spent}
            waits = {k: common.PgWaits(stack.dsn) for k in spent}
            errors: dict[str, list[str]] = {"real": [], "bare": []}
            for side, jobs in (("bare", bare_jobs[:half]), ("real", real_jobs[:half]),
                               ("real", real_jobs[half:]), ("bare", bare_jobs[half:])):
                if not jobs:
                    continue
                before = {name: common.cpu_seconds(pid) for name, pid in pids.items()}
                mine, pg = own_cpu(), common.postgres_cpu(stack)
                h0 = common.worker_histograms(stack.worker_metrics_port)
                sampler = common.PgWaits(stack.dsn)
                sampler.start()
                elapsed, errs = await batch(jobs, concurrency)
                await sampler.stop()
                h1 = common.worker_histograms(stack.worker_metrics_port)
                for name in common.WORKER_LATENCIES:
                    if name in h0 and name in h1:
                        hist[side][name][0] += h1[name][0] - h0[name][0]
                        hist[side][name][1] += h1[name][1] - h0[name][1]
                for what, k in sampler.counts.items():
                    waits[side].counts[what] = waits[side].counts.get(what, 0) + k
                waits[side].samples += sampler.samples
                for name, pid in pids.items():
                    cpu[side][name] += common.cpu_seconds(pid) - before[name]
                cpu[side]["postgres"] += common.postgres_cpu(stack) - pg
                cpu[side]["driver"] += own_cpu() - mine
                spent[side] += elapsed
                errors[side] += errs
                common.say(f"{process}: {len(jobs)} {side} cases in {elapsed:.1f} s"
                    + (f", {len(errs)} errors" if errs else ""))
            real_rate = (n - len(errors["real"])) / spent["real"]
            bare_rate = (n - len(errors["bare"])) / spent["bare"]
            results[process] = {
                "cases": n, "real_cases_per_s": real_rate, "bare_cases_per_s": bare_rate,
                "ratio": real_rate / bare_rate, "real_seconds": spent["real"], "bare_seconds": spent["bare"],
                "real_shape": real_shape.counts, "bare_shape": bare_shape.counts,
                "cpu_ms_per_case": {side: {k: v * 1000 / n for k, v in c.items()} for side, c in cpu.items()},
                "worker_latency_ms": {side: {name: (v[0] / v[1] if v[1] else float("nan")) for name, v in h.items()}
                                      for side, h in hist.items()},
                "pg_waits": {side: w.summary(3) for side, w in waits.items()},
                "pg_advisory_lock_waiters": {side: (w.counts.get("Lock:advisory", 0) / w.samples if w.samples else 0.0)
                                             for side, w in waits.items()},
                "errors": errors,
            }
    await asyncio.to_thread(engine.dispose)
    poll_engine.dispose()
    return results


def report(results: dict[str, Any], n: int, concurrency: int, temporal_db: str) -> list[common.Table]:
    main = common.Table(f"throughput: {n} cases per process and side, {concurrency} in flight, dev server {temporal_db}",
                 ["process", "activities", "updates", "signals", "children", "runs", "events real/bare",
                  "real cases/s", "bare cases/s", "real/bare", "target", "verdict", "errors"])
    cpu = common.Table("CPU per case (ms of one core): where the difference goes",
                ["process", "worker real", "worker bare", "temporal real", "temporal bare", "postgres real",
                 "postgres bare", "driver+API real", "driver bare"])
    why = common.Table("worker task latencies (means, ms) and PostgreSQL lock waits, real vs bare",
                ["process", "wft schedule-to-start", "wft execution", "activity schedule-to-start",
                 "activity execution", "backends waiting on the audit lock"])
    for process, r in results.items():
        s, b = r["real_shape"], r["bare_shape"]
        events = f"{s.get('events', 0) + s.get('child_events', 0)}/{b.get('events', 0) + b.get('child_events', 0)}"
        children = s.get("children", 0)
        acts = s.get("activities", 0) + s.get("child_activities", 0)
        assert acts == b.get("activities", 0) + b.get("child_activities", 0), (s, b)
        main.add(process, acts, s.get("updates", 0), s.get("signals", 0), children, s.get("runs", 1), events,
                 r["real_cases_per_s"], r["bare_cases_per_s"], r["ratio"], f">= {TARGET}",
                 common.verdict(r["ratio"] >= TARGET), len(r["errors"]["real"]) + len(r["errors"]["bare"]))
        c = r["cpu_ms_per_case"]
        cpu.add(process, c["real"]["worker"], c["bare"]["worker"], c["real"]["temporal"], c["bare"]["temporal"],
                c["real"]["postgres"], c["bare"]["postgres"], c["real"]["driver"], c["bare"]["driver"])
        lat = r["worker_latency_ms"]
        why.add(process, *[f"{lat['real'][name]:.1f} / {lat['bare'][name]:.1f}" for name in common.WORKER_LATENCIES],
                f"{r['pg_advisory_lock_waiters']['real']:.1f} / {r['pg_advisory_lock_waiters']['bare']:.1f}")
    main.notes += [("activities include those of child workflows (offboarding: the enrollment stop);"
                    " timers are not replayed by the bare case"),
                   ("real cases go through the API in this process; bare cases are started and messaged with"
                    " the Temporal client from the same process"),
                   ("simulated agency latency 0 ms; rollback window 0 h and si follow-up 0 days so si_change"
                    " cases finish")]
    for process, r in results.items():
        for side in ("real", "bare"):
            for e in r["errors"][side][:3]:
                main.notes.append(f"{process} {side} error: {e}")
    why.notes.append("each cell: real / bare; wft = workflow task; lock waits: active backends waiting on"
                     " Lock:advisory (the audit chain's lock), on average over 4 samples a second")
    return [main, cpu, why]


def main() -> None:
    parser = common.size_arg(__doc__.split("\n\n")[0])
    parser.add_argument("--temporal-db", choices=("memory", "file"), default="memory",
                        help="dev server history in memory (default) or in an SQLite file (--db-filename)")
    parser.add_argument("--only", help="comma-separated processes (default: all five)")
    parser.add_argument("--cases", type=int, help="override the size's cases per process")
    parser.add_argument("--runner", choices=("default", "passthrough-all", "unsandboxed"), default="default",
                        help="sandbox runner of the worker: an experiment of bench.worker, not hrflow as it ships")
    args = parser.parse_args()
    n, concurrency = SIZES[args.size]
    n = args.cases or n
    processes = args.only.split(",") if args.only else list(CODES)
    facts = common.machine_facts(benchmark="throughput", size=args.size, temporal_db=args.temporal_db,
                          sandbox_runner=args.runner)
    common.print_facts(facts)
    t0 = time.monotonic()
    stack = common.Stack("throughput")
    try:
        stack.start_postgres()
        stack.start_temporal(db_file=args.temporal_db == "file")
        stack.start_worker(max_cached=1000, metrics=True, runner=args.runner)
        common.say(f"stack up: PostgreSQL, Temporal dev server ({args.temporal_db}), worker pid {stack.pids()['worker']}")
        results = asyncio.run(run(stack, processes, n, concurrency))
    finally:
        with contextlib.suppress(Exception):
            stack.close()
    common.finish(report(results, n, concurrency, args.temporal_db), t0, args.json, {"facts": facts, "results": results})


if __name__ == "__main__":
    main()
