"""``hrflow worker --processes N``: one worker process per core, started and kept running.

A Python process runs its workflow tasks and database activities under one GIL, so one process
keeps one core busy at most. The pool runs N copies of ``hrflow worker``, each with every workflow
and activity (a workflow's activities and local activities stay in the process that runs it),
passes SIGTERM or Ctrl-C to each so it finishes its running activities, and starts again one
that dies, after a pause that doubles while it keeps dying. Only the first syncs the schedules.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from hrflow.stack import spawn, stop_process

log = logging.getLogger("hrflow.worker_pool")

FIRST_PAUSE_S = 1.0
LONGEST_PAUSE_S = 60.0
STEADY_S = 60.0  # a process that ran this long before it died starts again at once


@dataclass
class _Slot:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    pause: float = 0.0
    due_at: float = 0.0


def worker_command() -> list[str]:
    return [sys.executable, "-m", "hrflow.cli", "worker"]


def run_pool(processes: int, *, command: Sequence[str] | None = None, grace_seconds: float = 30.0,
             stop: threading.Event | None = None) -> int:
    """Run ``processes`` workers until SIGTERM or SIGINT (or ``stop``, for tests); 0 when all stopped."""
    command = list(command or worker_command())
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    slots = [_Slot(i) for i in range(processes)]
    while not stop.is_set():
        now = time.monotonic()
        for slot in slots:
            if slot.proc is not None and slot.proc.poll() is not None:
                _died(slot, now)
            if slot.proc is None and now >= slot.due_at:
                _start(slot, command)
        stop.wait(0.2)
    for slot in slots:  # all at once: each finishes its running activities in the same grace period
        if slot.proc is not None and slot.proc.poll() is None:
            slot.proc.send_signal(signal.SIGTERM)
    for slot in slots:
        if slot.proc is not None:
            stop_process(f"worker {slot.index}", slot.proc, timeout=grace_seconds)
    log.info("worker pool stopped (%d processes)", processes)
    return 0


def _start(slot: _Slot, command: list[str]) -> None:
    env = dict(os.environ) | {"HRFLOW_WORKER_PROCESSES": "1"}  # each child is one worker, not a pool
    if slot.index > 0:
        env["HRFLOW_SCHEDULES_SYNC_ON_START"] = "false"  # one process syncs them
    slot.proc = spawn(command, env=env)
    slot.started_at = time.monotonic()
    log.info("worker %d started (pid %d)", slot.index, slot.proc.pid)


def _died(slot: _Slot, now: float) -> None:
    assert slot.proc is not None
    code = slot.proc.returncode
    ran = now - slot.started_at
    slot.pause = 0.0 if ran >= STEADY_S else min(max(slot.pause * 2, FIRST_PAUSE_S), LONGEST_PAUSE_S)
    slot.due_at, slot.proc = now + slot.pause, None
    log.warning("worker %d exited with %s after %.0f s; starting it again in %.0f s", slot.index, code, ran,
                slot.pause)
