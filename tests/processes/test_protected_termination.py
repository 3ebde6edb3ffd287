"""Labour Contract Law art. 42 through the API: an employer may not dismiss on art. 40 or 41 grounds an
employee who is pregnant, on maternity leave or nursing (seen in her maternity cases), or in a
situation HR declares; her contract's expiry (art. 44) is extended instead (art. 45); a dismissal
for her fault (art. 39) goes ahead. The ground is structured, or recognised in the free text."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from temporalio.service import RPCError

from db.models import Case
from domain.months import add_months
from domain.protections import Ground, MaternityRecord, Protection, bar, find_protections, grounds_in_text
from domain.roles import Role

HR, MANAGER = "hr.li", "mgr.wang"
TODAY = dt.date.today()  # the API judges maternity dates against the real date, not the workflow clock
ART_42_PREGNANCY = "labour_contract_law_art_42.pregnancy_maternity_nursing"


def termination(emp: str, **extra: object) -> dict:
    return {"employee_id": emp, "kind": "termination", "notice_date": TODAY.isoformat(),
            "agreed_last_day": (TODAY + dt.timedelta(days=30)).isoformat(), "monthly_wage": "10000.00",
            "minimum_wage": "2540.00", "economic_compensation": "50000.00",
            "handover": [{"key": "files", "title": "Client files", "receiver": "E0042"}]} | extra


async def approved_maternity_case(api, auth, emp: str) -> str:
    due = TODAY + dt.timedelta(days=60)
    r = await api.post("/maternity-leaves", json={"employee_id": emp, "expected_delivery_date": due.isoformat(),
                                                  "company_pays_salary": True},
                       headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 201, r.text
    wf = r.json()["workflow_id"]
    r = await api.post(f"/maternity-leaves/{wf}/approve", headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 200 and r.json()["stage"] == "approved", r.text
    return wf


def offboarding_cases(session_factory, emp: str) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(Case).where(Case.kind == "offboarding",
                                                                    Case.employee_id == emp))


async def assert_nothing_started(temporal_env, session_factory, emp: str) -> None:
    assert offboarding_cases(session_factory, emp) == 0
    with pytest.raises(RPCError):
        await temporal_env.client.get_workflow_handle(f"offboarding-{emp}-{TODAY.isoformat()}").describe()


async def test_a_protected_employee_is_not_dismissed_under_art_40_or_41_but_under_art_39(
        stack, auth, emp, temporal_env, session_factory) -> None:
    api = stack
    maternity = await approved_maternity_case(api, auth, emp)
    for extra in ({"ground": "art_40_3"},
                  {"legal_ground": "依据《劳动合同法》第四十一条进行经济性裁员"},
                  {"legal_ground": "Labour Contract Law art. 40(2): incompetent after training"}):
        r = await api.post("/offboardings", json=termination(emp, **extra), headers=auth(Role.HR_SPECIALIST, HR))
        assert r.status_code == 422, (extra, r.text)
        [item] = r.json()["detail"]
        assert item["rule"] == ART_42_PREGNANCY and item["field"] == "ground"
        assert item["message"].startswith("劳动合同法第四十二条：孕期、产期、哺乳期的女职工，不得依照第四十条、第四十一条解除劳动合同")
        assert maternity in item["message"] and "Labour Contract Law" not in item["message"]  # Chinese only
        await assert_nothing_started(temporal_env, session_factory, emp)

    # Her contract expiring is no way round: it is extended until the protection ends (art. 45).
    r = await api.post("/offboardings", json=termination(emp, ground="art_44"), headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 422, r.text
    [item] = r.json()["detail"]
    assert item["rule"] == "labour_contract_law_art_45.pregnancy_maternity_nursing"
    assert "第四十五条" in item["message"] and "劳动合同应当续延至相应的情形消失时终止" in item["message"]
    await assert_nothing_started(temporal_env, session_factory, emp)

    # Her own serious fault is not protected by art. 42.
    r = await api.post("/offboardings", json=termination(
        emp, legal_ground="严重违反用人单位的规章制度（劳动合同法第三十九条第二项）", economic_compensation="0.00"),
        headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 201, r.text
    assert offboarding_cases(session_factory, emp) == 1


async def test_a_termination_without_a_ground_is_refused_asking_for_it(stack, auth, emp, temporal_env,
                                                                       session_factory) -> None:
    for extra in ({}, {"legal_ground": "performance"}, {"legal_ground": "劳动合同法第四十二条"}):
        r = await stack.post("/offboardings", json=termination(emp, **extra), headers=auth(Role.HR_SPECIALIST, HR))
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["field"] == "ground" and r.json()["detail"][0]["rule"] == "ground_required"
    r = await stack.post("/offboardings", json=termination(emp, kind="resignation", ground="art_40"),
                         headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "ground_matches_kind", r.text
    r = await stack.post("/offboardings", json=termination(emp, legal_ground="第四十条 or 第三十九条"),
                         headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "ground_unambiguous", r.text
    # A structured art. 39 beside a text citing art. 40 would be judged on one and recorded as the other.
    r = await stack.post("/offboardings", json=termination(emp, ground="art_39", legal_ground="劳动合同法第四十条第三项"),
                         headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == "ground_matches_text", r.text
    await assert_nothing_started(temporal_env, session_factory, emp)


async def test_a_declared_protection_bars_the_dismissal_naming_its_item(stack, auth, emp, temporal_env,
                                                                         session_factory) -> None:
    r = await stack.post("/offboardings", json=termination(emp, ground="art_40_1",
                                                           protections=["medical_treatment_period"]),
                         headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 422, r.text
    [item] = r.json()["detail"]
    assert item["rule"] == "labour_contract_law_art_42.medical_treatment_period"
    assert "第四十二条第三项：患病或者非因工负伤，在规定的医疗期内" in item["message"]
    await assert_nothing_started(temporal_env, session_factory, emp)
    # Not a ground art. 42 bars: the declaration does not stop a dismissal for her fault.
    r = await stack.post("/offboardings", json=termination(emp, ground="art_39", protections=["medical_treatment_period"]),
                         headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 201, r.text


async def test_a_birth_less_than_a_year_before_the_last_day_is_the_nursing_year(stack, auth, emp, temporal_env,
                                                                                 session_factory) -> None:
    """A maternity case that ran to its end still protects her for a year after the birth."""
    birth = add_months(TODAY, -6)
    with session_factory.begin() as s:
        s.add(Case(workflow_id=f"maternity-leave-{emp}-{birth.isoformat()}", kind="maternity", employee_id=emp,
                   stage="closed", status="completed", opened_at=dt.datetime.now(dt.UTC)))
    r = await stack.post("/offboardings", json=termination(emp, ground="art_41"), headers=auth(Role.HR_SPECIALIST, HR))
    assert r.status_code == 422 and r.json()["detail"][0]["rule"] == ART_42_PREGNANCY, r.text
    assert "nursing year" in r.json()["detail"][0]["message"]
    await assert_nothing_started(temporal_env, session_factory, emp)


# ------------------------------------------------------------------ the rules themselves
@pytest.mark.parametrize("text,ground", [
    ("劳动合同法第四十条", Ground.ART_40),
    ("第40条", Ground.ART_40),
    ("art. 40", Ground.ART_40),
    ("Article 41", Ground.ART_41),
    ("第四十一条", Ground.ART_41),
    ("依据《劳动合同法》第四十条第三项，客观情况发生重大变化", Ground.ART_40_3),
    ("第四十条第（一）项", Ground.ART_40_1),
    ("Labour Contract Law art. 40(2)", Ground.ART_40_2),
    ("劳动合同法第三十九条第二项", Ground.ART_39),
    ("第四十四条：劳动合同期满", Ground.ART_44),
    ("依据劳动合同法第四十条第三项解除，并依第四十六条、第四十七条支付经济补偿", Ground.ART_40_3),
])
def test_the_ground_is_recognised_in_the_text(text: str, ground: Ground) -> None:
    assert grounds_in_text(text) == {ground}


@pytest.mark.parametrize("text", ["", "performance", "劳动合同法第四十二条", "劳动法第二十六条", "part 40", "restart 41"])
def test_text_citing_no_ground_yields_none(text: str) -> None:
    assert grounds_in_text(text) == set()


def test_the_nursing_year_ends_a_year_after_the_birth() -> None:
    birth = dt.date(2026, 3, 10)
    case = [MaternityRecord("maternity-leave-E1-2026-03-10", "closed", "completed", birth)]
    assert find_protections(last_day=dt.date(2027, 3, 9), declared=[], maternity=case)
    assert not find_protections(last_day=dt.date(2027, 3, 10), declared=[], maternity=case)
    # notice given inside the nursing year, last day after it: the dismissal notice is what art. 42 bars
    assert find_protections(last_day=dt.date(2027, 4, 9), notice_date=dt.date(2027, 3, 9), declared=[],
                            maternity=case)
    assert not find_protections(last_day=dt.date(2027, 4, 10), notice_date=dt.date(2027, 3, 10), declared=[],
                                maternity=case)
    withdrawn = [MaternityRecord("maternity-leave-E1-2026-03-10", "withdrawn", "withdrawn", birth)]
    assert not find_protections(last_day=dt.date(2026, 6, 1), declared=[], maternity=withdrawn)


def test_long_service_near_retirement_is_seen_when_certain() -> None:
    """15 years here and within 5 years of the highest retirement age for her sex (58 for women)."""
    hired, born = dt.date(2008, 1, 1), dt.date(1973, 6, 1)
    found = find_protections(last_day=dt.date(2026, 6, 1), declared=[], maternity=[], hire_date=hired,
                             birth_date=born, sex="F")
    assert [f.protection for f in found] == [Protection.LONG_SERVICE_NEAR_RETIREMENT]
    assert not find_protections(last_day=dt.date(2026, 5, 31), declared=[], maternity=[], hire_date=hired,
                                birth_date=born, sex="F")  # a day short of 53
    assert not find_protections(last_day=dt.date(2026, 6, 1), declared=[], maternity=[], hire_date=dt.date(2012, 1, 1),
                                birth_date=born, sex="F")  # 14 years' service


def test_art_39_is_not_barred_and_art_44_is_extended() -> None:
    found = find_protections(last_day=dt.date(2026, 6, 1), declared=[Protection.WORK_INJURY_INCAPACITY], maternity=[])
    assert bar(Ground.ART_39, found) == []
    [expiry] = bar(Ground.ART_44, found)
    assert "工伤保险" in expiry.message and expiry.rule == "labour_contract_law_art_45.work_injury_incapacity"
    [dismissal] = bar(Ground.ART_41, found)
    assert dismissal.rule == "labour_contract_law_art_42.work_injury_incapacity" and "第二项" in dismissal.message
