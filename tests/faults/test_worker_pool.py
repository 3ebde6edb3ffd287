"""``hrflow worker --processes 2``: two real workers poll the queue, one killed is started again,
SIGTERM stops them all; and the pool's restart pauses, with a stand-in child."""

from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from hrflow import worker_pool
from hrflow.settings import Settings
from tests.faults.harness import WorkerProcess, tail, worker_env
from tests.processes.support import eventually

pytestmark = pytest.mark.faults


class PoolProcess(WorkerProcess):
    command = "worker"

    def start(self) -> None:
        from hrflow.stack import spawn

        self.started += 1
        self.proc = spawn([sys.executable, "-m", "hrflow.cli", "worker", "--processes", "2"], env=self.env,
                          log=self.log, cwd=self.directory, death_signal=signal.SIGKILL)


def children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


async def pollers(temporal: Client, queue: str) -> set[str]:
    answer = await temporal.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace="default", task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
    return {p.identity for p in answer.pollers}


async def test_two_processes_poll_one_killed_comes_back_sigterm_stops_all(
        tmp_path: Path, settings: Settings, codec_keys, temporal: Client) -> None:
    env = worker_env(database_url=settings.sqlalchemy_url, temporal_address=settings.temporal_address,
                     task_queue=settings.temporal_task_queue, codec_keys=codec_keys)
    with PoolProcess(tmp_path, env) as pool:
        assert pool.proc is not None
        await eventually(lambda: len(children(pool.proc.pid)) == 2, timeout=30, what="two worker processes",
                         detail=lambda: tail(pool.log))
        first = children(pool.proc.pid)
        seen: set[str] = set()

        async def both_polling() -> bool:
            seen.update(await pollers(temporal, settings.temporal_task_queue))
            return {int(i.split("@")[0]) for i in seen} >= first
        await eventually(both_polling, timeout=60, what="both processes polling the queue", detail=lambda: tail(pool.log))

        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        await eventually(lambda: len(children(pool.proc.pid)) == 2 and victim not in children(pool.proc.pid),
                         timeout=30, what="the killed worker started again", detail=lambda: tail(pool.log))
        now = children(pool.proc.pid)
        pool.proc.send_signal(signal.SIGTERM)
        assert pool.proc.wait(timeout=30) == 0, tail(pool.log)
    assert not any(Path(f"/proc/{pid}").exists() for pid in now), "a worker outlived the pool"
    assert "exited with -9" in pool.log.read_text()


def test_a_child_that_keeps_dying_is_started_again_later_each_time(monkeypatch) -> None:
    monkeypatch.setattr(worker_pool, "FIRST_PAUSE_S", 0.3)
    stop = threading.Event()
    starts: list[float] = []
    real_spawn = worker_pool.spawn

    def counting_spawn(args, **kwargs):
        starts.append(time.monotonic())
        return real_spawn(args, **kwargs)

    monkeypatch.setattr(worker_pool, "spawn", counting_spawn)
    runner = threading.Thread(target=worker_pool.run_pool, args=(1,),
                              kwargs={"command": [sys.executable, "-c", "import sys; sys.exit(3)"], "stop": stop})
    runner.start()
    deadline = time.monotonic() + 10
    while len(starts) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    runner.join(timeout=10)
    assert len(starts) >= 4
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[0] >= 0.3 and gaps[1] >= 0.6 and gaps[2] >= 1.2, gaps  # doubling pauses


def test_a_sigterm_reaches_every_child_and_the_pool_waits_for_them(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HRFLOW_WORKER_PROCESSES", "3")  # the pool's own setting: each child is one worker
    script = ("import os, pathlib, signal, sys, time\n"
              "def bye(*_):\n    time.sleep(0.5)\n"
              "    (pathlib.Path(sys.argv[1]) / str(os.getpid())).write_text(os.environ['HRFLOW_WORKER_PROCESSES'])\n"
              "    sys.exit(0)\n"
              "signal.signal(signal.SIGTERM, bye)\n"
              "while True:\n    time.sleep(0.1)\n")
    stop = threading.Event()
    runner = threading.Thread(target=worker_pool.run_pool, args=(3,), kwargs={
        "command": [sys.executable, "-c", script, str(tmp_path)], "stop": stop, "grace_seconds": 10})
    runner.start()
    time.sleep(1.5)
    stop.set()
    runner.join(timeout=20)
    assert not runner.is_alive()
    finished = [p.read_text() for p in tmp_path.iterdir()]
    assert finished == ["1"] * 3  # each finished its work before the pool returned, as one worker
