"""``hrflow dev --demo`` and ``hrflow demo``: a small Chinese company, loaded through the HTTP API.

The company is data (``hrflow/demo_company.yaml``): four departments, a dozen fictional employees in
Beijing, Shanghai and Guiyang, the staff directory with someone in every staff role, and cases in
the stages that can be reached without waiting real time. ``seed`` loads it through the API like
any client would (an ``httpx.AsyncClient`` and bearer tokens from a token maker): nothing is written
behind the API's back, so everything loaded passed the same checks a user's request would.

Loading twice changes nothing. Staff members and employees that exist are left as they are; a case
is looked up by employee and kind before it is started (a second run continues it, never opens a
second one); each step carries its own fixed ``X-Request-ID``, so a request retried after a
``503 pending`` is applied once; and a step is only sent when the case's view shows it still to do.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field

from api.auth import mint_token
from domain.months import add_months
from domain.roles import Role
from hrflow.settings import ConfigurationError, Settings, load_settings

CHINA = dt.timezone(dt.timedelta(hours=8))
DATA_FILE = "demo_company.yaml"
PREFIX = "demo"  # of every X-Request-ID the demo sends


# ---------------------------------------------------------------- the company, as data
class _Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DepartmentPlan(_Plan):
    name: str
    name_en: str


class StaffPlan(_Plan):
    user_id: str = Field(pattern=r"^[A-Za-z0-9._@-]{1,64}$")
    display_name: str
    role: Role
    level: int = Field(default=1, ge=1, le=5)
    email: str
    language: Literal["zh", "en"] = "zh"


class EmployeePlan(_Plan):
    employee_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str
    resident_id_number: str
    department: str
    position: str
    hire_date: str = Field(description="a date or a relative date (relative_date)")
    si_province: str
    si_city: str
    contribution_base: Decimal
    email: str | None = None
    language: Literal["zh", "en"] = "zh"
    manager_id: str | None = None


class _CasePlan(_Plan):
    key: str = Field(pattern=r"^[a-z0-9-]{1,30}$")
    employee: str
    stage: str
    about: str = Field(description="what the case shows, Chinese first with English in parentheses")


class MaternityPlan(_CasePlan):
    kind: Literal["maternity"]
    stage: Literal["applied", "approved", "on_leave"]
    filed_by: Literal["employee", "hr"] = "employee"
    expected_delivery: str
    company_pays_salary: bool
    employer_average_wage: Decimal | None = None


class HandoverPlan(_Plan):
    key: str
    title: str
    receiver: str


class RecordPlan(_Plan):
    kind: str
    title: str
    amount: Decimal | None = None


class SignOffPlan(_Plan):
    gate: str
    item: str = Field(description='an item key, or "record:N" for the item of the N-th record of the plan')
    outcome: str
    note: str | None = None


class OffboardingPlan(_CasePlan):
    kind: Literal["offboarding"]
    stage: Literal["clearance"]
    offboarding_kind: str
    notice_date: str
    monthly_wage: Decimal
    minimum_wage: Decimal
    handover: list[HandoverPlan]
    records: list[RecordPlan] = Field(default_factory=list)
    sign_offs: list[SignOffPlan] = Field(default_factory=list)


class TransferPlan(_CasePlan):
    kind: Literal["transfer"]
    stage: Literal["collecting_materials", "awaiting_review"]
    origin_city: str
    destination_city: str
    types: list[str]
    reason: str
    upload: list[str] | Literal["all"] = Field(default_factory=list)


class SiChangePlan(_CasePlan):
    kind: Literal["si_change"]
    stage: Literal["submitted", "approved"]
    change: str
    base: Decimal | None = None
    months: list[str] = Field(default_factory=list)
    effective_month: str
    reason: str


class NonCompetePlan(_CasePlan):
    kind: Literal["non_compete"]
    stage: Literal["active"]
    start: str
    months: int
    monthly_compensation: Decimal
    payday: int = 10
    months_already_paid: int = 0


class ResignationPlan(_CasePlan):
    """Her notice given in self-service, waiting for HR to open her departure on it."""

    kind: Literal["resignation"]
    stage: Literal["notice_given"]
    wished_last_day: str | None = None
    reason: str | None = None


CasePlan = Annotated[MaternityPlan | OffboardingPlan | TransferPlan | SiChangePlan | NonCompetePlan | ResignationPlan,
                     Field(discriminator="kind")]


class Company(_Plan):
    name: str
    name_en: str
    departments: list[DepartmentPlan]
    staff: list[StaffPlan]
    employees: list[EmployeePlan]
    cases: list[CasePlan]

    def member(self, role: Role, level: int = 1) -> StaffPlan:
        """The directory's first member of ``role`` at ``level``: who acts for that role in the demo."""
        for member in self.staff:
            if member.role is role and member.level == level:
                return member
        raise ValueError(f"the demo company has no {role.value} at level {level}")

    def employee(self, employee_id: str) -> EmployeePlan:
        for person in self.employees:
            if person.employee_id == employee_id:
                return person
        raise ValueError(f"the demo company has no employee {employee_id}")


