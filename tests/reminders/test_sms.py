"""Texts to employees whom neither e-mail nor an IM reaches: signed as Alibaba Cloud SMS specifies
(checked against its documented example), carrying only the notice's subject with ID numbers
masked, at most one a minute per number (a text over the limit waits, uncounted), a refusal
retried or not as the service's code says."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from db import outbox
from db.models import Delivery, Employee
from hrflow.delivery import Relay
from integrations.mail import SmtpMailer
from integrations.sms import AliyunSms, signed_query, sms_subject
from tests.live_server import serving_in_a_thread
from tests.reminders.seed import NOW, employee
from tests.simulators.aliyun_sms import SimulatedAliyunSms


def test_the_signature_is_alibaba_clouds_documented_example() -> None:
    params = {"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
              "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用",
              "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
              "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}',
              "Timestamp": "2017-07-12T02:42:19Z", "Version": "2017-05-25"}
    assert signed_query(params, "testSecret").startswith("Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D&")


def test_a_text_says_no_more_than_the_subject() -> None:
    said = sms_subject("身份证 11010519491231002X 的参保变更已办结，请查看详情")
    assert said.startswith("身份证 110105****") and "19491231" not in said and len(said) == 20


@pytest.fixture
def sms() -> Iterator[tuple[SimulatedAliyunSms, str]]:
    sim = SimulatedAliyunSms()
    with serving_in_a_thread(sim.app()) as url:
        yield sim, url


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def _relay(session_factory, sim: SimulatedAliyunSms, url: str, clock: Clock, secret: str | None = None) -> Relay:
    sender = AliyunSms(sim.access_key_id, secret or sim.access_key_secret, sim.sign_name, sim.template_code,
                       endpoint=url, timeout=5)
    return Relay(session_factory, mailer=SmtpMailer("127.0.0.1", 1, "hrflow@corp.test", timeout=1), robots={},
                 sms=sender, max_attempts=3, clock=clock)


def _notice(session_factory, key: str, employee_id: str) -> None:
    with session_factory.begin() as s:
        outbox.enqueue(s, dedupe_key=key, recipient_kind="employee", recipient=employee_id,
                       template="reminder.maternity_return_due", workflow_id=None, at=NOW,
                       params={"employee_id": employee_id, "due": "2026-11-26"})


def test_she_gets_a_text_only_without_e_mail_and_only_as_often_as_allowed(session_factory, sms) -> None:
    sim, url = sms
    sim.per_minute = None  # hrflow's own limit is what is checked here
    with session_factory.begin() as s:
        employee(s, "E1")
        employee(s, "E2", email="e2@corp.test")
        s.flush()
        s.get_one(Employee, "E1").mobile = "13812345678"
        s.get_one(Employee, "E2").mobile = "13912345678"
    for key in ("a", "b", "c"):
        _notice(session_factory, key, "E1")
    _notice(session_factory, "d", "E2")
    clock = Clock()
    relay = _relay(session_factory, sim, url, clock)
    first = relay.drain()
    assert [m["phone"] for m in sim.sent] == ["13812345678"]  # E2 has e-mail: no text for her
    assert first.failed == 0
    with session_factory() as s:
        texts = list(s.scalars(select(Delivery).where(Delivery.channel == "sms").order_by(Delivery.id)))
    assert [d.status for d in texts] == ["sent", "pending", "pending"]
    assert [d.attempts for d in texts] == [1, 0, 0]  # waiting for the limit is not a failed try
    assert texts[1].next_attempt_at == texts[0].sent_at + dt.timedelta(minutes=1)

    clock.now += dt.timedelta(seconds=61)
    relay.drain()
    clock.now += dt.timedelta(seconds=61)
    relay.drain()
    assert [m["subject"] for m in sim.sent] == ["产假返岗提醒：E1 预计于 2026-11-26 返岗"[:20]] * 3  # the subject, cut


def test_refusals_retried_or_not_as_the_service_says(session_factory, sms) -> None:
    sim, url = sms
    with session_factory.begin() as s:
        employee(s, "E1")
        employee(s, "E3")
        s.flush()
        s.get_one(Employee, "E1").mobile = "13812345678"
        s.get_one(Employee, "E3").mobile = "19912345678"
    _notice(session_factory, "a", "E1")
    clock = Clock()
    wrong = _relay(session_factory, sim, url, clock, secret="not-the-secret")
    stats = wrong.drain()
    assert stats.failed == 1 and "SignatureDoesNotMatch" in stats.errors[0]  # a wrong key will not heal
    sim.outage = True
    _notice(session_factory, "b", "E3")
    stats = _relay(session_factory, sim, url, clock).drain()
    assert stats.retrying == 1 and stats.failed == 0  # the service away: tried again later
    assert sim.sent == []


def test_two_relays_sending_to_one_number_take_turns(session_factory) -> None:
    """What one relay has claimed and is sending counts for another's turn, as soon as it is its turn."""
    from db import delivery

    with session_factory.begin() as s:
        employee(s, "E1")
        s.flush()
        s.get_one(Employee, "E1").mobile = "13812345678"
    _notice(session_factory, "a", "E1")
    _notice(session_factory, "b", "E1")
    now = dt.datetime.now(dt.UTC)
    with session_factory.begin() as s:
        delivery.plan(s, now=now, robots=set(), sms=True)
    with session_factory.begin() as s:
        first, second = delivery.claim(s, now=now)  # both leased ("sending"), as two relays would
    with session_factory.begin() as s:
        assert delivery.sms_turn(s, first, now) is None  # its turn: stamped at once
    with session_factory.begin() as s:
        assert delivery.sms_turn(s, second, now) == now + dt.timedelta(minutes=1)
