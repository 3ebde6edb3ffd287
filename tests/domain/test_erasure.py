"""The erasure's legal check: refused while she works here or anything of hers is open, held while
a retention period runs (to its last day), ready once every period has run."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain.erasure import ErasureFacts, RetentionRule, Verdict, assess, retention_rules

TWO_YEARS = RetentionRule(code="contract_copy_retention", months=24, source="劳动合同法 第五十条",
                          zh="已解除或者终止的劳动合同文本至少保存二年", en="Keep the terminated contract 2 years")
TODAY = dt.date(2026, 12, 7)


def _left(on: dt.date, **more) -> ErasureFacts:
    return ErasureFacts(employee_id="E1", exists=True, employment_status="departed", departed_on=on, **more)


def test_the_catalogue_pins_the_two_years_of_labour_contract_law_art_50() -> None:
    [rule] = retention_rules(TODAY)
    assert (rule.code, rule.months) == ("contract_copy_retention", 24)
    assert "第五十条" in rule.source


@pytest.mark.parametrize("facts,ground", [
    (ErasureFacts(employee_id="E1", exists=False), "没有员工"),
    (ErasureFacts(employee_id="E1", exists=True, employment_status="active"), "仍在职"),
    (ErasureFacts(employee_id="E1", exists=True, employment_status="notice_given"), "仍在职"),
    (_left(dt.date(2020, 1, 1), open_cases=["transfer-E1-1"]), "transfer-E1-1"),
    (_left(dt.date(2020, 1, 1), open_balance=Decimal("1053.00")), "1053.00"),
    (_left(dt.date(2020, 1, 1), open_balance=Decimal("-20.00")), "-20.00"),  # the company owes her
])
def test_refused_with_its_ground(facts: ErasureFacts, ground: str) -> None:
    found = assess(facts, [TWO_YEARS], TODAY)
    assert found.verdict == Verdict.REFUSED and found.held_until is None
    assert any(ground in reason for reason in found.reasons)


def test_every_ground_is_told_at_once() -> None:
    found = assess(ErasureFacts(employee_id="E1", exists=True, employment_status="active", open_cases=["si-change-E1-1"],
                                open_balance=Decimal("5.00")), [TWO_YEARS], TODAY)
    assert len(found.reasons) == 3


@pytest.mark.parametrize("left,verdict,until", [
    (dt.date(2025, 6, 30), Verdict.HELD, dt.date(2027, 6, 30)),
    (dt.date(2024, 12, 8), Verdict.HELD, dt.date(2026, 12, 8)),  # the period's last day is still to come
    (dt.date(2024, 12, 7), Verdict.READY, None),  # two years to the day: run
    (dt.date(2024, 2, 29), Verdict.READY, None),
    (dt.date(2025, 2, 28), Verdict.HELD, dt.date(2027, 2, 28)),
])
def test_held_until_the_period_ends(left: dt.date, verdict: Verdict, until: dt.date | None) -> None:
    found = assess(_left(left), [TWO_YEARS], TODAY)
    assert (found.verdict, found.held_until) == (verdict, until)


def test_the_longest_period_holds() -> None:
    five = TWO_YEARS.model_copy(update={"code": "longer", "months": 60})
    found = assess(_left(dt.date(2024, 1, 1)), [TWO_YEARS, five], TODAY)
    assert (found.verdict, found.held_until) == (Verdict.HELD, dt.date(2029, 1, 1))
    assert len(found.reasons) == 1  # the two-year period has run; only the running one is told