def load_company(path: Path | None = None) -> Company:
    """The demo company from ``path`` (default: the packaged ``hrflow/demo_company.yaml``)."""
    text = path.read_text(encoding="utf-8") if path else \
        resources.files("hrflow").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return Company.model_validate(yaml.safe_load(text))


# ---------------------------------------------------------------- relative dates
_RELATIVE = re.compile(r"^(today|month)(?:([+-]\d+)([dm])?)?$")


def relative_date(spec: str, today: dt.date) -> dt.date:
    """``2021-04-06``; ``today``, ``today+7d``, ``today-10d``, ``today+4m``; ``month-2`` (the first
    day of the month two months back; ``month-0`` is the first of this month)."""
    match = _RELATIVE.match(spec.strip())
    if match is None:
        return dt.date.fromisoformat(spec)
    anchor, offset, unit = match[1], int(match[2] or 0), match[3]
    if anchor == "month":
        if unit == "d":
            raise ValueError(f"{spec!r}: month takes a month offset (month-2), not days")
        return add_months(today.replace(day=1), offset)
    return today + dt.timedelta(days=offset) if unit in (None, "d") else add_months(today, offset)


def relative_month(spec: str, today: dt.date) -> str:
    """``2026-08`` as it is, or ``month-3``: the month three months back, as YYYY-MM."""
    if re.fullmatch(r"\d{4}-\d{2}", spec):
        return spec
    return f"{relative_date(spec, today):%Y-%m}"


def china_today() -> dt.date:
    return dt.datetime.now(CHINA).date()


# ---------------------------------------------------------------- calling the API
class TokenMaker(Protocol):
    """``token(Role.HR_MANAGER, "mgr.wang")`` -> a bearer token the API accepts."""

    def __call__(self, role: Role, user: str, employee: str | None = None) -> str: ...


def tokens(secret: str, ttl: dt.timedelta = dt.timedelta(hours=1)) -> TokenMaker:
    """Tokens signed with the stack's ``HRFLOW_JWT_SECRET`` (``api.auth.mint_token``)."""

    def make(role: Role, user: str, employee: str | None = None) -> str:
        return mint_token(secret, user=user, role=role, employee_id=employee, ttl=ttl)

    return make


class DemoError(Exception):
    """The API answered a step in a way the demo did not plan for (the answer is in the message)."""


@dataclass(frozen=True)
class Who:
    role: Role
    user: str
    employee: str | None = None


def request_id(*parts: str) -> str:
    """The step's fixed ``X-Request-ID`` (at most 64 of ``[A-Za-z0-9._-]``)."""
    rid = re.sub(r"[^A-Za-z0-9._-]", "_", "-".join((PREFIX, *parts)))
    return rid if len(rid) <= 64 else f"{rid[:51]}-{hashlib.sha256(rid.encode()).hexdigest()[:12]}"


