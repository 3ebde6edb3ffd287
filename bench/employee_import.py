"""Employee import: an XLSX file of N employees through ``POST /employees/import``, against the
same N registered one by one through ``POST /employees``, side by side.

    python -m bench.employee_import --size small|full

The API runs as its own process, as ``hrflow dev`` starts it (``python -m hrflow.cli api``), on a
fresh embedded PostgreSQL and the Temporal dev server (the API's health needs it; no case starts).
The file is written by openpyxl as Excel writes one: Chinese headers, dates as date cells, bases as
numbers, ID numbers as text. Measured, each on an empty register:

- the dry run, then the import (wall time of the request, rows per second, the API process's peak
  resident memory from /proc/<pid>/status VmHWM, PostgreSQL's CPU);
- the baseline: the same rows registered by ``POST /employees``, one request after another, the way
  a script would migrate them before there was an import (at most ``baseline`` rows, per row).

The ratio compares the import's time per row with the baseline's: how much faster one file is
than a request per person. A file of N rows with one bad row is timed too (422, nothing imported).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import time
from typing import Any

import httpx

from bench import common

SIZES = {"tiny": (200, 50), "small": (2_000, 300), "full": (10_000, 1_000)}  # rows, baseline rows


def workbook(n: int, first: int = 0, *, bad_row: int | None = None) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("员工")
    sheet.append(["员工编号", "姓名", "居民身份证号码", "部门", "岗位", "入职日期", "社保参保省份", "社保参保城市",
                  "缴费基数", "直属上级员工编号", "电子邮箱"])
    for i in range(first, first + n):
        manager = f"M{first:07d}" if i > first else None  # the first row manages the rest
        number = f"M{i:07d}"
        resident = common.resident_id(i)
        if bad_row is not None and i - first == bad_row:
            resident = resident[:-1] + ("0" if resident[-1] != "0" else "1")
        sheet.append([number, f"员工{i}", resident, f"部门{i % 40}", "专员", dt.date(2020, 1, 1) + dt.timedelta(days=i % 1500),
                      "Beijing", "Beijing", 10000 + (i % 200) * 50, manager, f"m{i}@corp.test"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def json_row(i: int) -> dict[str, Any]:
    return {"employee_id": f"B{i:07d}", "name": f"员工{i}", "resident_id_number": common.resident_id(1_000_000 + i),
            "department": f"部门{i % 40}", "position": "专员",
            "hire_date": (dt.date(2020, 1, 1) + dt.timedelta(days=i % 1500)).isoformat(),
            "si_province": "Beijing", "si_city": "Beijing", "contribution_base": str(10000 + (i % 200) * 50),
            "email": f"b{i}@corp.test"}


def chain_verifies(stack: common.Stack) -> bool:
    """The audit chain after the import walks from genesis to its head (the batch kept its order)."""
    from db.audit import verify_chain
    from db.session import make_engine, make_session_factory

    engine = make_engine(stack.settings().sqlalchemy_url, pool_size=1)
    try:
        with make_session_factory(engine)() as session:
            return verify_chain(session).ok
    finally:
        engine.dispose()


async def measure(stack: common.Stack, rows: int, baseline_rows: int) -> dict[str, Any]:
    from domain.roles import Role

    hr = stack.token(Role.HR_SPECIALIST, "hr.bench")
    api_pid = stack.pids()["api"]
    out: dict[str, Any] = {"rows": rows, "baseline_rows": baseline_rows,
                           "api_rss_before_mb": common.rss_mb(api_pid)}
    content = workbook(rows)
    out["file_kb"] = len(content) / 1024
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=600) as client:
        async def post(data: bytes, dry_run: bool) -> tuple[float, httpx.Response]:
            pg = common.postgres_cpu(stack)
            t = time.perf_counter()
            r = await client.post("/employees/import", params={"dry_run": str(dry_run).lower()},
                                  files={"file": ("员工.xlsx", data)}, headers=hr)
            out.setdefault("pg_cpu_s", {})["dry_run" if dry_run else "import"] = common.postgres_cpu(stack) - pg
            return time.perf_counter() - t, r

        bad = workbook(rows, rows, bad_row=rows // 2)
        out["bad_s"], r = await post(bad, False)
        assert r.status_code == 422 and len(r.json()["detail"]) == 1, r.text[:500]
        out["dry_s"], r = await post(content, True)
        assert r.status_code == 200 and r.json()["valid"] == rows, r.text[:500]
        out["import_s"], r = await post(content, False)
        assert r.status_code == 201 and r.json()["imported"] == rows, r.text[:500]
        out["api_peak_rss_mb"] = common.peak_rss_mb(api_pid)
        out["chain_ok"] = chain_verifies(stack)
        t = time.perf_counter()
        for i in range(baseline_rows):
            r = await client.post("/employees", json=json_row(i), headers=hr)
            assert r.status_code == 201, r.text[:500]
        out["baseline_s"] = time.perf_counter() - t
    return out


def report(out: dict[str, Any]) -> tuple[list[common.Table], dict[str, Any]]:
    rows, base = out["rows"], out["baseline_rows"]
    per_row_import = out["import_s"] / rows * 1000
    per_row_base = out["baseline_s"] / base * 1000
    table = common.Table(f"employee import: {rows:,} rows from XLSX ({out['file_kb']:.0f} KB) / {base:,} POST /employees",
                         ["measure", "seconds", "rows/s", "ms per row"])
    table.add("dry run (check only)", out["dry_s"], rows / out["dry_s"], out["dry_s"] / rows * 1000)
    table.add("import (check, insert, audit)", out["import_s"], rows / out["import_s"], per_row_import)
    table.add("file with one bad row (422, nothing imported)", out["bad_s"], rows / out["bad_s"], out["bad_s"] / rows * 1000)
    table.add(f"baseline: POST /employees x {base:,}", out["baseline_s"], base / out["baseline_s"], per_row_base)
    table.notes = [
        (f"ratio import / baseline, per row: {per_row_import / per_row_base:.3f}"
         f" ({per_row_base / per_row_import:.1f}x faster than a request per person)"),
        (f"API process: {out['api_rss_before_mb']:.0f} MB resident before, peak {out['api_peak_rss_mb']:.0f} MB"
         f" (VmHWM) after the import"),
        f"PostgreSQL CPU: dry run {out['pg_cpu_s']['dry_run']:.2f} s, import {out['pg_cpu_s']['import']:.2f} s",
        f"audit chain verifies after the import: {'yes' if out['chain_ok'] else 'NO'}",
    ]
    return [table], out | {"ratio_import_to_baseline_per_row": per_row_import / per_row_base}


def main() -> None:
    args = common.size_arg(__doc__.split("\n\n")[0]).parse_args()
    rows, baseline_rows = SIZES[args.size]
    facts = common.machine_facts(benchmark="employee_import", size=args.size, rows=rows, baseline_rows=baseline_rows)
    common.print_facts(facts)
    t0 = time.monotonic()
    stack = common.Stack("employee-import")
    try:
        stack.start_postgres()
        stack.start_temporal(db_file=False)
        stack.start_api(HRFLOW_IMPORT_MAX_ROWS=str(max(rows, 50_000)))
        common.say(f"stack up: API {stack.api_url} (pid {stack.pids()['api']})")
        out = asyncio.run(measure(stack, rows, baseline_rows))
        stack.check_children()
    finally:
        with contextlib.suppress(Exception):
            stack.close()
    tables, figures = report(out)
    common.finish(tables, t0, args.json, {"facts": facts, "results": figures})


if __name__ == "__main__":
    main()
