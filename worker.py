"""The Temporal worker: runs every workflow and activity of hrflow on one task queue.

Run as many as needed (``hrflow worker``); they share nothing but Temporal and PostgreSQL. Each
also drains the notification outbox (``hrflow.delivery``) and, when configured, syncs the
schedules at start.
Database activities are plain ``def`` functions (psycopg2 blocks), so they run on a thread pool
sized to the activity slots. One process saturates one core (its GIL): run one per core
(``hrflow worker --processes N``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor, Worker, WorkflowRunner

from activities.registry import all_activities
from db.policy_notices import NoticeLayerProvider
from db.reminders import SweepPolicy
from db.report import ReportThresholds
from db.session import database_busy, database_unreachable, make_engine
from domain.policy import notices as policy_notices
from hrflow import schedules
from hrflow.delivery import Relay
from hrflow.sandbox import workflow_runner
from hrflow.settings import ConfigurationError, Settings, require_database
from hrflow.temporal import codec_from, connect, sealing_sessions
from integrations.si_agency import FaultPlan, SimulatedAgency, SocialInsuranceAgency
from workflows.registry import ALL_WORKFLOWS

log = logging.getLogger("hrflow.worker")

# One connection per activity thread, plus the notification relay's thread: no thread waits for a
# connection another thread holds.
RELAY_CONNECTIONS = 1

def build_worker(
    client: Client,
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    agency: SocialInsuranceAgency | None = None,
    extra_workflows: Sequence[type] = (),
    extra_activities: Sequence[Callable[..., Any]] = (),
    max_cached_workflows: int | None = None,
    runner: WorkflowRunner | None = None,
) -> Worker:
    """The worker for every process; tests add their own workflows or same-named fake activities,
    benchmarks their own sandbox (``runner``; default: ``workflow_runner()``)."""
    slots = settings.worker_max_concurrent_activities
    fakes = {getattr(a, "__temporal_activity_definition").name for a in extra_activities}
    agency = agency or agency_from(settings, session_factory)
    policy = SweepPolicy(due_within_days=settings.reminder_due_within_days,
                         approval_sla_days=settings.approval_sla_days, escalation_days=settings.escalation_days,
                         receivable_followup_days=settings.receivable_followup_days)
    activities = [
        a for a in all_activities(session_factory, agency, sweep_policy=policy, sweep_batch=settings.sweep_batch_size,
                                  report_thresholds=ReportThresholds.from_settings(settings),
                                  anchors=settings.anchor_store())
        if getattr(a, "__temporal_activity_definition").name not in fakes
    ]
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[*ALL_WORKFLOWS, *extra_workflows],
        activities=[*activities, *extra_activities],
        activity_executor=ThreadPoolExecutor(max_workers=slots, thread_name_prefix="activity"),
        max_concurrent_activities=slots,
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_seconds),
        max_cached_workflows=settings.worker_max_cached_workflows if max_cached_workflows is None
        else max_cached_workflows,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        workflow_runner=runner or workflow_runner(),
        interceptors=[DatabaseOutageInterceptor()],
    )


class _DatabaseOutage(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except Exception as exc:
            if database_unreachable(exc):
                kind, what = "DatabaseUnavailable", "database unavailable"
            elif database_busy(exc):
                kind, what = "DatabaseBusy", "database busy (a bounded wait ran out)"
            else:
                raise
            first_line = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise ApplicationError(f"{what}: {first_line}", type=kind) from None


class DatabaseOutageInterceptor(Interceptor):
    """An activity that lost PostgreSQL, or whose lock or statement wait ran out, fails its attempt
    with one line (retried as before).
    SQLAlchemy's own message, chained causes and tracebacks run past the server's 4 KB limit for
    a pending activity's last failure, which the Temporal UI then shows only as "Failure exceeds
    size limit."."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _DatabaseOutage(next)


def agency_from(settings: Settings, session_factory: sessionmaker[Session]) -> SocialInsuranceAgency:
    """The agency gateway the settings name. Real provincial adapters plug in here."""
    if settings.si_agency == "simulated":
        return SimulatedAgency(session_factory, FaultPlan(latency_seconds=settings.sim_agency_latency_ms / 1000))
    raise ConfigurationError(f"HRFLOW_SI_AGENCY={settings.si_agency!r}: no such adapter (known: simulated)")


async def run(settings: Settings) -> None:
    engine = make_engine(settings.sqlalchemy_url, pool_size=settings.worker_max_concurrent_activities + RELAY_CONNECTIONS,
                         limits=settings.database_limits(), name="hrflow-worker", pre_ping=False)
    require_database(engine)
    settings.require_blind_index_key()
    # Activities that pin policy (maternity) and compute working days read the approved notices
    # through the catalogue's operator layer, on a connection of its own.
    layer_engine = make_engine(settings.sqlalchemy_url, pool_size=1, limits=settings.database_limits(),
                               name="hrflow-worker-policy")
    layer = NoticeLayerProvider(layer_engine)
    layer()
    policy_notices.install(layer)
    codec = codec_from(settings)  # its keyring serves the ID numbers' sealing too: one key cache
    client = await connect(settings, codec=codec)
    sessions = sealing_sessions(settings, engine, keyring=codec.keyring)
    worker = build_worker(client, settings, sessions)
    if settings.schedules_sync_on_start:
        log.info("schedules: %s", await schedules.sync(client, settings.temporal_task_queue))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    relay = None
    if settings.delivery_interval_seconds > 0:
        relay = asyncio.create_task(Relay.from_settings(sessions, settings).run_forever(
            settings.delivery_interval_seconds, stop), name="notification relay")
    log.info("worker polling %s on %s", settings.temporal_task_queue, settings.temporal_address)
    async with worker:
        await stop.wait()
        log.info("worker stopping: finishing running activities")
    if relay is not None:
        await relay
    policy_notices.install(None)
    layer_engine.dispose()
    engine.dispose()