class _Api:
    def __init__(self, client: httpx.AsyncClient, token: TokenMaker, *, timeout: float) -> None:
        self.client, self.token, self.timeout = client, token, timeout
        self.writes: list[str] = []  # the request id of every write the API accepted in this run

    async def call(self, method: str, path: str, who: Who, *, step: str | None = None, json: Any = None,
                   files: Mapping[str, tuple[str, bytes, str]] | None = None, params: Mapping[str, str] | None = None,
                   ok: Iterable[int] = (200, 201)) -> httpx.Response:
        """One request as ``who``; a 503 (a case that did not answer in time, the database busy) and
        a refused connection are sent again, with the same request id, until ``timeout``."""
        headers = {"Authorization": f"Bearer {self.token(who.role, who.user, who.employee)}"}
        if step is not None:
            headers["X-Request-ID"] = step
        deadline = asyncio.get_running_loop().time() + self.timeout
        while True:
            try:
                answer = await self.client.request(method, path, headers=headers, json=json, files=files,
                                                   params=params)
            except httpx.TransportError as exc:
                if asyncio.get_running_loop().time() > deadline:
                    raise DemoError(f"{method} {path}: the API does not answer ({exc})") from exc
                await asyncio.sleep(1)
                continue
            if answer.status_code == 503 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(min(float(answer.headers.get("Retry-After", "1") or 1), 2.0))
                continue
            if answer.status_code not in tuple(ok):
                raise DemoError(f"{method} {path} as {who.user} ({who.role.value}) answered"
                                f" {answer.status_code}: {answer.text[:600]}")
            if method != "GET" and answer.is_success:
                self.writes.append(step or f"{method} {path}")
            return answer

    async def json(self, method: str, path: str, who: Who, **kwargs: Any) -> Any:
        return (await self.call(method, path, who, **kwargs)).json()

    async def until(self, read: Callable[[], Awaitable[Any]], done: Callable[[Any], bool]) -> Any:
        """Read until ``done`` holds or ``timeout`` passes; the last answer either way."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        while True:
            value = await read()
            if done(value) or asyncio.get_running_loop().time() > deadline:
                return value
            await asyncio.sleep(0.2)


# ---------------------------------------------------------------- what was loaded
@dataclass(frozen=True)
class LoadedCase:
    key: str
    kind: str
    employee_id: str
    workflow_id: str
    planned_stage: str
    stage: str
    started: bool  # by this run (False: found, from an earlier run)
    about: str

    @property
    def reached(self) -> bool:
        return self.stage == self.planned_stage


@dataclass(frozen=True)
class Loaded:
    company: Company
    staff_added: list[str]  # user ids put in the directory by this run
    employees_added: list[str]  # employee numbers registered by this run
    cases: list[LoadedCase]
    writes: list[str]  # the X-Request-ID of every write the API accepted in this run

    @property
    def changed(self) -> bool:
        return bool(self.writes)

    def summary(self) -> str:
        return summary(self)


# ---------------------------------------------------------------- seeding
PREFIXES = {"maternity": "/maternity-leaves", "offboarding": "/offboardings", "transfer": "/transfers",
            "si_change": "/si-changes", "non_compete": "/non-competes", "resignation": "/resignations"}
# Stages a case passes before the planned one: the demo waits while the case is in one of them.
BEFORE: dict[tuple[str, str], frozenset[str]] = {
    ("maternity", "approved"): frozenset({"applied"}),
    ("maternity", "on_leave"): frozenset({"applied", "approved"}),
    ("transfer", "awaiting_review"): frozenset({"collecting_materials"}),
    ("si_change", "approved"): frozenset({"submitted"}),
}
RECORD_ROLE = {"dispute": Role.COMPLIANCE, "complaint": Role.COMPLIANCE, "violation": Role.COMPLIANCE,
               "loan": Role.FINANCE, "advance": Role.FINANCE, "asset": Role.IT, "access": Role.IT,
               "non_compete": Role.HR_SPECIALIST}
GATE_ROLE = {"it": Role.IT, "finance": Role.FINANCE, "compliance": Role.COMPLIANCE, "hr_final": Role.HR_MANAGER}
# A tiny, well-formed PDF (one blank A4 page, true cross-reference offsets): uploads are judged by
# their structure, not their header.
PDF = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n"
       b"2 0 obj\n<</Type/Pages/Kids[3 0 R]/Count 1>>\nendobj\n"
       b"3 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>\nendobj\nxref\n0 4\n0000000000 65535 f \n"
       b"0000000015 00000 n \n0000000060 00000 n \n0000000111 00000 n \ntrailer\n<< /Size 4 /Root 1 0 R >>\n"
       b"startxref\n176\n%%EOF\n")


class _Seeder:
    def __init__(self, api: _Api, company: Company, today: dt.date) -> None:
        self.api, self.company, self.today = api, company, today
        self.hr = self._staff(Role.HR_SPECIALIST)
        self.manager = self._staff(Role.HR_MANAGER)
        self.admin = self._staff(Role.ADMIN)

    def _staff(self, role: Role) -> Who:
        return Who(role, self.company.member(role).user_id)

    @staticmethod
    def _self(employee_id: str) -> Who:
        return Who(Role.EMPLOYEE, employee_id, employee_id)

    # ---- people
    async def staff(self) -> list[str]:
        existing = {m["user_id"] for m in await self.api.json("GET", "/staff", self.admin)}
        added = []
        for member in self.company.staff:
            if member.user_id in existing:
                continue  # kept as the directory has it (an admin may have changed it)
            body = member.model_dump(mode="json", exclude={"user_id"}) | {"active": True}
            await self.api.call("PUT", f"/staff/{member.user_id}", self.admin, json=body,
                                step=request_id("staff", member.user_id))
            added.append(member.user_id)
        return added

    async def employees(self) -> list[str]:
        added = []
        for person in self.company.employees:
            found = await self.api.call("GET", f"/employees/{person.employee_id}", self.hr, ok=(200, 404))
            if found.status_code == 200:
                continue
            body = person.model_dump(mode="json", exclude_none=True) | {
                "hire_date": relative_date(person.hire_date, self.today).isoformat()}
            answer = await self.api.call("POST", "/employees", self.hr, json=body, ok=(201, 409),
                                         step=request_id("employee", person.employee_id))
            if answer.status_code == 201:
                added.append(person.employee_id)
        return added

    # ---- cases
    async def case(self, plan: CasePlan) -> LoadedCase:
        found = await self.api.json("GET", "/cases", self.hr, params={"employee_id": plan.employee, "kind": plan.kind})
        # The oldest case of this kind for her is the demo's (the list is newest first).
        existing: str | None = found["items"][-1]["workflow_id"] if found["items"] else None
        if isinstance(plan, MaternityPlan):
            workflow_id = await self._maternity(plan, existing)
        elif isinstance(plan, OffboardingPlan):
            workflow_id = await self._offboarding(plan, existing)
        elif isinstance(plan, TransferPlan):
            workflow_id = await self._transfer(plan, existing)
        elif isinstance(plan, SiChangePlan):
            workflow_id = await self._si_change(plan, existing)
        elif isinstance(plan, NonCompetePlan):
            workflow_id = await self._non_compete(plan, existing)
        else:
            workflow_id = await self._resignation(plan, existing)
        before = BEFORE.get((plan.kind, plan.stage), frozenset())
        view = await self.api.until(lambda: self.view(plan.kind, workflow_id), lambda v: v["stage"] not in before)
        return LoadedCase(key=plan.key, kind=plan.kind, employee_id=plan.employee, workflow_id=workflow_id,
                          planned_stage=plan.stage, stage=view["stage"], started=existing is None,
                          about=plan.about)

    async def view(self, kind: str, workflow_id: str) -> Any:
        return await self.api.json("GET", f"{PREFIXES[kind]}/{workflow_id}", self.manager)

    async def _maternity(self, plan: MaternityPlan, workflow_id: str | None) -> str:
        if workflow_id is None:
            body: dict[str, Any] = {
                "employee_id": plan.employee, "company_pays_salary": plan.company_pays_salary,
                "expected_delivery_date": relative_date(plan.expected_delivery, self.today).isoformat()}
            if plan.employer_average_wage is not None:
                body["employer_average_wage"] = str(plan.employer_average_wage)
            who = self._self(plan.employee) if plan.filed_by == "employee" else self.hr
            started = await self.api.json("POST", "/maternity-leaves", who, json=body,
                                          step=request_id(plan.key, "apply"))
            workflow_id = str(started["workflow_id"])
        if plan.stage != "applied" and (await self.view(plan.kind, workflow_id))["stage"] == "applied":
            await self.api.call("POST", f"/maternity-leaves/{workflow_id}/approve", self.hr, json={},
                                step=request_id(plan.key, "approve"))
        return workflow_id

    async def _offboarding(self, plan: OffboardingPlan, workflow_id: str | None) -> str:
        records = await self._records(plan, create=workflow_id is None)
        if workflow_id is None:
            body = {"employee_id": plan.employee, "kind": plan.offboarding_kind,
                    "notice_date": relative_date(plan.notice_date, self.today).isoformat(),
                    "monthly_wage": str(plan.monthly_wage), "minimum_wage": str(plan.minimum_wage),
                    "handover": [h.model_dump() for h in plan.handover]}
            started = await self.api.json("POST", "/offboardings", self.hr, json=body,
                                          step=request_id(plan.key, "start"))
            workflow_id = str(started["workflow_id"])
        # The clearance items are opened once the risk report is in.
        view = await self.api.until(lambda: self.view(plan.kind, workflow_id), lambda v: bool(v["items"]))
        for n, sign in enumerate(plan.sign_offs):
            key = sign.item
            if key.startswith("record:"):
                record = records.get(int(key.removeprefix("record:")))
                if record is None:
                    continue  # a record the case was started without: nothing to sign
                key = f"record-{record}"
            item = next((i for i in view["items"] if i["gate"] == sign.gate and i["key"] == key), None)
            if item is None or item["status"] != "open" or view["stage"] != "clearance":
                continue
            receiver = next((h.receiver for h in plan.handover if h.key == key), None)
            who = self._self(receiver) if sign.gate == "handover" and receiver else self._staff(GATE_ROLE[sign.gate])
            signed: dict[str, Any] = {"gate": sign.gate, "item_key": key, "outcome": sign.outcome}
            if sign.note:
                signed["note"] = sign.note
            await self.api.call("POST", f"/offboardings/{workflow_id}/sign-off", who, json=signed,
                                step=request_id(plan.key, "sign", str(n)))
            view = await self.view(plan.kind, workflow_id)  # as staff read it (a receiver's answer shows her items)
        return workflow_id

    async def _records(self, plan: OffboardingPlan, *, create: bool) -> dict[int, int]:
        """The plan's records (index -> record id), registered by their owners where missing."""
        ids: dict[int, int] = {}
        for n, record in enumerate(plan.records):
            who = self._staff(RECORD_ROLE[record.kind])
            listed = await self.api.json("GET", f"/employees/{plan.employee}/records", who)
            found = next((r for r in listed if r["kind"] == record.kind and r["title"] == record.title), None)
            if found is None and create:
                body = {"kind": record.kind, "title": record.title,
                        "amount": str(record.amount) if record.amount is not None else None}
                found = await self.api.json("POST", f"/employees/{plan.employee}/records", who, json=body,
                                            step=request_id(plan.key, "record", str(n)))
            if found is not None:
                ids[n] = int(found["id"])
        return ids

    async def _transfer(self, plan: TransferPlan, workflow_id: str | None) -> str:
        her = self._self(plan.employee)
        if workflow_id is None:
            body = {"employee_id": plan.employee, "origin_city": plan.origin_city,
                    "destination_city": plan.destination_city, "types": plan.types, "reason": plan.reason}
            started = await self.api.json("POST", "/transfers", her, json=body, step=request_id(plan.key, "apply"))
            workflow_id = str(started["workflow_id"])
        path = f"/transfers/{workflow_id}/materials"
        # Documents attach once the case has recorded the transfer.
        listed = await self.api.until(lambda: self.api.call("GET", path, her, ok=(200, 404)),
                                      lambda r: r.status_code == 200)
        if listed.status_code != 200:
            raise DemoError(f"transfer {workflow_id}: its materials did not become available")
        materials = listed.json()
        view = await self.view(plan.kind, workflow_id)
        if view["stage"] != "collecting_materials":
            return workflow_id
        wanted = sorted({r["code"] for r in materials["requirements"] if r["required"]}) if plan.upload == "all" \
            else plan.upload
        uploaded = {m["code"] for m in materials["items"]}
        for code in wanted:
            if code in uploaded:
                continue
            await self.api.call("POST", f"{path}/{code}", her, files={"file": (f"{code}.pdf", PDF, "application/pdf")},
                                step=request_id(plan.key, "upload", code))
        return workflow_id

    async def _si_change(self, plan: SiChangePlan, workflow_id: str | None) -> str:
        if workflow_id is None:
            body = {"employee_id": plan.employee, "kind": plan.change,
                    "base": str(plan.base) if plan.base is not None else None,
                    "months": [relative_month(m, self.today) for m in plan.months],
                    "effective_month": relative_month(plan.effective_month, self.today), "reason": plan.reason}
            started = await self.api.json("POST", "/si-changes", self.hr, json=body, step=request_id(plan.key, "submit"))
            workflow_id = str(started["workflow_id"])
        view = await self.view(plan.kind, workflow_id)
        if plan.stage == "approved" and view["stage"] == "submitted":
            # A back-payment is approved only with its total confirmed, as the checker read it.
            confirm = {"confirm_total": view["estimate"]["total"]} if plan.change == "back_payment" else {}
            await self.api.call("POST", f"/si-changes/{workflow_id}/approve", self.manager, json=confirm,
                                step=request_id(plan.key, "approve"))
        return workflow_id

    async def _non_compete(self, plan: NonCompetePlan, workflow_id: str | None) -> str:
        if workflow_id is None:
            body = {"employee_id": plan.employee, "start": relative_date(plan.start, self.today).isoformat(),
                    "months": plan.months, "monthly_compensation": str(plan.monthly_compensation),
                    "payday": plan.payday, "months_already_paid": plan.months_already_paid}
            started = await self.api.json("POST", "/non-competes", self.hr, json=body,
                                          step=request_id(plan.key, "start"))
            workflow_id = str(started["workflow_id"])
        return workflow_id


    async def _resignation(self, plan: ResignationPlan, workflow_id: str | None) -> str:
        if workflow_id is None:
            body: dict[str, Any] = {"reason": plan.reason}
            if plan.wished_last_day is not None:
                body["wished_last_day"] = relative_date(plan.wished_last_day, self.today).isoformat()
            started = await self.api.json("POST", "/resignations", self._self(plan.employee), json=body,
                                          step=request_id(plan.key, "notice"))
            workflow_id = str(started["workflow_id"])
        return workflow_id


