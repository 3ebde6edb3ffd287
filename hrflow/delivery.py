"""The outbox relay: plan, claim, render and send notifications; record every attempt.

It runs inside each worker process (every ``HRFLOW_DELIVERY_INTERVAL_SECONDS``) and as
``hrflow deliver`` once. Several relays may run at once: claims skip rows another relay holds.
Delivery is outside Temporal on purpose: it is a queue drain, not a business process, and its
state (attempts, errors, what was sent) lives in the tables operators and the API read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from db import action_links, delivery
from db.session import unit_of_work
from domain import notices
from hrflow.settings import Settings
from integrations.mail import DeliveryFailed, SmtpMailer
from integrations.webhook import GroupRobot

log = logging.getLogger("hrflow.delivery")


@dataclass
class RelayStats:
    planned: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def idle(self) -> bool:
        return not (self.planned or self.sent or self.retrying or self.failed)

    def add(self, other: RelayStats) -> None:
        self.planned += other.planned
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.errors += other.errors


@dataclass(frozen=True)
class DecisionLinks:
    """E-mailed decision links: where hrflow is reached, the secret they are signed with, their life."""

    base_url: str
    secret: str
    hours: int

    @classmethod
    def from_settings(cls, settings: Settings) -> DecisionLinks | None:
        """Links need the address people reach hrflow at and the secret; without both, none."""
        if not settings.public_url or settings.jwt_secret is None or not settings.email_link_hours:
            return None
        return cls(settings.public_url.rstrip("/"), settings.jwt_secret.get_secret_value(), settings.email_link_hours)


class Relay:
    def __init__(self, session_factory: sessionmaker[Session], *, mailer: SmtpMailer,
                 robots: dict[str, GroupRobot], max_attempts: int = 8, links: DecisionLinks | None = None,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self._sessions, self._mailer, self._robots = session_factory, mailer, robots
        self._max_attempts, self._clock, self._links = max_attempts, clock, links

    @classmethod
    def from_settings(cls, session_factory: sessionmaker[Session], settings: Settings) -> Relay:
        mailer = SmtpMailer(host=settings.smtp_host, port=settings.smtp_port, sender=settings.mail_from,
                            user=settings.smtp_user,
                            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                            starttls=settings.smtp_starttls, timeout=settings.smtp_timeout_seconds)
        robots = {role: GroupRobot(t.url, t.secret.get_secret_value() if t.secret else None)
                  for role, t in settings.webhooks.items()}
        return cls(session_factory, mailer=mailer, robots=robots, max_attempts=settings.delivery_max_attempts,
                   links=DecisionLinks.from_settings(settings))

    def run_once(self, *, batch: int = 50) -> RelayStats:
        """Plan what is pending, then send what is due, one batch; call again until it sends nothing."""
        stats = RelayStats()
        with unit_of_work(self._sessions) as session:
            stats.planned = delivery.plan(session, now=self._clock(), robots=set(self._robots))
        with unit_of_work(self._sessions) as session:  # the lease is committed before anything is sent
            claimed = delivery.claim(session, now=self._clock(), limit=batch)
        for due in claimed:
            error, permanent = self._send(due)
            with unit_of_work(self._sessions) as session:
                status = delivery.record(session, due, now=self._clock(), error=error, permanent=permanent,
                                         max_attempts=self._max_attempts)
            if status == "sent":
                stats.sent += 1
            elif status == "failed":
                stats.failed += 1
                log.error("delivery %s (%s) failed for good after %s attempt(s): %s",
                          due.id, due.channel, due.attempt, error)
            else:
                stats.retrying += 1
                log.warning("delivery %s (%s) attempt %s failed, will retry: %s", due.id, due.channel, due.attempt, error)
            if error:
                stats.errors.append(error)
        return stats

    def drain(self, *, max_rounds: int = 100) -> RelayStats:
        """Run batches until nothing more is due now (for ``hrflow deliver`` and tests)."""
        total = RelayStats()
        for _ in range(max_rounds):
            round_ = self.run_once()
            total.add(round_)
            if round_.idle:
                break
        return total

    def _with_link(self, due: delivery.Due) -> dict[str, object]:
        """A task's e-mail to one person carries her decision link, when the task is decided by link."""
        links, params = self._links, due.params
        task_key = params.get("task_key")
        if (links is None or due.channel != "email" or due.template != "task.opened" or not due.person
                or not due.workflow_id or not isinstance(task_key, str) or params.get("by_hand")):
            return params
        with unit_of_work(self._sessions) as session:
            text = action_links.issue(session, secret=links.secret, delivery_id=due.id, workflow_id=due.workflow_id,
                                      task_key=task_key, person=due.person, now=self._clock(),
                                      lifetime=dt.timedelta(hours=links.hours))
        return params if text is None else {**params, "link": f"{links.base_url}/app/links/{text}",
                                            "link_hours": links.hours}

    def _send(self, due: delivery.Due) -> tuple[str | None, bool]:
        notice = notices.render(due.template, self._with_link(due), due.language, workflow_id=due.workflow_id)
        try:
            if due.channel == "email":
                self._mailer.send(to=due.address, subject=notice.subject, body=notice.body,
                                  message_id=f"n{due.notification_id}.d{due.id}")
            else:
                robot = self._robots.get(due.address.removeprefix("role:"))
                if robot is None:
                    return f"no group robot is configured for {due.address}", True
                robot.send(f"{notice.subject}\n{notice.body}")
        except DeliveryFailed as exc:
            return str(exc), exc.permanent
        return None, False

    async def run_forever(self, interval: float, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; an error in one round is logged, never fatal to the worker."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.drain)
            except Exception:
                log.exception("notification relay round failed; retrying in %.0f s", interval)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass
