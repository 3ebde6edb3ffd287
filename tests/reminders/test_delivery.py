"""Delivery from the outbox over real SMTP (the local sink) and real HTTP (a local group-robot
receiver): each notification reaches each address once, failures back off and are recorded."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from db import outbox
from db.models import Delivery, DeliveryAttempt, Notification
from hrflow import mail_sink
from hrflow.delivery import Relay
from integrations.mail import SmtpMailer
from integrations.webhook import GroupRobot
from tests.reminders.seed import NOW, employee, staff

SECRET = "SEC-test-robot-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port = _free_port()
    controller = mail_sink.start(tmp_path / "mail", port=port)
    yield port, tmp_path / "mail"
    controller.stop()


class Robot:
    """A local stand-in for a DingTalk group robot: checks the signature like DingTalk does."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.fail_next = 0  # answer 500 this many times
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if robot.fail_next:
                    robot.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                ts = query["timestamp"][0]
                expected = base64.b64encode(hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(),
                                                     hashlib.sha256).digest()).decode()
                ok = query["sign"][0] == expected and abs(int(ts) / 1000 - dt.datetime.now().timestamp()) < 3600
                robot.received.append({"body": body, "signed": ok})
                answer = {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 310000, "errmsg": "sign not match"}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/robot/send?access_token=abc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def robot() -> Iterator[Robot]:
    r = Robot()
    yield r
    r.server.shutdown()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


def _relay(session_factory, port: int, robot: Robot | None = None, clock: Clock | None = None,
           secret: str = SECRET) -> Relay:
    robots = {"finance": GroupRobot(robot.url, secret)} if robot else {}
    return Relay(session_factory, mailer=SmtpMailer("127.0.0.1", port, "hrflow@corp.test", timeout=5),
                 robots=robots, max_attempts=3, clock=clock or Clock())


def _world(session_factory) -> None:
    with session_factory.begin() as s:
        employee(s, "E1", email="e1@corp.test", language="en")
        staff(s, "fin.qian", "finance", 1, language="zh")
        staff(s, "fin.sun", "finance", 1, language="en")
        staff(s, "fin.boss", "finance", 2)
        s.flush()
        outbox.enqueue(s, dedupe_key="k1", recipient_kind="role", recipient="finance",
                       template="reminder.receivable_no_followup", workflow_id="maternity-E1-1", at=NOW,
                       params={"employee_id": "E1", "kind": "maternity_advance", "month": "2026-09",
                               "outstanding": "2000.00", "idle_days": 8})
        outbox.enqueue(s, dedupe_key="k2", recipient_kind="employee", recipient="E1",
                       template="reminder.maternity_return_due", workflow_id="maternity-E1-1", at=NOW,
                       params={"employee_id": "E1", "due": "2026-11-26"})


def test_email_and_robot_each_once(session_factory, smtp, robot) -> None:
    port, folder = smtp
    _world(session_factory)
    relay = _relay(session_factory, port, robot)
    stats = relay.drain()
    assert (stats.sent, stats.failed) == (4, 0)  # two finance people, the finance robot, the employee

    mails = {m["To"]: m for m in mail_sink.read_folder(folder)}
    assert set(mails) == {"fin.qian@corp.test", "fin.sun@corp.test", "e1@corp.test"}  # not level 2
    assert "应收款" in mails["fin.qian@corp.test"]["Subject"]  # her language: Chinese
    assert mails["fin.sun@corp.test"]["Subject"].startswith("Receivable idle 8 days")  # his: English
    assert "2026-11-26" in mails["e1@corp.test"].get_content()
    assert mails["fin.qian@corp.test"]["Message-ID"].startswith("<n")

    assert [r["signed"] for r in robot.received] == [True]
    assert robot.received[0]["body"]["msgtype"] == "text"
    assert "E1" in robot.received[0]["body"]["text"]["content"]

    again = relay.drain()  # nothing is sent twice
    assert (again.planned, again.sent) == (0, 0)
    assert len(mail_sink.read_folder(folder)) == 3 and len(robot.received) == 1
    with session_factory() as s:
        assert {n.status for n in s.scalars(select(Notification))} == {"planned"}
        assert s.scalar(select(DeliveryAttempt.id).where(DeliveryAttempt.outcome != "sent")) is None


def test_smtp_outage_backs_off_then_delivers_once(session_factory, tmp_path) -> None:
    _world(session_factory)
    port = _free_port()  # nothing listens yet: the mail server is down
    clock = Clock()
    relay = _relay(session_factory, port, clock=clock)
    first = relay.drain()
    assert (first.sent, first.retrying) == (0, 3)
    with session_factory() as s:
        waits = {d.next_attempt_at - NOW for d in s.scalars(select(Delivery))}
    assert waits == {dt.timedelta(seconds=30)}
    assert relay.drain().retrying == 0  # not due again yet: no hammering

    controller = mail_sink.start(tmp_path / "mail", port=port)
    try:
        clock.now = NOW + dt.timedelta(seconds=31)
        second = relay.drain()
    finally:
        controller.stop()
    assert second.sent == 3
    assert len(mail_sink.read_folder(tmp_path / "mail")) == 3
    with session_factory() as s:
        tries = s.execute(select(DeliveryAttempt.attempt, DeliveryAttempt.outcome)
                          .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.attempt)).all()
    assert [tuple(t) for t in tries] == [(1, "error"), (2, "sent")] * 3


def test_robot_errors_retry_then_bad_signature_fails_for_good(session_factory, smtp, robot) -> None:
    port, _ = smtp
    _world(session_factory)
    clock = Clock()
    robot.fail_next = 1
    assert _relay(session_factory, port, robot, clock).drain().retrying == 1  # HTTP 500: later
    clock.now = NOW + dt.timedelta(minutes=1)
    wrong = _relay(session_factory, port, robot, clock, secret="not-the-secret")
    assert wrong.drain().failed == 1  # errcode 310000: no retry will fix a wrong secret
    with session_factory() as s:
        hook = s.scalar(select(Delivery).where(Delivery.channel == "webhook"))
        assert (hook.status, hook.attempts) == ("failed", 2)
        assert "310000" in hook.last_error


def test_a_claimed_delivery_is_not_sent_by_a_second_relay(session_factory, smtp) -> None:
    """Two relays at once: the lease taken by one is skipped by the other."""
    port, _folder = smtp
    _world(session_factory)
    from db import delivery
    from db.session import unit_of_work

    with unit_of_work(session_factory) as s:
        delivery.plan(s, now=NOW, robots=set())
    with unit_of_work(session_factory) as s:
        held = delivery.claim(s, now=NOW, limit=1)
    other = _relay(session_factory, port).drain()
    assert other.sent == 2 and len(held) == 1
    assert held[0].id not in {d.id for d in _sent(session_factory)}


def _sent(session_factory) -> list[Delivery]:
    with session_factory() as s:
        return list(s.scalars(select(Delivery).where(Delivery.status == "sent")))