async def seed(client: httpx.AsyncClient, token: TokenMaker, *, company: Company | None = None,
               today: dt.date | None = None, timeout: float = 60.0) -> Loaded:
    """Load the demo company through the API ``client`` talks to, as the staff the company names
    (their tokens from ``token``). ``today`` (default: today in China) anchors the relative dates;
    ``timeout`` bounds each wait for a case to reach its stage and each retried request."""
    company = company or load_company()
    seeder = _Seeder(_Api(client, token, timeout=timeout), company, today or china_today())
    staff_added = await seeder.staff()
    employees_added = await seeder.employees()
    cases = [await seeder.case(plan) for plan in company.cases]
    return Loaded(company=company, staff_added=staff_added, employees_added=employees_added, cases=cases,
                  writes=seeder.api.writes)


async def seed_url(base_url: str, token: TokenMaker, **kwargs: Any) -> Loaded:
    """``seed`` against a running API at ``base_url`` (``hrflow dev``)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(90.0)) as client:
        return await seed(client, token, **kwargs)


# ---------------------------------------------------------------- what it says
ROLE_ZH = {Role.HR_SPECIALIST: "人事专员", Role.HR_MANAGER: "人事经理", Role.FINANCE: "财务", Role.COMPLIANCE: "合规",
           Role.IT: "信息技术", Role.ADMIN: "系统管理员", Role.EMPLOYEE: "员工"}
KIND_ZH = {"maternity": "产假", "offboarding": "离职", "transfer": "跨省转移", "si_change": "社保变更",
           "non_compete": "竞业限制", "resignation": "辞职通知"}
STAGE_ZH = {"applied": "已申请，待审批", "approved": "已批准", "on_leave": "休假中", "clearance": "离职交接中",
            "collecting_materials": "收集材料中", "awaiting_review": "待人事审核", "submitted": "待复核",
            "active": "履行中", "executed": "已报送", "completed": "已办结", "notice_given": "已提出辞职，待人事接办"}


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (a Chinese character takes two)."""
    used = sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)
    return text + " " * max(width - used, 1)


