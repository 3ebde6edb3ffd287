"""The worker process the benchmarks start: hrflow's own worker (``worker.build_worker``, every
workflow and activity, the simulated agency from the settings) plus the bare benchmark workflows.

Configured like ``hrflow worker`` from HRFLOW_* variables (the stack sets them; the simulated
agency's latency is 0). ``--max-cached`` is passed to ``build_worker`` (hrflow's default: HRFLOW_WORKER_MAX_CACHED_WORKFLOWS, 800);
``--metrics-port`` serves the SDK's Prometheus metrics (e.g. ``temporal_sticky_cache_size``), so
a benchmark can see how many workflows the worker holds in its cache.

``--runner default`` is hrflow as it ships (``hrflow.sandbox.workflow_runner``: hrflow's own pure
packages passed through the sandbox, and the bare workflows' module with them, so both sides run
alike, entered the lean way). The others are baselines and experiments: ``sdk-entry`` is the same
sandbox entered the SDK's way (each entry's code compiled again, the importer swapped in to read a
payload's serialization context); ``strict`` is the full sandbox, which re-imports each
workflow's modules for every workflow run (hrflow before issue 19); ``passthrough-all`` passes
every module through; ``unsandboxed`` (no sandbox at all) shows the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path


async def main(args: argparse.Namespace) -> None:
    from sqlalchemy import text
    from temporalio import activity
    from temporalio.client import Client
    from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
    from temporalio.worker import UnsandboxedWorkflowRunner
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    from bench.bare import BareWorkflow, TrivialWorkflow, noop
    from db.session import make_engine
    from hrflow.codec import data_converter
    from hrflow.sandbox import workflow_runner
    from hrflow.settings import load_settings
    from hrflow.temporal import codec_from, sealing_sessions
    from worker import build_worker

    settings = load_settings()
    engine = make_engine(settings.sqlalchemy_url, pool_size=settings.worker_max_concurrent_activities, pre_ping=False)
    codec = codec_from(settings)
    sessions = sealing_sessions(settings, engine, keyring=codec.keyring)  # one keyring, as worker.run has
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_writes"
                          " (id bigserial PRIMARY KEY, n bigint NOT NULL, at timestamptz NOT NULL DEFAULT now())"))

    @activity.defn(name="bench_write")
    def bench_write(n: int) -> int:
        """The baseline's one durable write: one row, one transaction."""
        with sessions.begin() as session:
            session.execute(text("INSERT INTO bench_writes (n) VALUES (:n)"), {"n": n})
        return n

    # the bare workflows are passed through like hrflow's own (``default``), or not at all
    runner = {"default": workflow_runner("bench.bare"), "sdk-entry": workflow_runner("bench.bare", lean_entry=False),
              "unsandboxed": UnsandboxedWorkflowRunner(), "strict": SandboxedWorkflowRunner(),
              "passthrough-all": SandboxedWorkflowRunner(
                  restrictions=SandboxRestrictions.default.with_passthrough_all_modules())}[args.runner]
    runtime = None
    if args.metrics_port:
        runtime = Runtime(telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=f"127.0.0.1:{args.metrics_port}")))
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace,
                                  data_converter=data_converter(codec), runtime=runtime)
    worker = build_worker(client, settings, sessions,
                          extra_workflows=[BareWorkflow, TrivialWorkflow], extra_activities=[noop, bench_write],
                          max_cached_workflows=args.max_cached, runner=runner)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        Path(args.ready_file).write_text(str(os.getpid()))
        await stop.wait()
    engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--max-cached", type=int, help="default: HRFLOW_WORKER_MAX_CACHED_WORKFLOWS")
    parser.add_argument("--metrics-port", type=int)
    from bench.common import RUNNERS
    parser.add_argument("--runner", choices=RUNNERS, default="default")
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(parser.parse_args()))
    # as `hrflow worker`: skip interpreter finalisation (native threads vs. a finalising interpreter)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
