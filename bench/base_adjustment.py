"""The annual base adjustment end to end: N employees in one batch (the wage file uploaded, every
line computed, approved with its total echoed, declared to the simulated agency in pages by child
workflows, back-paid), against the same change made the way hrflow allowed before the batch
existed, one ``base_adjustment`` maker-checker case per employee, side by side.

    python -m bench.base_adjustment --size tiny|small|full|huge

A fresh embedded PostgreSQL, the Temporal dev server, one worker and the API, each its own
process, with the rollback window at 0 (the benchmark measures hrflow, not a wait). N employees are
insured in Beijing at 10,000 (on record and at the simulated agency); their wages spread across the
2026 floor and ceiling so every outcome appears. Measured: the wall time of each phase (upload and
compute; approve to declared), lines per second, the largest history (the batch's and its biggest
part's, in events), the worker's resident memory (VmHWM) and PostgreSQL's CPU. The baseline runs
``baseline`` single-employee changes (submit, approve, executed) through ``POST /si-changes``; the
ratio compares the time per employee.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import time
from decimal import Decimal
from typing import Any

import httpx

from bench import common
from db import blind_index

# employees, baseline cases ("huge": the 100,000-employee company the README sizes hardware for)
SIZES = {"tiny": (300, 20), "small": (2_000, 60), "full": (10_000, 200), "huge": (100_000, 200)}
MONTH = "2026-07"
PAGES_PER_PART = 20  # hrflow's default: 500 lines a page, 20 pages a child workflow


def wage(i: int) -> str:
    """Wages across the Beijing 2026 limits (7,270 to 36,348): a few below the floor, a few above
    the ceiling, some unchanged at 10,000, the rest in between."""
    if i % 50 == 0:
        return "5000.00"
    if i % 50 == 1:
        return "48000.00"
    if i % 20 == 2:
        return "10000.00"
    return str(Decimal(8000 + (i * 37) % 20000) + Decimal(i % 100) / 100)


def seed(stack: common.Stack, ids: list[str], first_person: int) -> None:
    """Insured in Beijing at 10,000: the employee, her enrollment, and the agency's record of it."""
    now = dt.datetime.now(dt.UTC)
    key = base64.b64decode(stack.blind_index_key)  # the agency's record names her by pseudonym
    stack.add_employees(ids)
    common.insert_rows(stack.dsn, "si_enrollments", ("employee_id", "city", "status", "base", "since_month", "opened_by"),
                       [(e, "beijing", "active", Decimal("10000.00"), "2021-03", "bench") for e in ids])
    common.insert_rows(stack.dsn, "sim_agency_requests", ("reference", "operation", "payload", "outcome", "number", "received_at"),
                       [(f"seed:{e}", "submit", {"city": "beijing", "person": blind_index.digest(key, common.resident_id(first_person + i)),
                                                 "kind": "enrollment", "effective_month": "2021-03", "employee_id": e},
                         "accepted", f"SBSEED{i}", now) for i, e in enumerate(ids)])


async def wait_stage(client: httpx.AsyncClient, path: str, stages: tuple[str, ...], headers: dict[str, str],
                     timeout: float = 1800) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = await client.get(path, headers=headers)
        if r.status_code == 200 and r.json()["stage"] in stages:
            return dict(r.json())
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} never reached {stages}: {r.text[:500]}")
        await asyncio.sleep(0.25)


async def largest_histories(stack: common.Stack, batch: str, parts: int) -> tuple[int, int]:
    client = await stack.client()
    batch_events = len((await client.get_workflow_handle(batch).fetch_history()).events)
    part_events = 0
    for n in range(1, parts + 1):
        history = await client.get_workflow_handle(f"{batch}-r1-part{n}").fetch_history()
        part_events = max(part_events, len(history.events))
    return batch_events, part_events


