"""Throughput: N cases of each process against one Temporal dev server, next to N bare cases of
the same shape, in the same run.

    python -m bench.throughput --size small|full [--temporal-db memory|file] [--only si_change,...] [--rounds R]

One dev server (in memory by default; ``--temporal-db file`` gives it an SQLite file as
``hrflow dev`` does), one worker process (``bench.worker``: hrflow's ``build_worker`` with
max_cached_workflows=1000, 50 activity slots; the simulated agency's latency set to 0), real
PostgreSQL writes. Cases are driven through the API (``api.app.create_app``, served in this process
over ASGI, as the tests do) by ``bench.drivers``.

For each process, one calibration case runs first (also a warm-up); its histories (every run, every
child) give the bare workflow's shape: the same activities (parallel where the real ones were),
the same updates and signals in the same order, the same children and continue-as-new; hrflow's
local activities (its bookkeeping) become regular no-op activities in the bare. Then the batches
run ABBA (bare, real, real, bare), ``--rounds`` times (N/(2·rounds) cases a batch, at most
``concurrency`` in flight), so a drift in the machine's load falls on both sides alike.

cases/s is measured at the fixed load: in each batch's steady window, from the ``concurrency``-th
case to end to the end after which no case was left to start (``Batch.steady``), where exactly
``concurrency`` cases were in flight and the first wave, all started at once, had passed. A batch
of 25 cases at 25 in flight has no such window: it is one wave, timed by its slowest case, and
the longer a side's cases the more of its batch is spent draining. The ratio is real / bare
(target >= 0.9), and each neighbouring real and bare batch gives a pair ratio whose spread is
reported beside it; the ratio over the batches' whole wall time is shown beside it. A batch under
4x ``concurrency`` (the small and tiny sizes) has only its wall time. Before a steady measurement,
one unmeasured wave of each side fills the pools, caches and plans (a warm-up).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench import common

# cases per process and side, in flight; full: batches of 100 at 25 in flight (a steady window of 50)
SIZES = {"tiny": (2, 2), "small": (10, 10), "full": (400, 25)}
TARGET = 0.9
CODES = {"si_change": "S", "maternity": "M", "offboarding": "O", "transfer": "T", "non_compete": "N"}


# A case not finished by then is an error of its batch (or, for a calibration case, of the run),
# never a run that waits for ever.
CASE_TIMEOUT_S = 300
# A batch has a steady window from this many times ``concurrency`` cases (``Batch.steady``).
STEADY_FROM = 4


@dataclass
class Batch:
    """One batch's wall time, its errors and when each case ended (seconds from its start)."""

    elapsed: float
    errors: list[str]
    ended: list[float]

    def steady(self, concurrency: int) -> tuple[int, float] | None:
        """Cases ended, and seconds, while exactly ``concurrency`` were in flight and the first wave
        had passed: from the ``concurrency``-th end to the one after which the queue ran dry (a
        new case starts at every end until then). None for a batch under 4x ``concurrency``."""
        n, ends = len(self.ended), sorted(self.ended)
        if n < STEADY_FROM * concurrency:
            return None
        return n - 2 * concurrency, ends[n - concurrency - 1] - ends[concurrency - 1]


