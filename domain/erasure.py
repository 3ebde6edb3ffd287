"""May her personal data be erased now, later, or not at all? (PIPL art. 47, art. 13)

PIPL art. 47 has the employer delete personal information once the purpose is achieved or the
relationship has ended, unless a law sets a retention period that has not yet run; until it runs,
the employer keeps the data but stops processing it except to store and protect it. For an
employee, the purpose ends with her employment (art. 13(2): processing needed to perform her
contract and for HR management), and the law keeps her termination records two years (Labour
Contract Law art. 50: the terminated contract, ``contract_copy_retention`` in the catalogue,
pinned into the case). So:

- still employed (or under notice): refused; the contract is still performed on her data;
- a case of hers still open, or money still open between her and the company: refused until it
  closes (erasing would lose a claim and make the case unreadable in the middle of its life);
- departed, retention running: held until the retention ends, then erased without asking again
  (the case sleeps on a durable timer and checks once more when it wakes);
- departed, retention over: erased once a second person approves.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.months import add_months


class Verdict(StrEnum):
    REFUSED = "refused"
    HELD = "held"
    READY = "ready"


class ErasureFacts(BaseModel):
    """What the database says about her on the day of the check."""

    employee_id: str
    exists: bool
    employment_status: str | None = None  # active, notice_given, departed
    departed_on: dt.date | None = None  # her last day, once she has left
    open_cases: list[str] = Field(default_factory=list)  # other than erasure cases
    open_balance: Decimal = Decimal("0.00")  # what she still owes the company, net of recoveries


class RetentionRule(BaseModel):
    """A period the law keeps her records for, pinned from the catalogue with its source."""

    code: str
    months: int = Field(ge=0)
    source: str  # e.g. 中华人民共和国劳动合同法 第五十条
    zh: str
    en: str


class Assessment(BaseModel):
    verdict: Verdict
    reasons: list[str]  # "中文 (English)", one per ground
    held_until: dt.date | None = None  # the day the last retention period ends, for a held erasure
    retention: list[RetentionRule] = Field(default_factory=list)


def assess(facts: ErasureFacts, retention: list[RetentionRule], today: dt.date) -> Assessment:
    """The legal check, in the order the grounds are told to the person who asked."""
    if not facts.exists:
        return Assessment(verdict=Verdict.REFUSED, reasons=[f"没有员工 {facts.employee_id} (no employee {facts.employee_id})"])
    reasons: list[str] = []
    if facts.employment_status != "departed" or facts.departed_on is None:
        reasons.append("她仍在职：履行劳动合同和人力资源管理仍需处理其个人信息（个人信息保护法第十三条第一款第二项）"
                       " (she is still employed: her contract and HR management still need her data, PIPL art. 13(2))")
    if facts.open_cases:
        reasons.append(f"她的案件仍在办理：{'、'.join(facts.open_cases)}，结案后方可删除"
                       f" (cases of hers are still open: {', '.join(facts.open_cases)}; erase after they close)")
    if facts.open_balance != 0:
        reasons.append(f"她与公司之间尚有未结清款项 {facts.open_balance} 元，结清后方可删除"
                       f" (money between her and the company is still open: {facts.open_balance} yuan; erase once settled)")
    if reasons:
        return Assessment(verdict=Verdict.REFUSED, reasons=reasons, retention=retention)
    assert facts.departed_on is not None
    ends = [(add_months(facts.departed_on, r.months), r) for r in retention]
    running = [(end, r) for end, r in ends if end > today]
    if running:
        until = max(end for end, _ in running)
        return Assessment(verdict=Verdict.HELD, held_until=until, retention=retention, reasons=[
            f"{r.zh}（{r.source}），至 {end} 止；此前仅保存、不作其他处理，期满自动删除"
            f" ({r.en} ({r.source}), until {end}; until then kept but not otherwise processed, erased when it ends)"
            for end, r in running])
    return Assessment(verdict=Verdict.READY, retention=retention, reasons=[
        f"已于 {facts.departed_on} 离职，法定保存期已满 (left on {facts.departed_on}; the retention periods have run)"])


RETENTION_CODES = ("contract_copy_retention",)  # the catalogue's periods that keep a leaver's records


def retention_rules(on: dt.date, *, region: str | None = None) -> list[RetentionRule]:
    """The retention periods in force on ``on``, pinned into an erasure case when it starts."""
    from domain.policy.deadlines import deadline_rule

    pinned = []
    for code in RETENTION_CODES:
        _, rule = deadline_rule(code, on, region=region)
        assert rule.unit == "months", f"{code} is counted in {rule.unit}, not months"
        pinned.append(RetentionRule(code=rule.code, months=rule.amount, zh=rule.zh, en=rule.en,
                                    source=f"{rule.source.name} {rule.source.article or ''}".strip()))
    return pinned
