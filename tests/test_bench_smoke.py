"""The benchmarks in ``bench/`` still run: each at its tiny size, all at once (a minute or two).

Only that each one finishes and prints its table is checked, never a timing: these are benchmarks,
and their figures belong in ``bench/RESULTS.md``, not in assertions. Each benchmark starts and stops
its own PostgreSQL, Temporal server, worker and API in temporary directories.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 240  # seconds, for the slowest of them while all of them share the machine

# benchmark module -> the title of the table it must print
BENCHMARKS = {
    "throughput": "== throughput:",
    "api_load": "== approve latency / bare update latency",
    "growth": "== growth:",
    "history": "== history:",
    "memory": "== worker memory:",
    "slow_temporal": "== database-only requests: slowed phase / direct phase",
    "employee_import": "== employee import:",
    "base_adjustment": "== base adjustment:",
    "step_cost": "== bookkeeping step: hrflow / the same statements by raw psycopg2",
}


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, tuple[subprocess.Popen[str], Path]]]:
    """Start every benchmark at once; each test waits for its own."""
    out_dir = Path(tempfile.mkdtemp(prefix="hrflow-bench-smoke-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HRFLOW_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    started: dict[str, tuple[subprocess.Popen[str], Path]] = {}
    for name in BENCHMARKS:
        log = out_dir / f"{name}.txt"
        proc = subprocess.Popen([sys.executable, "-m", f"bench.{name}", "--size", "tiny"], cwd=ROOT, env=env,
                                stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        started[name] = (proc, log)
    yield started
    for proc, _ in started.values():  # only what this fixture started, by its own process group
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    shutil.rmtree(out_dir, ignore_errors=True)  # a failure has already shown the tail of its output


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_benchmark_runs_and_prints_its_table(runs: dict[str, tuple[subprocess.Popen[str], Path]], name: str) -> None:
    proc, log = runs[name]
    try:
        code = proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"bench.{name} --size tiny did not finish in {TIMEOUT} s:\n{log.read_text()[-3000:]}")
    output = log.read_text()
    assert code == 0, f"bench.{name} --size tiny exited with {code}:\n{output[-3000:]}"
    assert BENCHMARKS[name] in output, f"bench.{name} printed no table:\n{output[-3000:]}"
    assert "ERROR" not in output.split(BENCHMARKS[name], 1)[1], f"bench.{name} reported an error:\n{output[-3000:]}"