async def batch(jobs: list[Callable[[], Awaitable[Any]]], concurrency: int) -> Batch:
    sem = asyncio.Semaphore(concurrency)
    errors: list[str] = []
    ended: list[float] = []
    t0 = time.perf_counter()

    async def one(job: Callable[[], Awaitable[Any]]) -> None:
        async with sem:
            try:
                async with asyncio.timeout(CASE_TIMEOUT_S):
                    await job()
            except TimeoutError:
                errors.append(f"not finished in {CASE_TIMEOUT_S} s")
            except Exception as exc:  # noqa: BLE001 - counted and shown, never hidden
                errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")
            ended.append(time.perf_counter() - t0)

    await asyncio.gather(*(one(j) for j in jobs))
    return Batch(time.perf_counter() - t0, errors, ended)


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Tally:
    """What the real and the bare side spent over their batches: time, CPU, task latencies, waits."""

    def __init__(self, stack: common.Stack, pids: dict[str, int], process: str, concurrency: int) -> None:
        self.stack, self.pids, self.process, self.concurrency = stack, pids, process, concurrency
        sides = ("real", "bare")
        self.spent = dict.fromkeys(sides, 0.0)
        self.steady = {k: [0, 0.0] for k in sides}  # cases ended and seconds in the steady windows
        self.cpu = {k: {"worker": 0.0, "temporal": 0.0, "postgres": 0.0, "driver": 0.0} for k in sides}
        self.hist = {k: {name: [0.0, 0.0] for name in common.WORKER_LATENCIES} for k in sides}
        self.waits = {k: common.PgWaits(stack.dsn) for k in sides}
        self.errors: dict[str, list[str]] = {k: [] for k in sides}

    async def measure(self, side: str, jobs: list[Callable[[], Awaitable[Any]]]) -> float:
        """Run one batch; its cases/s: in its steady window when it has one, else over its wall time."""
        stack = self.stack
        before = {name: common.cpu_seconds(pid) for name, pid in self.pids.items()}
        mine, pg = own_cpu(), common.postgres_cpu(stack)
        h0 = common.worker_histograms(stack.worker_metrics_port)
        sampler = common.PgWaits(stack.dsn)
        sampler.start()
        done = await batch(jobs, self.concurrency)
        elapsed, errs = done.elapsed, done.errors
        await sampler.stop()
        h1 = common.worker_histograms(stack.worker_metrics_port)
        for name in common.WORKER_LATENCIES:
            if name in h0 and name in h1:
                self.hist[side][name][0] += h1[name][0] - h0[name][0]
                self.hist[side][name][1] += h1[name][1] - h0[name][1]
        for what, k in sampler.counts.items():
            self.waits[side].counts[what] = self.waits[side].counts.get(what, 0) + k
        self.waits[side].samples += sampler.samples
        for name, pid in self.pids.items():  # the worker processes' CPU summed as one "worker"
            self.cpu[side][name.split("#")[0]] += common.cpu_seconds(pid) - before[name]
        self.cpu[side]["postgres"] += common.postgres_cpu(stack) - pg
        self.cpu[side]["driver"] += own_cpu() - mine
        self.spent[side] += elapsed
        self.errors[side] += errs
        steady = done.steady(self.concurrency)
        common.say(f"{self.process}: {len(jobs)} {side} cases in {elapsed:.1f} s"
                   + (f", steady {steady[0] / steady[1]:.2f}/s" if steady else "")
                   + (f", {len(errs)} errors" if errs else ""))
        if steady is None:
            return (len(jobs) - len(errs)) / elapsed
        self.steady[side][0] += steady[0]
        self.steady[side][1] += steady[1]
        return steady[0] / steady[1]