def summary(loaded: Loaded) -> str:
    """What was loaded and who to sign in as, Chinese first with English in parentheses."""
    company = loaded.company
    cases_of: dict[str, list[LoadedCase]] = {}
    for case in loaded.cases:
        cases_of.setdefault(case.employee_id, []).append(case)
    added = len(loaded.staff_added) + len(loaded.employees_added) + sum(c.started for c in loaded.cases)
    news = (f"本次新增 {added} 项，共 {len(loaded.writes)} 次写入 (added {added}, {len(loaded.writes)} writes)"
            if loaded.changed else "已全部存在，本次未作任何更改 (all there already: nothing changed)")
    departments, people, staff, cases = (len(company.departments), len(company.employees), len(company.staff),
                                         len(loaded.cases))
    lines = [
        "",
        f"演示公司已载入：{company.name} (demo company loaded: {company.name_en})",
        f"  {departments} 个部门、{people} 名员工、{staff} 名职员、{cases} 个案件；{news}",
        f"  ({departments} departments, {people} employees, {staff} staff members, {cases} cases)",
        "",
        "以下列身份登录 (sign in as):",
    ]
    for member in sorted(company.staff, key=lambda m: (list(Role).index(m.role), m.level)):
        zh = ROLE_ZH[member.role] + (f"（{member.level}级）" if member.role is Role.HR_MANAGER else "")
        en = member.role.value + (f" L{member.level}" if member.role is Role.HR_MANAGER else "")
        lines.append(f"  {_pad(zh, 16)}{_pad(en, 16)}{_pad(member.user_id, 10)}{_pad(member.display_name, 6)}"
                     f"hrflow token --user {member.user_id} --role {member.role.value}")
    lines.append(f"  {_pad(ROLE_ZH[Role.EMPLOYEE], 16)}{_pad(Role.EMPLOYEE.value, 16)}"
                 "员工编号即用户名 (the employee number is the user): hrflow token --user E1002 --role employee")
    lines += ["", "员工与案件 (employees and their cases):"]
    names = {d.name: d.name_en for d in company.departments}
    for person in company.employees:
        department = f"{person.department} ({names.get(person.department, '')})"
        lines.append(f"  {person.employee_id} {_pad(person.name, 8)}{_pad(department, 22)}{_pad(person.position, 14)}"
                     f"{person.si_city}")
        for case in cases_of.get(person.employee_id, []):
            mark = "" if case.reached else f"  ！未达到计划阶段 {case.planned_stage} (not at its planned stage)"
            lines.append(f"      {KIND_ZH[case.kind]} {case.kind}: {case.workflow_id}"
                         f" — {STAGE_ZH.get(case.stage, case.stage)} ({case.stage}){mark}")
            lines.append(f"        {case.about}")
    return "\n".join(lines)


