"""Operator notices through the API: maker-checker, validation at the edge, and the next pin using
the approved figures with their provenance (no restart)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from api.i18n import bilingual
from db.models import AuditEvent, PolicyNotice
from domain import workdays
from domain.policy import NoRuleInForce, pin_contribution
from domain.roles import Role

D = dt.date
SHANGHAI_2026 = {
    "kind": "contribution_base", "city": "上海", "effective_from": "2026-07-01", "effective_to": "2027-06-30",
    "source": {"name": "关于调整2026年度本市职工社会保险缴费基数上下限的通知",
               "url": "https://rsj.sh.gov.cn/tdjjf_17554/2026/notice.html", "document_number": "沪人社规〔2026〕9号"},
    "figures": {"floor": "7546", "ceiling": "37731", "average_wage": "12577"},
}


def _admin(auth, user: str) -> dict[str, str]:
    return auth(Role.ADMIN, user)


async def _enter(api: httpx.AsyncClient, auth, body: dict, user: str = "hr.admin1") -> httpx.Response:
    return await api.post("/policy/notices", json=body, headers=_admin(auth, user))


async def _approved(api: httpx.AsyncClient, auth, body: dict) -> int:
    r = await _enter(api, auth, body)
    assert r.status_code == 201, r.text
    notice = r.json()["id"]
    ok = await api.post(f"/policy/notices/{notice}/approve", headers=_admin(auth, "hr.admin2"))
    assert ok.status_code == 200, ok.text
    return notice


async def test_second_admin_approves_and_the_next_pin_uses_the_notice(api, auth, session_factory) -> None:
    with pytest.raises(NoRuleInForce) as before:
        pin_contribution("上海", D(2026, 12, 1))
    assert before.value.message.startswith("缺少 上海市 2026-12-01 适用的社保缴费基数上下限")
    assert "POST /policy/notices" in before.value.message and before.value.rule == "contribution_bases"

    entered = await _enter(api, auth, SHANGHAI_2026)
    assert entered.status_code == 201, entered.text
    notice = entered.json()
    assert (notice["state"], notice["entered_by"], notice["scope"]) == ("entered", "hr.admin1",
                                                                       "contribution_bases:shanghai:shanghai")
    with pytest.raises(NoRuleInForce):  # entered is not in force
        pin_contribution("上海", D(2026, 12, 1))
    assert (await api.post(f"/policy/notices/{notice['id']}/approve",
                           headers=auth(Role.HR_MANAGER, "mgr"))).status_code == 403
    own = await api.post(f"/policy/notices/{notice['id']}/approve", headers=_admin(auth, "hr.admin1"))
    assert own.status_code == 403 and own.json()["error"] == "maker_checker"
    assert "录入人不能审批" in own.json()["detail"]

    ok = await api.post(f"/policy/notices/{notice['id']}/approve", headers=_admin(auth, "hr.admin2"))
    assert ok.status_code == 200 and ok.json()["state"] == "approved" and ok.json()["decided_by"] == "hr.admin2"
    again = await api.post(f"/policy/notices/{notice['id']}/approve", headers=_admin(auth, "hr.admin3"))
    assert again.status_code == 409 and again.json()["error"] == "notice_decided"

    snap = pin_contribution("上海", D(2026, 12, 1))
    assert (snap.limits.floor, snap.limits.ceiling, snap.limits.average_wage) == (
        Decimal("7546.00"), Decimal("37731.00"), Decimal("12577.00"))
    ref = snap.limits.rule
    assert ref.id == f"operator.{notice['id']}.contribution_bases.shanghai"
    assert "沪人社规〔2026〕9号" in ref.source.name and ref.source.basis == "official" and ref.verified
    assert f"#{notice['id']}" in ref.note and "hr.admin1" in ref.note and "hr.admin2" in ref.note
    # The shipped layer still answers for the dates the notice does not cover.
    assert pin_contribution("上海", D(2026, 1, 5)).limits.rule.id == "shanghai.contribution_bases.shanghai.2025"
    # And the read API sees it too.
    r = await api.get("/policies/contribution", params={"city": "shanghai", "on": "2026-12-01"},
                      headers=auth(Role.HR_SPECIALIST, "hr.li"))
    assert r.status_code == 200 and r.json()["limits"]["floor"] == "7546.00"

    with session_factory() as s:
        actions = [(e.action, e.actor) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        row = s.get(PolicyNotice, notice["id"])
    assert actions == [("policy_notice.entered", "hr.admin1"), ("policy_notice.approved", "hr.admin2")]
    assert row.floor == Decimal("7546.00") and row.rule["id"] == ref.id


async def test_notice_is_immutable_in_the_database(api, auth, session_factory) -> None:
    notice = await _approved(api, auth, SHANGHAI_2026)
    with pytest.raises(DBAPIError, match="immutable"), session_factory.begin() as s:
        s.execute(text("UPDATE policy_notices SET floor = 1 WHERE id = :i"), {"i": notice})
    with pytest.raises(DBAPIError, match="immutable"), session_factory.begin() as s:
        s.execute(text("UPDATE policy_notices SET state = 'rejected', reason = 'x' WHERE id = :i"), {"i": notice})


async def test_rejection_needs_a_reason_and_the_maker_withdraws(api, auth, session_factory) -> None:
    first = (await _enter(api, auth, SHANGHAI_2026)).json()["id"]
    for reason in ("", "   "):
        r = await api.post(f"/policy/notices/{first}/reject", json={"reason": reason}, headers=_admin(auth, "hr.admin2"))
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "reason"
    r = await api.post(f"/policy/notices/{first}/reject", json={"reason": "上限与原文不符 (ceiling differs from the text)"},
                       headers=_admin(auth, "hr.admin2"))
    assert r.status_code == 200 and r.json()["state"] == "rejected" and r.json()["reason"].startswith("上限")
    with pytest.raises(NoRuleInForce):
        pin_contribution("上海", D(2026, 12, 1))

    second = (await _enter(api, auth, SHANGHAI_2026)).json()["id"]
    other = await api.post(f"/policy/notices/{second}/withdraw", headers=_admin(auth, "hr.admin2"))
    assert other.status_code == 403 and other.json()["error"] == "not_the_maker"
    mine = await api.post(f"/policy/notices/{second}/withdraw", headers=_admin(auth, "hr.admin1"))
    assert mine.status_code == 200 and mine.json()["state"] == "withdrawn"
    listed = await api.get("/policy/notices", params={"state": "rejected"}, headers=_admin(auth, "hr.admin3"))
    assert [n["id"] for n in listed.json()["items"]] == [first]
    with session_factory() as s:
        assert [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))] == [
            "policy_notice.entered", "policy_notice.rejected", "policy_notice.entered", "policy_notice.withdrawn"]


RATES = {"kind": "contribution_rates", "city": "上海", "effective_from": "2026-07-01",
         "source": {"name": "上海市社会保险费率", "document_number": "沪人社规〔2026〕10号"},
         "figures": {"pension": {"employee": "0.08", "employer": "0.16"}}}


@pytest.mark.parametrize("body,field,rule", [
    (SHANGHAI_2026 | {"figures": {"floor": "40000", "ceiling": "37731"}}, "figures.ceiling", "floor_not_above_ceiling"),
    (RATES | {"figures": {"pension": {"employee": "1.5"}}}, "figures.pension.employee", "rate_range"),
    (SHANGHAI_2026 | {"city": "亚特兰蒂斯"}, "city", "unknown_city"),
    (SHANGHAI_2026 | {"effective_from": "1800-01-01", "effective_to": None}, "effective_from", "year_range"),
    ({"kind": "holiday_arrangement", "source": {"name": "x"}, "figures": {"year": 1800, "days_off": ["1800-01-01"]}},
     "figures.year", "year_range"),
    (SHANGHAI_2026 | {"figures": {"floor": "7546.001", "ceiling": "37731"}}, "figures.floor", "fen_precision"),
    (SHANGHAI_2026 | {"figures": {"floor": "7546", "ceiling": "99999999999"}}, "figures.ceiling", "amount_range"),
])
async def test_bad_notices_are_422_naming_field_and_rule_in_chinese_first(api, auth, session_factory,
                                                                         body, field, rule) -> None:
    r = await _enter(api, auth, body)
    assert r.status_code == 422, r.text
    found = [d for d in r.json()["detail"] if d["field"] == field]
    assert found and found[0]["rule"] == rule, r.json()
    assert "\u4e00" <= found[0]["message"][0] <= "\u9fff" and bilingual(found[0]["message"]) is None  # Chinese only
    with session_factory() as s:
        assert s.scalar(select(PolicyNotice.id)) is None and s.scalar(select(AuditEvent.id)) is None


async def test_overlap_is_refused_and_a_superseding_notice_ends_the_old_one(api, auth) -> None:
    old = await _approved(api, auth, SHANGHAI_2026)
    r = await _enter(api, auth, SHANGHAI_2026 | {"effective_from": "2027-01-01"})
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["rule"] == "overlaps_approved_notice" and f"#{old}" in detail["message"]
    assert f"supersedes: {old}" in detail["message"]

    newer = SHANGHAI_2026 | {"effective_from": "2027-01-01", "supersedes": old,
                             "figures": {"floor": "7600", "ceiling": "38000"}}
    new = await _approved(api, auth, newer)
    assert pin_contribution("上海", D(2026, 12, 31)).limits.rule.id.startswith(f"operator.{old}.")
    later = pin_contribution("上海", D(2027, 1, 2))
    assert later.limits.rule.id.startswith(f"operator.{new}.") and later.limits.floor == Decimal("7600.00")


async def test_holiday_arrangement_for_2027_overrides_the_package(api, auth) -> None:
    assert not workdays.is_arrangement_known(2027)
    # A made-up arrangement for the test: the real 2027 notice was not available.
    body = {"kind": "holiday_arrangement", "source": {"name": "国务院办公厅关于2027年部分节假日安排的通知（测试）",
                                                      "document_number": "国办发明电〔2026〕0号"},
            "figures": {"year": 2027, "days_off": sorted({f"2027-02-{d:02d}" for d in range(6, 14)}
                                                         | {d.isoformat() for d in workdays.statutory_holidays(2027)}),
                        "working_days": ["2027-01-31", "2027-02-20"]}}
    sunday_before = workdays.is_working_day(D(2027, 1, 31))
    assert sunday_before is False
    await _approved(api, auth, body)
    assert workdays.is_arrangement_known(2027)
    assert workdays.is_working_day(D(2027, 1, 31)) and workdays.is_working_day(D(2027, 2, 20))
    assert not workdays.is_working_day(D(2027, 2, 8)) and not workdays.is_working_day(D(2027, 2, 12))
    assert workdays.is_working_day(D(2027, 2, 15))
    assert workdays.add_working_days(D(2027, 2, 5), 1) == workdays.CalendarDate(D(2027, 2, 15), False)
    assert workdays.years_known_by_notice() == [2027]


async def test_cli_shows_the_operator_figure_with_who_entered_and_approved_it(api, auth, database_url, monkeypatch,
                                                                             capsys) -> None:
    import argparse
    import json

    from hrflow import policy_cli

    notice = await _approved(api, auth, SHANGHAI_2026)
    parser = argparse.ArgumentParser(prog="hrflow")
    policy_cli.add_parser(parser.add_subparsers(dest="command"))
    argv = ["policy", "show", "contribution", "--region", "上海", "--on", "2026-12-01"]
    monkeypatch.setenv("HRFLOW_DATABASE_URL", database_url)
    assert policy_cli.run(parser.parse_args(argv)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["limits"]["floor"] == "7546.00" and "operator notices" in out["layers"]
    shown = out["provenance"][f"operator.{notice}.contribution_bases.shanghai"]
    assert shown["layer"] == "operator" and "hr.admin1" in shown["note"] and "hr.admin2" in shown["note"]
    assert "沪人社规〔2026〕9号" in shown["source"]
    monkeypatch.delenv("HRFLOW_DATABASE_URL")
    assert policy_cli.run(parser.parse_args(argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 缺少 上海市 2026-12-01") and "no database is configured" in err