def batch_size(n: int, rounds: int) -> int:
    """Cases a batch of ``abba``'s: each round has two of each side."""
    return max(1, n // (2 * rounds))


def abba(real: list[Any], bare: list[Any], rounds: int) -> list[list[tuple[str, list[Any]]]]:
    """The batches as neighbouring pairs: each round (bare, real) then (real, bare)."""
    cut = batch_size(len(real), rounds)
    chunks = [(real[i:i + cut], bare[i:i + cut]) for i in range(0, len(real), cut)]
    return [[("bare", b), ("real", r)] if k % 2 == 0 else [("real", r), ("bare", b)] for k, (r, b) in enumerate(chunks)]


async def run(stack: common.Stack, processes: list[str], n: int, concurrency: int, rounds: int = 1) -> dict[str, Any]:
    import httpx

    from api.app import create_app
    from bench import drivers
    from bench.bare import drive_bare, shape_of
    from db.session import make_engine

    settings = stack.settings(rollback_window_hours=0, si_followup_days=0, database_pool_size=concurrency + 5)
    client = await stack.client()
    engine = make_engine(stack.database_url or "", pool_size=concurrency + 5)
    # the driver's own look-ups (a person watching her inbox): the harness's cost, kept small (no pre-ping)
    poll_engine = make_engine(stack.database_url or "", pool_size=concurrency + 2, pre_ping=False)
    app = create_app(settings, engine=engine, temporal=client, codec=stack.codec())
    pids = stack.pids()
    results: dict[str, Any] = {}
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hrflow.bench", timeout=600) as api:
        ctx = drivers.Ctx(api=api, temporal=client, engine=poll_engine, tokens=stack.token)
        for process in processes:
            drive = drivers.DRIVERS[process]
            code = CODES[process]
            # a steady measurement starts warm: one unmeasured wave of each side first
            warm = concurrency if batch_size(n, rounds) >= STEADY_FROM * concurrency else 0
            employees = [f"B{code}{i:05d}" for i in range(n + 1 + warm)]
            drivers.prepare(stack, process, employees)
            common.say(f"{process}: calibration case")
            async with asyncio.timeout(CASE_TIMEOUT_S):
                calibration = await drive(ctx, employees[0])
            real_shape = await shape_of(client, calibration)
            bare_id = f"bare-{process}-calibration"
            async with asyncio.timeout(CASE_TIMEOUT_S):
                await drive_bare(client, bare_id, real_shape.steps, stack.task_queue)
            bare_shape = await shape_of(client, bare_id)
            common.say(f"{process}: shape {real_shape.counts}")

            real_jobs = [functools.partial(drive, ctx, e) for e in employees[1:]]
            bare_jobs = [functools.partial(drive_bare, client, f"bare-{process}-{i}", real_shape.steps,
                                           stack.task_queue) for i in range(n + warm)]
            if warm:  # one wave of each, not measured: pools, caches and plans of both sides filled
                for side, jobs in (("real", real_jobs[:warm]), ("bare", bare_jobs[:warm])):
                    warming = await batch(jobs, concurrency)
                    common.say(f"{process}: warm-up, {warm} {side} cases in {warming.elapsed:.1f} s"
                               + (f", {len(warming.errors)} errors: {warming.errors[:1]}" if warming.errors else ""))
                real_jobs, bare_jobs = real_jobs[warm:], bare_jobs[warm:]
            tally = Tally(stack, pids, process, concurrency)
            pair_ratios: list[float] = []
            polls_before = ctx.polls  # only real cases poll
            for pair in abba(real_jobs, bare_jobs, rounds):
                rates = {side: await tally.measure(side, jobs) for side, jobs in pair if jobs}
                if len(rates) == 2:
                    pair_ratios.append(rates["real"] / rates["bare"])
            spent, cpu, hist, waits, errors = tally.spent, tally.cpu, tally.hist, tally.waits, tally.errors
            wall_real = (n - len(errors["real"])) / spent["real"]
            wall_bare = (n - len(errors["bare"])) / spent["bare"]
            steady = {side: c / t if t else None for side, (c, t) in tally.steady.items()}
            real_rate, bare_rate = steady["real"] or wall_real, steady["bare"] or wall_bare
            results[process] = {
                "cases": n, "real_cases_per_s": real_rate, "bare_cases_per_s": bare_rate,
                "ratio": real_rate / bare_rate, "pair_ratios": pair_ratios,
                "steady": steady["real"] is not None and steady["bare"] is not None,
                "wall_cases_per_s": {"real": wall_real, "bare": wall_bare}, "wall_ratio": wall_real / wall_bare,
                "real_seconds": spent["real"], "bare_seconds": spent["bare"],
                "real_shape": real_shape.counts, "bare_shape": bare_shape.counts,
                "cpu_ms_per_case": {side: {k: v * 1000 / n for k, v in c.items()} for side, c in cpu.items()},
                "worker_latency_ms": {side: {name: (v[0] / v[1] if v[1] else float("nan")) for name, v in h.items()}
                                      for side, h in hist.items()},
                "pg_waits": {side: w.summary(3) for side, w in waits.items()},
                "pg_advisory_lock_waiters": {side: (w.counts.get("Lock:advisory", 0) / w.samples if w.samples else 0.0)
                                             for side, w in waits.items()},
                "errors": errors,
                "driver_polls_per_case": (ctx.polls - polls_before) / n,
            }
    await asyncio.to_thread(engine.dispose)
    poll_engine.dispose()
    return results


def report(results: dict[str, Any], n: int, concurrency: int, temporal_db: str) -> list[common.Table]:
    main = common.Table(f"throughput: {n} cases per process and side, {concurrency} in flight, dev server {temporal_db}",
                 ["process", "activities", "updates", "signals", "children", "runs", "events real/bare",
                  "real cases/s", "bare cases/s", "real/bare", "pair ratios min-max", "target", "verdict",
                  "wall real/bare", "errors"])
    cpu = common.Table("CPU per case (ms of one core): where the difference goes",
                ["process", "worker real", "worker bare", "temporal real", "temporal bare", "postgres real",
                 "postgres bare", "driver+API real", "driver bare"])
    why = common.Table("worker task latencies (means, ms) and PostgreSQL lock waits, real vs bare",
                ["process", "wft schedule-to-start", "wft execution", "activity schedule-to-start",
                 "activity execution", "backends waiting on advisory locks"])
    for process, r in results.items():
        s, b = r["real_shape"], r["bare_shape"]
        events = f"{s.get('events', 0) + s.get('child_events', 0)}/{b.get('events', 0) + b.get('child_events', 0)}"
        children = s.get("children", 0)
        acts = s.get("activities", 0) + s.get("child_activities", 0)
        assert acts == b.get("activities", 0) + b.get("child_activities", 0), (s, b)
        main.add(process, acts, s.get("updates", 0), s.get("signals", 0), children, s.get("runs", 1), events,
                 r["real_cases_per_s"], r["bare_cases_per_s"], r["ratio"],
                 f"{min(r['pair_ratios']):.2f}-{max(r['pair_ratios']):.2f}" if r["pair_ratios"] else "-", f">= {TARGET}",
                 common.verdict(r["ratio"] >= TARGET), r["wall_ratio"], len(r["errors"]["real"]) + len(r["errors"]["bare"]))
        c = r["cpu_ms_per_case"]
        cpu.add(process, c["real"]["worker"], c["bare"]["worker"], c["real"]["temporal"], c["bare"]["temporal"],
                c["real"]["postgres"], c["bare"]["postgres"], c["real"]["driver"], c["bare"]["driver"])
        lat = r["worker_latency_ms"]
        why.add(process, *[f"{lat['real'][name]:.1f} / {lat['bare'][name]:.1f}" for name in common.WORKER_LATENCIES],
                f"{r['pg_advisory_lock_waiters']['real']:.1f} / {r['pg_advisory_lock_waiters']['bare']:.1f}")
    steady = all(r["steady"] for r in results.values())
    main.notes += [(f"cases/s in the batches' steady windows ({concurrency} in flight, the first wave passed); wall real/bare:"
                    " over the batches' whole wall time, their first wave and drain included" if steady else
                    "cases/s over the batches' wall time (batches too small for a steady window)"),
                   (f"before the batches, one wave of {concurrency} cases of each side ran unmeasured (a warm-up)"
                    if steady else "no warm-up"),
                   ("activities include those of child workflows (offboarding: the enrollment stop);"
                    " timers are not replayed by the bare case"),
                   ("real cases go through the API in this process; bare cases are started and messaged with"
                    " the Temporal client from the same process"),
                   ("simulated agency latency 0 ms; rollback window 0 h and si follow-up 0 days so si_change"
                    " cases finish")]
    cpu.notes.append("driver+API real includes the driver's database polls while it waits for a case (as a person"
                     " would look at her inbox), per case: " + ", ".join(
                         f"{p} {r['driver_polls_per_case']:.1f}" for p, r in results.items()))
    for process, r in results.items():
        for side in ("real", "bare"):
            for e in r["errors"][side][:3]:
                main.notes.append(f"{process} {side} error: {e}")
    why.notes.append("each cell: real / bare; wft = workflow task; lock waits: active backends waiting on"
                     " Lock:advisory (no audit append takes one since per-case chains), on average over 4 samples a second")
    return [main, cpu, why]


def main() -> None:
    parser = common.size_arg(__doc__.split("\n\n")[0])
    parser.add_argument("--temporal-db", choices=("memory", "file"), default="memory",
                        help="dev server history in memory (default) or in an SQLite file (--db-filename)")
    parser.add_argument("--only", help="comma-separated processes (default: all five)")
    parser.add_argument("--cases", type=int, help="override the size's cases per process")
    parser.add_argument("--rounds", type=int, default=2, help="ABBA rounds: each gives two pair ratios (default 2)")
    parser.add_argument("--worker-processes", type=int, default=1,
                        help="worker processes, as hrflow worker --processes N (task latencies: the first one's)")
    parser.add_argument("--runner", choices=common.RUNNERS, default="default",
                        help="the worker's sandbox: default is hrflow's, strict the full sandbox (the baseline), see bench.worker")
    args = parser.parse_args()
    n, concurrency = SIZES[args.size]
    n = args.cases or n
    processes = args.only.split(",") if args.only else list(CODES)
    facts = common.machine_facts(benchmark="throughput", size=args.size, temporal_db=args.temporal_db,
                          sandbox_runner=args.runner, rounds=args.rounds, worker_processes=args.worker_processes)
    common.print_facts(facts)
    t0 = time.monotonic()
    stack = common.Stack("throughput")
    try:
        stack.start_postgres()
        stack.start_temporal(db_file=args.temporal_db == "file")
        stack.start_worker(max_cached=1000, metrics=True, runner=args.runner)
        for _ in range(args.worker_processes - 1):
            stack.start_worker(max_cached=1000, runner=args.runner)
        common.say(f"stack up: PostgreSQL, Temporal dev server ({args.temporal_db}), worker pid {stack.pids()['worker']}")
        results = asyncio.run(run(stack, processes, n, concurrency, args.rounds))
    finally:
        with contextlib.suppress(Exception):
            stack.close()
    common.finish(report(results, n, concurrency, args.temporal_db), t0, args.json, {"facts": facts, "results": results})


if __name__ == "__main__":
    main()