# ---------------------------------------------------------------- `hrflow demo`
def dev_settings(settings: Settings) -> Settings:
    """The settings of the running ``hrflow dev`` whose directory ``settings`` names: its
    ``dev.env`` (real environment variables still win)."""
    env_file = settings.dev_dir / "dev.env"
    if not env_file.exists():
        raise ConfigurationError(f"no `hrflow dev` found: {env_file} does not exist; start `hrflow dev --demo`,"
                                 " or `hrflow dev` and then `hrflow demo` in the same directory")
    return load_settings(_env_file=str(env_file))


def api_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "") else settings.api_host
    return f"http://{host}:{settings.api_port}"


def load_into(settings: Settings, *, timeout: float = 60.0) -> Loaded:
    """Seed the stack ``settings`` describe (its API and JWT secret) and return what was loaded."""
    url = api_url(settings)
    try:
        health = httpx.get(f"{url}/health", timeout=5)
    except httpx.HTTPError:
        raise ConfigurationError(f"the API at {url} does not answer; is `hrflow dev` running?") from None
    if health.status_code != 200:
        raise ConfigurationError(f"the API at {url} is not healthy yet ({health.status_code}); try again shortly")
    return asyncio.run(seed_url(url, tokens(settings.require_jwt_secret()), timeout=timeout))


def main(settings: Settings) -> int:
    """``hrflow demo``: seed the running ``hrflow dev`` found through its ``dev.env``."""
    try:
        loaded = load_into(dev_settings(settings))
    except DemoError as exc:
        print(f"演示数据未能全部载入 (the demo company was not fully loaded): {exc}")
        return 1
    print(loaded.summary())
    return 0 if all(c.reached for c in loaded.cases) else 1

