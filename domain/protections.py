"""Labour Contract Law art. 42 and 45: who may not be dismissed without fault, and what that means
for a contract that expires.

An employer may not terminate under art. 40 (non-fault dismissal) or art. 41 (mass layoff) while
the employee is in one of art. 42's situations; art. 39 (her own fault) is not barred. A fixed term
that runs out (art. 44) while she is protected is extended until the situation ends (art. 45), so
an expiry ending is refused too, with that said. The ground must therefore be known: given as
``Ground``, or recognised in the free text HR wrote ("劳动合同法第四十条第三项", "art. 41").

What the system can see it derives (her maternity cases; 15 years' service with an age that is
within 5 years of any statutory retirement age for her sex); what only HR knows (a medical
treatment period, an occupational disease, a pregnancy not yet on file) HR declares.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum


class Ground(StrEnum):
    """The article an ending rests on (Labour Contract Law)."""

    ART_36 = "art_36"  # mutual agreement
    ART_37 = "art_37"  # the employee resigns with notice
    ART_38 = "art_38"  # the employee ends it for the employer's fault
    ART_39 = "art_39"  # dismissal for her fault
    ART_40 = "art_40"  # non-fault dismissal, item not stated
    ART_40_1 = "art_40_1"  # illness or non-work injury, unable to work after the medical treatment period
    ART_40_2 = "art_40_2"  # incompetent, still after training or a new post
    ART_40_3 = "art_40_3"  # the objective circumstances of the contract changed
    ART_41 = "art_41"  # mass layoff (economic redundancy)
    ART_44 = "art_44"  # the contract expires (or another statutory ending)


class Protection(StrEnum):
    """Art. 42's situations, items 1 to 5."""

    OCCUPATIONAL_DISEASE_EXAMINATION = "occupational_disease_examination"  # item 1
    WORK_INJURY_INCAPACITY = "work_injury_incapacity"  # item 2
    MEDICAL_TREATMENT_PERIOD = "medical_treatment_period"  # item 3
    PREGNANCY_MATERNITY_NURSING = "pregnancy_maternity_nursing"  # item 4
    LONG_SERVICE_NEAR_RETIREMENT = "long_service_near_retirement"  # item 5


NON_FAULT = frozenset({Ground.ART_40, Ground.ART_40_1, Ground.ART_40_2, Ground.ART_40_3, Ground.ART_41})
EMPLOYER_GROUNDS = NON_FAULT | {Ground.ART_39, Ground.ART_44}

_ITEM = {
    Protection.OCCUPATIONAL_DISEASE_EXAMINATION: (
        "第一项：从事接触职业病危害作业未进行离岗前职业健康检查，或疑似职业病病人在诊断或者医学观察期间",
        ("item 1: exposed to occupational hazards without a pre-departure health examination, or a suspected"
         " occupational disease under diagnosis or observation")),
    Protection.WORK_INJURY_INCAPACITY: (
        "第二项：在本单位患职业病或者因工负伤并被确认丧失或者部分丧失劳动能力",
        "item 2: an occupational disease or work injury here, with lost or partly lost capacity confirmed"),
    Protection.MEDICAL_TREATMENT_PERIOD: (
        "第三项：患病或者非因工负伤，在规定的医疗期内",
        "item 3: ill or injured off work and within the medical treatment period"),
    Protection.PREGNANCY_MATERNITY_NURSING: (
        "第四项：孕期、产期、哺乳期的女职工",
        "item 4: an employee who is pregnant, on maternity leave or nursing"),
    Protection.LONG_SERVICE_NEAR_RETIREMENT: (
        "第五项：在本单位连续工作满十五年，且距法定退休年龄不足五年",
        "item 5: 15 years' continuous service here and less than 5 years from the statutory retirement age"),
}

# Stages of a maternity case in which she is pregnant or on leave (the case is still before her return).
MATERNITY_ACTIVE_STAGES = frozenset({"applied", "rejected", "approved", "on_leave", "return_overdue"})
# Stages that say nothing about a birth: she withdrew, or the leave was cancelled.
MATERNITY_VOID_STAGES = frozenset({"withdrawn", "cancelled"})
NURSING_YEARS = 1
# The highest statutory retirement age under the 2025 gradual reform (men 63, women 58 at most):
# within 5 years of it she is within 5 years of whatever her own age is. Younger cases HR declares.
HIGHEST_RETIREMENT_AGE = {"M": 63, "F": 58}


@dataclass(frozen=True)
class MaternityRecord:
    """What the case table and audit trail say about one maternity case of hers."""

    workflow_id: str
    stage: str
    status: str
    birth_date: dt.date | None  # the actual birth if reported, else the expected one


@dataclass(frozen=True)
class Finding:
    protection: Protection
    evidence: str  # where it comes from: a case id, "declared by HR", the service years


