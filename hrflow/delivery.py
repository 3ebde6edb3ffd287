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
from hrflow.channels import dingtalk_messages, feishu_messages, sms_sender, wecom_messages
from hrflow.settings import Settings
from hrflow.task_cards import CLOSED_WORDS, dingtalk_card, feishu_card, wecom_card
from integrations.dingtalk import DingTalkError, DingTalkMessages
from integrations.feishu import FeishuError, FeishuMessages, outcome_card
from integrations.mail import DeliveryFailed, SmtpMailer
from integrations.sms import AliyunSms
from integrations.webhook import GroupRobot
from integrations.wecom import WeComError, WeComMessages

log = logging.getLogger("hrflow.delivery")
WECOM_RETRIED = {-1, 45009}  # WeCom busy, or too many messages: tried again later; anything else is final
FEISHU_RETRIED = {-1, 11232, 99991400}  # Feishu busy, or rate-limited
DINGTALK_RETRIED = {-1, 90018, 43004}  # DingTalk busy, or too many calls
LINKED_CHANNELS = ("email", "wecom", "feishu", "dingtalk")  # where a task's notice may carry its link


@dataclass
class RelayStats:
    planned: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    closed: int = 0  # IM cards and to-dos closed for tasks decided elsewhere
    errors: list[str] = field(default_factory=list)

    @property
    def idle(self) -> bool:
        return not (self.planned or self.sent or self.retrying or self.failed or self.closed)

    def add(self, other: RelayStats) -> None:
        self.planned += other.planned
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.closed += other.closed
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
                 wecom: WeComMessages | None = None, feishu: FeishuMessages | None = None,
                 dingtalk: DingTalkMessages | None = None,
                 sms: AliyunSms | None = None,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self._sessions, self._mailer, self._robots = session_factory, mailer, robots
        self._max_attempts, self._clock, self._links = max_attempts, clock, links
        self._wecom, self._feishu, self._dingtalk, self._sms = wecom, feishu, dingtalk, sms
        self._ims = tuple(name for name, im in (("wecom", wecom), ("feishu", feishu), ("dingtalk", dingtalk))
                          if im is not None)

    @classmethod
    def from_settings(cls, session_factory: sessionmaker[Session], settings: Settings) -> Relay:
        mailer = SmtpMailer(host=settings.smtp_host, port=settings.smtp_port, sender=settings.mail_from,
                            user=settings.smtp_user,
                            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                            starttls=settings.smtp_starttls, timeout=settings.smtp_timeout_seconds)
        robots = {role: GroupRobot(t.url, t.secret.get_secret_value() if t.secret else None)
                  for role, t in settings.webhooks.items()}
        return cls(session_factory, mailer=mailer, robots=robots, max_attempts=settings.delivery_max_attempts,
                   links=DecisionLinks.from_settings(settings), wecom=wecom_messages(settings),
                   feishu=feishu_messages(settings), dingtalk=dingtalk_messages(settings), sms=sms_sender(settings))

    def run_once(self, *, batch: int = 50) -> RelayStats:
        """Plan what is pending, then send what is due, one batch; call again until it sends nothing."""
        stats = RelayStats()
        with unit_of_work(self._sessions) as session:
            stats.planned = delivery.plan(session, now=self._clock(), robots=set(self._robots), ims=self._ims,
                                          sms=self._sms is not None)
        with unit_of_work(self._sessions) as session:  # the lease is committed before anything is sent
            claimed = delivery.claim(session, now=self._clock(), limit=batch)
        for due in claimed:
            if due.channel == "sms" and self._deferred(due):
                stats.retrying += 1
                continue
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
        stats.closed = self.close_elsewhere() if self._feishu is not None or self._dingtalk is not None else 0
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

    def _remember(self, link: action_links.Issued, im_ref: str) -> None:
        if im_ref:
            with unit_of_work(self._sessions) as session:
                action_links.remember(session, link.id, im_ref)

    def close_elsewhere(self) -> int:
        """Cards and to-dos still open in an IM for tasks decided or closed by other means (the web
        app, another approver, a withdrawal): the Feishu card shows it closed and her Feishu task is
        completed, the DingTalk to-do is done. WeCom's card can be changed only in answer to its own
        button, which then says so."""
        with unit_of_work(self._sessions) as session:
            items = action_links.closed_elsewhere(session, now=self._clock())
        closed = 0
        for item in items:
            words = CLOSED_WORDS.get(item.decision or "", "已关闭")
            try:
                if item.channel == "feishu" and self._feishu is not None:
                    self._feishu.close(item.im_ref, outcome_card("hrflow 待办", words))
                elif item.channel == "dingtalk" and self._dingtalk is not None:
                    self._dingtalk.finish_todo(item.im_ref)
                else:
                    continue
            except (FeishuError, DingTalkError) as exc:
                with unit_of_work(self._sessions) as session:
                    gave_up = action_links.im_close_failed(session, item.link_id, now=self._clock())
                (log.error if gave_up else log.warning)("%s card of link %s not closed%s: %s", item.channel,
                                                        item.link_id, " (given up)" if gave_up else " yet", exc)
                continue
            with unit_of_work(self._sessions) as session:
                action_links.im_closed(session, item.link_id, now=self._clock())
            closed += 1
        return closed

    def _deferred(self, due: delivery.Due) -> bool:
        """A text over the number's limits waits for its turn, uncounted."""
        with unit_of_work(self._sessions) as session:
            until = delivery.sms_turn(session, due, self._clock())
            if until is not None:
                delivery.defer(session, due, until)
        return until is not None

    def _link(self, due: delivery.Due) -> tuple[action_links.Issued, str] | None:
        """A task's notice to one person (by e-mail or an IM) carries her decision link and its
        address, when the task is a plain yes or no."""
        task_key = due.params.get("task_key")
        if (self._links is None or due.channel not in LINKED_CHANNELS or due.template != "task.opened"
                or not due.person or not due.workflow_id or not isinstance(task_key, str) or due.params.get("by_hand")):
            return None
        with unit_of_work(self._sessions) as session:
            issued = action_links.issue(session, secret=self._links.secret, delivery_id=due.id,
                                        workflow_id=due.workflow_id, task_key=task_key, person=due.person,
                                        now=self._clock(), lifetime=dt.timedelta(hours=self._links.hours))
        return (issued, f"{self._links.base_url}/app/links/{issued.text}") if issued is not None else None

    def _send(self, due: delivery.Due) -> tuple[str | None, bool]:
        linked = self._link(due)
        link, url = linked if linked is not None else (None, "")
        params = due.params if link is None or self._links is None else {
            **due.params, "link": url, "link_hours": self._links.hours}
        notice = notices.render(due.template, params, due.language, workflow_id=due.workflow_id)
        try:
            if due.channel == "email":
                self._mailer.send(to=due.address, subject=notice.subject, body=notice.body,
                                  message_id=f"n{due.notification_id}.d{due.id}")
            elif due.channel == "wecom":
                if self._wecom is None:
                    return "WeCom messages are not configured (HRFLOW_WECOM_*)", True
                if link is not None:
                    self._wecom.send_card(due.address, **wecom_card(due, link, url))
                else:
                    self._wecom.send_text(due.address, f"{notice.subject}\n{notice.body}")
            elif due.channel == "dingtalk":
                if self._dingtalk is None:
                    return "DingTalk notifications are not configured (HRFLOW_DINGTALK_*)", True
                if link is not None:
                    self._remember(link, self._dingtalk.send_card(due.address, **dingtalk_card(due, link, url),
                                                                  source_id=f"hrflow-{link.id}", url=url))
                else:
                    self._dingtalk.send_text(due.address, f"{notice.subject}\n{notice.body}")
            elif due.channel == "sms":
                if self._sms is None:
                    return "SMS is not configured (HRFLOW_SMS_*)", True
                self._sms.send(due.address, notice.subject)
            elif due.channel == "feishu":
                if self._feishu is None:
                    return "Feishu messages are not configured (HRFLOW_FEISHU_*)", True
                if link is not None:
                    self._remember(link, self._feishu.send_card(
                        due.address, feishu_card(due, link, url), summary=str(due.params.get("title") or ""),
                        url=url, source_id=f"hrflow-{link.id}"))
                else:
                    self._feishu.send_text(due.address, f"{notice.subject}\n{notice.body}")
            else:
                robot = self._robots.get(due.address.removeprefix("role:"))
                if robot is None:
                    return f"no group robot is configured for {due.address}", True
                robot.send(f"{notice.subject}\n{notice.body}")
        except DeliveryFailed as exc:
            return str(exc), exc.permanent
        except WeComError as exc:
            return str(exc), exc.errcode not in WECOM_RETRIED
        except FeishuError as exc:
            return str(exc), exc.code not in FEISHU_RETRIED
        except DingTalkError as exc:
            return str(exc), exc.code not in DINGTALK_RETRIED
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