async def measure(stack: common.Stack, n: int, baseline: int) -> dict[str, Any]:
    from domain.roles import Role

    maker, checker = stack.token(Role.HR_SPECIALIST, "hr.bench"), stack.token(Role.HR_MANAGER, "mgr.bench")
    out: dict[str, Any] = {"employees": n, "baseline": baseline}
    worker = stack.pids()["worker"]
    content = ("员工编号,上年度月平均工资\r\n" + "".join(f"A{i:07d},{wage(i)}\r\n" for i in range(n))).encode()
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=600) as client:
        pg, t = common.postgres_cpu(stack), time.perf_counter()
        r = await client.post("/base-adjustments", data={"city": "Beijing", "effective_month": MONTH,
                                                         "reason": "2026 年度缴费基数调整（基准测试）"},
                              files={"file": ("wages.csv", content, "text/csv")}, headers=maker)
        assert r.status_code == 201, r.text[:500]
        batch = r.json()["workflow_id"]
        await wait_stage(client, f"/base-adjustments/{batch}", ("submitted",), maker)
        # The baseline's employees are insured here too, without a wage in the file: the maker
        # excludes them (they are adjusted one by one below), as she would people paid elsewhere.
        r = await client.post(f"/base-adjustments/{batch}/correct", headers=maker, json={
            "reason": "另行逐人调整（基线）", "lines": [{"employee_id": f"B{i:07d}", "exclude": True} for i in range(baseline)]})
        assert r.status_code == 200, r.text[:500]
        out["compute_s"] = time.perf_counter() - t
        totals = r.json()["totals"]
        out["pending"], out["back_pay_total"] = totals["pending"], totals["back_pay_total"]
        out["by_outcome"] = totals["by_outcome"]
        t = time.perf_counter()
        r = await client.post(f"/base-adjustments/{batch}/approve", json={"confirm_total": totals["back_pay_total"]},
                              headers=checker)
        assert r.status_code == 200, r.text[:500]
        view = await wait_stage(client, f"/base-adjustments/{batch}", ("declared", "returned"), maker)
        out["declare_s"] = time.perf_counter() - t
        out["pg_cpu_s"] = common.postgres_cpu(stack) - pg
        out["stage"], out["pages"] = view["stage"], len(view["pages"])
        out["accepted"] = view["totals"]["by_state"].get("accepted", 0)
        out["declared_back_pay"] = (Decimal(view["totals"]["declared_back_pay_employee"])
                                    + Decimal(view["totals"]["declared_back_pay_employer"]))
        out["worker_peak_rss_mb"] = common.peak_rss_mb(worker)
        parts = -(-out["pages"] // PAGES_PER_PART)
        out["batch_events"], out["part_events"] = await largest_histories(stack, batch, parts)

        t = time.perf_counter()
        cases = []
        for i in range(baseline):
            r = await client.post("/si-changes", json={"employee_id": f"B{i:07d}", "kind": "base_adjustment",
                                                       "base": "12000.00", "effective_month": "2027-01",
                                                       "reason": "逐人调整基数（基线）"}, headers=maker)
            assert r.status_code == 201, r.text[:500]
            cases.append(r.json()["workflow_id"])
        for wf in cases:
            await wait_stage(client, f"/si-changes/{wf}", ("submitted",), maker)
            r = await client.post(f"/si-changes/{wf}/approve", json={}, headers=checker)
            assert r.status_code == 200, r.text[:500]
        for wf in cases:
            await wait_stage(client, f"/si-changes/{wf}", ("executed", "completed"), maker)
        out["baseline_s"] = time.perf_counter() - t
    return out


def report(out: dict[str, Any]) -> tuple[list[common.Table], dict[str, Any]]:
    n, base = out["employees"], out["baseline"]
    total = out["compute_s"] + out["declare_s"]
    per_line, per_case = total / n * 1000, out["baseline_s"] / base * 1000
    table = common.Table(f"base adjustment: {n:,} employees in one batch / {base:,} single changes",
                         ["measure", "seconds", "per second", "ms per employee"])
    table.add("upload, compute every line, exclude the unpaid", out["compute_s"], n / out["compute_s"], out["compute_s"] / n * 1000)
    table.add(f"approve to declared ({out['pages']} pages, back-paid)", out["declare_s"], out["pending"] / out["declare_s"],
              out["declare_s"] / max(out["pending"], 1) * 1000)
    table.add("the batch, end to end", total, n / total, per_line)
    table.add(f"baseline: {base:,} si-change cases, submit to executed", out["baseline_s"], base / out["baseline_s"], per_case)
    table.notes = [
        f"ratio batch / baseline, per employee: {per_line / per_case:.3f} ({per_case / per_line:.1f}x faster)",
        (f"largest history: the batch {out['batch_events']} events, its largest part {out['part_events']} events"
         f" (a single change: a few dozen)"),
        f"worker peak resident memory: {out['worker_peak_rss_mb']:.0f} MB (VmHWM)",
        f"PostgreSQL CPU over the batch: {out['pg_cpu_s']:.1f} s",
        (f"stage {out['stage']}: {out['accepted']:,} lines accepted of {out['pending']:,} declared,"
         f" back-paid {out['declared_back_pay']} (approved total {out['back_pay_total']}); outcomes {out['by_outcome']}"),
    ]
    return [table], out | {"ratio_batch_to_baseline_per_employee": per_line / per_case,
                           "declared_back_pay": str(out["declared_back_pay"])}


def main() -> None:
    args = common.size_arg(__doc__.split("\n\n")[0], SIZES).parse_args()
    n, baseline = SIZES[args.size]
    facts = common.machine_facts(benchmark="base_adjustment", size=args.size, employees=n, baseline=baseline)
    common.print_facts(facts)
    t0 = time.monotonic()
    stack = common.Stack("base-adjustment")
    try:
        stack.start_postgres()
        stack.start_temporal(db_file=False)
        seed(stack, [f"A{i:07d}" for i in range(n)], 0)
        seed(stack, [f"B{i:07d}" for i in range(baseline)], n)
        env = {"HRFLOW_ROLLBACK_WINDOW_HOURS": "0", "HRFLOW_BASE_ADJUSTMENT_PAGES_PER_PART": str(PAGES_PER_PART),
               "HRFLOW_IMPORT_MAX_ROWS": str(max(n, 50_000)), "HRFLOW_MAX_UPLOAD_BYTES": str(20 * 1024 * 1024)}
        stack.start_worker(**env)
        stack.start_api(**env)
        common.say(f"stack up: API {stack.api_url}, worker pid {stack.pids()['worker']}")
        out = asyncio.run(measure(stack, n, baseline))
        stack.check_children()
    finally:
        with contextlib.suppress(Exception):
            stack.close()
    tables, figures = report(out)
    common.finish(tables, t0, args.json, {"facts": facts, "results": figures})


if __name__ == "__main__":
    main()