def _years_later(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def find_protections(*, last_day: dt.date, declared: list[Protection], maternity: list[MaternityRecord],
                     hire_date: dt.date | None = None, birth_date: dt.date | None = None,
                     sex: str | None = None, notice_date: dt.date | None = None) -> list[Finding]:
    """Every art. 42 situation she is in between the notice and her last day, declared or seen in
    her records (a dismissal notice given in her nursing year is barred even if the year ends
    before the last day)."""
    first_day = min(notice_date or last_day, last_day)
    found = [Finding(p, "declared by HR") for p in dict.fromkeys(declared)]
    seen = set(declared)
    if Protection.PREGNANCY_MATERNITY_NURSING not in seen:
        for case in maternity:
            if case.stage in MATERNITY_VOID_STAGES or case.status in ("withdrawn", "rejected"):
                continue
            active = case.status == "open" and case.stage in MATERNITY_ACTIVE_STAGES
            nursing = case.birth_date is not None and first_day < _years_later(case.birth_date, NURSING_YEARS)
            if active or nursing:
                what = "open maternity case" if active else f"birth on {case.birth_date}, nursing year"
                found.append(Finding(Protection.PREGNANCY_MATERNITY_NURSING, f"{what} {case.workflow_id}"))
                break
    if (Protection.LONG_SERVICE_NEAR_RETIREMENT not in seen and hire_date is not None and birth_date is not None
            and sex in HIGHEST_RETIREMENT_AGE and _years_later(hire_date, 15) <= last_day
            and _years_later(birth_date, HIGHEST_RETIREMENT_AGE[sex] - 5) <= last_day):
        found.append(Finding(Protection.LONG_SERVICE_NEAR_RETIREMENT,
                             f"hired {hire_date}, born {birth_date}: 15 years' service, near retirement"))
    return found


@dataclass(frozen=True)
class Barred:
    """Why an ending is refused: field, rule and a message in Chinese and English."""

    field: str
    rule: str
    message: str

    def detail(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


def bar(ground: Ground, findings: list[Finding], field: str = "ground") -> list[Barred]:
    """The refusals art. 42 (for art. 40/41) and art. 45 (for art. 44) give; none for art. 39."""
    out: list[Barred] = []
    for f in findings:
        zh, en = _ITEM[f.protection]
        rule = f"labour_contract_law_art_42.{f.protection.value}"
        if ground in NON_FAULT:
            if f.protection is Protection.PREGNANCY_MATERNITY_NURSING:
                head_zh = "劳动合同法第四十二条：孕期、产期、哺乳期的女职工，不得依照第四十条、第四十一条解除劳动合同"
                head_en = ("Labour Contract Law art. 42: an employee who is pregnant, on maternity leave or nursing"
                           " may not be dismissed under art. 40 or 41")
            else:
                head_zh = f"劳动合同法第四十二条{zh}的，不得依照第四十条、第四十一条解除劳动合同"
                head_en = f"Labour Contract Law art. 42 {en}: no dismissal under art. 40 or 41"
            out.append(Barred(field, rule, f"{head_zh}（{f.evidence}） ({head_en}; {f.evidence})"))
        elif ground is Ground.ART_44:
            if f.protection is Protection.WORK_INJURY_INCAPACITY:
                tail_zh = "其劳动合同的终止按照国家有关工伤保险的规定执行"
                tail_en = "its ending follows the Work-Related Injury Insurance Regulations"
            else:
                tail_zh = "劳动合同应当续延至相应的情形消失时终止"
                tail_en = "the contract is extended until the protection ends"
            out.append(Barred(field, f"labour_contract_law_art_45.{f.protection.value}",
                              f"劳动合同法第四十五条：劳动合同期满，有第四十二条{zh}情形的，{tail_zh}（{f.evidence}）"
                              f" (Labour Contract Law art. 45: the contract expires while art. 42 {en} applies;"
                              f" {tail_en}; {f.evidence})"))
    return out


# ------------------------------------------------------------------ the ground in free text
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUM = r"[0-9一二两三四五六七八九十百零〇]+"
_CN_ARTICLE = re.compile(rf"第\s*({_NUM})\s*条(?:\s*第?\s*[（(]?\s*({_NUM})\s*[)）]?\s*[项款])?")
_EN_ARTICLE = re.compile(r"\b(?:art(?:icle)?s?\.?|§)\s*(\d{1,3})(?:\s*[(.]\s*(\d)\s*\)?|\s+(?:item|para(?:graph)?)\s*(\d))?",
                         re.IGNORECASE)


def _number(text: str) -> int | None:
    if text.isascii() and text.isdigit():
        return int(text)
    total, digit = 0, 0
    for ch in text:
        if ch == "百":
            total, digit = total + (digit or 1) * 100, 0
        elif ch == "十":
            total, digit = total + (digit or 1) * 10, 0
        elif ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        else:
            return None
    return total + digit


def _ground(article: int, item: int | None) -> Ground | None:
    if article == 40:
        return {1: Ground.ART_40_1, 2: Ground.ART_40_2, 3: Ground.ART_40_3}.get(item or 0, Ground.ART_40)
    return {36: Ground.ART_36, 37: Ground.ART_37, 38: Ground.ART_38, 39: Ground.ART_39, 41: Ground.ART_41,
            44: Ground.ART_44}.get(article)


def grounds_in_text(text: str) -> set[Ground]:
    """The grounds a free-text legal ground cites; articles that are not grounds (42, 46, 47, ...) are ignored."""
    found: set[Ground] = set()
    for match in _CN_ARTICLE.finditer(text):
        article, item = _number(match[1]), _number(match[2]) if match[2] else None
        if article is not None and (g := _ground(article, item)) is not None:
            found.add(g)
    for match in _EN_ARTICLE.finditer(text):
        item_text = match[2] or match[3]
        if (g := _ground(int(match[1]), int(item_text) if item_text else None)) is not None:
            found.add(g)
    if Ground.ART_40 in found and found & {Ground.ART_40_1, Ground.ART_40_2, Ground.ART_40_3}:
        found.discard(Ground.ART_40)  # "第四十条" and then "第四十条第三项": the item is the ground
    return found


def describe(ground: Ground) -> str:
    """The ground as a legal-ground text, for a case whose HR gave only the structured field."""
    article, _, item = ground.value.removeprefix("art_").partition("_")
    zh = f"劳动合同法第{article}条" + (f"第{item}项" if item else "")
    return f"{zh} (Labour Contract Law art. {article}{f'({item})' if item else ''})"
