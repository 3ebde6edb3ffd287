"""Errors in the caller's language: the same bad request answered in Chinese by default, in English
when she asks (``Accept-Language``, ``?lang=``, the ``hrflow_lang`` cookie); each refused field
named by its dotted path, in words (``label``), and its rule said with its limit, never as a
regular expression; a workflow's refusal ("中文 (English)") answered in her half, title included.

The app is the real one, without its database or Temporal: validation and the refusal answers
come before either is reached.
"""

from __future__ import annotations

import ast
import base64
import datetime as dt
import json
import pickle
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from temporalio.exceptions import ApplicationError

from api import errors, i18n
from api.app import create_app
from api.auth import mint_token
from api.errors import ApiError
from api.i18n import Text, bilingual, say
from api.plausibility import PlausibleDate
from api.workflow_calls import PENDING, refusal_to_http
from domain.refusals import Refusal
from domain.roles import Role
from hrflow.settings import Settings
from workflows import kernel

ROOT = Path(__file__).resolve().parents[2]
SECRET = "x" * 40
SETTINGS = Settings(_env_file=None,  # type: ignore[call-arg]
                    database_url="postgresql+psycopg2://unused@127.0.0.1/unused", jwt_secret=SECRET,
                    codec_keys={"k": base64.b64encode(bytes(32)).decode()})
HR = {"Authorization": f"Bearer {mint_token(SECRET, user='hr.li', role=Role.HR_SPECIALIST)}"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
EXTENSION = "/maternity-leaves/maternity-leave-E1001-2027-01-10/extensions"
BAD_EXTENSION = {"days": 0, "kind": "holiday", "reason": "  ", "approved": True}
OFFBOARDING = {"employee_id": "E 1", "kind": "resignation", "notice_date": "2026-11-02", "monthly_wage": "10000.001",
               "minimum_wage": "2420.00", "handover": [{"key": "files", "title": "", "receiver": "hr.li"}]}
# What a regular expression looks like; none may reach a clerk.
REGEX = re.compile(r"[\^$\\]|\[[^\]]*-[^\]]*\]|\{\d+(,\d*)?\}|\(\?|\|\)")
CJK = re.compile(r"[\u4e00-\u9fff]")


async def nobody_listed(request: object, user: str) -> None:
    return None


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SETTINGS)
    app.state.temporal = object()  # never reached: every request here is refused before a case is
    app.state.directory = nobody_listed  # no database here: tokens say who their holders are
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hrflow.test") as client:
        yield client


def assert_items_named(body: dict[str, Any]) -> list[dict[str, Any]]:
    assert body["error"] == "validation_failed", body
    for item in body["detail"]:
        assert set(item) >= {"field", "rule", "label", "message"}, item
        assert item["field"] and item["label"] and item["rule"], item
        assert not REGEX.search(item["message"]), item["message"]
    return list(body["detail"])


def by_field(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["field"]: i for i in items}


# ------------------------------------------------------------------ the same bad request, two languages
SAID = {  # what each language says of the same bad body
    "zh": {"reason": ("原因", "原因：至少填写 1 个字符"), "days": "天数：须大于 0",
           "kind": "类型：须为以下之一：medical_certificate、local_extra_leave", "approved": "approved："},
    "en": {"reason": ("reason", "reason: must have at least 1 character"), "days": "days: must be greater than 0",
           "kind": "kind: must be one of: medical_certificate, local_extra_leave", "approved": "approved: "},
}


@pytest.mark.parametrize("how", ["default", "header", "query", "cookie"])
async def test_a_bad_body_is_answered_in_the_language_she_reads(api: httpx.AsyncClient, how: str) -> None:
    """Chinese unless she asks for English: by Accept-Language, ``?lang=en``, or the page's cookie."""
    url, headers, lang = EXTENSION, dict(HR), "zh" if how == "default" else "en"
    if how == "header":
        headers |= EN
    elif how == "query":
        url += "?lang=en"
    elif how == "cookie":
        api.cookies.update({i18n.COOKIE: "en"})
    r = await api.post(url, json=BAD_EXTENSION, headers=headers)
    assert r.status_code == 422, r.text
    items, said = by_field(assert_items_named(r.json())), SAID[lang]
    assert items["reason"] == {"field": "reason", "rule": "string_too_short", "label": said["reason"][0],
                               "message": said["reason"][1]}
    assert items["days"]["message"] == said["days"]
    assert items["kind"]["message"] == said["kind"]
    assert items["approved"]["rule"] == "extra_forbidden" and items["approved"]["message"].startswith(said["approved"])
    assert all(bool(CJK.search(i["message"])) == (lang == "zh") for i in items.values())


async def test_nested_fields_patterns_and_limits_are_said_in_words(api: httpx.AsyncClient) -> None:
    for headers, expected in ((HR, {
        "handover.0.title": ("交接事项第 1 项的事项名称", "交接事项第 1 项的事项名称：至少填写 1 个字符"),
        "employee_id": ("员工编号", "员工编号：须为 1 至 32 位字母、数字、“_”或“-”（如 E1001）"),
        "monthly_wage": ("月工资", "月工资：小数点后最多 2 位"),
    }), (HR | EN, {
        "handover.0.title": ("title of handover #1", "title of handover #1: must have at least 1 character"),
        "employee_id": ("employee number", "employee number: must be 1 to 32 letters, digits, _ or - (e.g. E1001)"),
        "monthly_wage": ("monthly wage", "monthly wage: must have at most 2 decimal places"),
    })):
        r = await api.post("/offboardings", json=OFFBOARDING, headers=headers)
        assert r.status_code == 422, r.text
        items = by_field(assert_items_named(r.json()))
        assert {f: (items[f]["label"], items[f]["message"]) for f in expected} == expected


async def test_the_body_as_a_whole_and_a_query_parameter_are_named(api: httpx.AsyncClient) -> None:
    r = await api.post("/transfers", content=b'{"employee_id": ', headers=HR | {"content-type": "application/json"})
    [item] = assert_items_named(r.json())
    assert (item["field"], item["rule"], item["label"]) == ("body", "json_invalid", "请求内容")
    assert item["message"].startswith("请求内容：不是有效的 JSON")
    r = await api.post("/transfers", json=["not", "an", "object"], headers=HR | EN)
    [item] = assert_items_named(r.json())
    assert (item["field"], item["label"]) == ("body", "request body") and item["message"].startswith("request body: must")
    r = await api.get("/inbox", params={"limit": "lots"}, headers=HR)
    [item] = assert_items_named(r.json())
    assert item == {"field": "query.limit", "rule": "int_parsing", "label": "每页条数", "message": "每页条数：须为整数"}


async def test_a_refusal_a_route_writes_in_both_languages_is_answered_in_one(api: httpx.AsyncClient) -> None:
    body = {"employee_id": "E1001", "expected_delivery_date": "0001-01-01", "company_pays_salary": True}
    zh = by_field(assert_items_named((await api.post("/maternity-leaves", json=body, headers=HR)).json()))
    en = by_field(assert_items_named((await api.post("/maternity-leaves", json=body, headers=HR | EN)).json()))
    assert zh["expected_delivery_date"]["message"] == "预产期：日期 0001-01-01 须在 1900 年至 2100 年之间"
    assert en["expected_delivery_date"]["message"] == \
        "expected delivery date: the date 0001-01-01 must lie in the years 1900 to 2100"


# ------------------------------------------------------------------ each of pydantic's rules
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    needed: str
    short: Annotated[str, Field(min_length=2)] = "ok"
    long: Annotated[str, Field(max_length=3)] = "ok"
    sign: Annotated[str, Field(pattern=r"^[a-z]{2}\d$")] = "ab1"
    month: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")] = "2026-11"
    text: str = "ok"
    count: int = 1
    amount: Annotated[Decimal, Field(max_digits=5, decimal_places=2)] = Decimal("1.00")
    over: Annotated[int, Field(gt=0)] = 1
    at_least: Annotated[int, Field(ge=1)] = 1
    under: Annotated[int, Field(lt=10)] = 1
    at_most: Annotated[int, Field(le=10)] = 1
    day: dt.date = dt.date(2026, 1, 1)
    strict_day: Annotated[dt.date, Field(strict=True)] = dt.date(2026, 1, 1)
    role: Role = Role.HR_MANAGER
    lang: Literal["zh", "en"] = "zh"
    flag: bool = False
    items: Annotated[list[int], Field(min_length=1, max_length=2)] = [1]
    plausible: PlausibleDate = dt.date(2026, 1, 1)
    checked: str = "ok"

    @field_validator("checked")
    @classmethod
    def _checked(cls, value: str) -> str:
        if value == "bad":
            raise ValueError("填写的核对项不对 (the check is wrong)")
        return value


RULES = {  # rule: (field, value)
    "missing": ("needed", None), "extra_forbidden": ("unknown", 1), "string_too_short": ("short", "a"),
    "string_too_long": ("long", "abcd"), "string_pattern_mismatch": ("sign", "A1"), "string_type": ("text", 5),
    "int_parsing": ("count", "many"), "int_type": ("count", [1]), "decimal_parsing": ("amount", "much"),
    "decimal_max_places": ("amount", "1.234"), "decimal_max_digits": ("amount", "12345.6"), "greater_than": ("over", 0),
    "greater_than_equal": ("at_least", 0), "less_than": ("under", 10), "less_than_equal": ("at_most", 11),
    "date_parsing": ("strict_day", "2026-02-30"), "date_from_datetime_parsing": ("day", "soon"),
    "enum": ("role", "root"), "literal_error": ("lang", "fr"), "bool_parsing": ("flag", "perhaps"),
    "list_type": ("items", 1), "too_short": ("items", []), "too_long": ("items", [1, 2, 3]),
    "value_error": ("checked", "bad"), "date_in_range": ("plausible", "0001-01-01"),
}


def _items(rule: str, lang: i18n.Language) -> list[dict[str, Any]]:
    field, value = RULES[rule]
    data: dict[str, Any] = {"needed": "x"} | ({} if value is None else {field: value})
    if value is None:
        data.pop(field)
    try:
        Strict.model_validate_json(json.dumps(data))
    except ValidationError as exc:
        found = [i for i in errors.validation_items(RequestValidationError(exc.errors()), lang) if i["rule"] == rule]
        assert found, (rule, exc.errors())
        return found
    raise AssertionError(f"{rule}: {data} was accepted")


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_is_said_in_both_languages_naming_field_and_limit(rule: str) -> None:
    [zh], [en] = _items(rule, "zh"), _items(rule, "en")
    assert (zh["field"], zh["rule"]) == (en["field"], en["rule"]) == (RULES[rule][0], rule)
    assert zh["message"].startswith(f"{zh['label']}：") and en["message"].startswith(f"{en['label']}: ")
    assert CJK.search(zh["message"]) and not CJK.search(en["message"]), (zh, en)
    generic = ("填写的内容不符合规则", "is not valid")
    assert not zh["message"].endswith(generic[0]) and not en["message"].endswith(generic[1]), (zh, en)
    assert not REGEX.search(zh["message"]) and not REGEX.search(en["message"]), (zh, en)


def test_limits_and_choices_are_in_the_sentence() -> None:
    said = {rule: (_items(rule, "zh")[0]["message"], _items(rule, "en")[0]["message"])
            for rule in ("string_too_short", "too_long", "less_than_equal", "decimal_max_digits", "enum",
                         "string_pattern_mismatch", "value_error", "literal_error")}
    assert said["string_too_short"] == ("short：至少填写 2 个字符", "short: must have at least 2 characters")
    assert said["too_long"] == ("条目：最多填写 2 项", "items: must have at most 2 items")
    assert said["less_than_equal"] == ("at most：不能大于 10", "at most: must be at most 10")
    assert said["decimal_max_digits"] == ("金额：最多 5 位数字", "amount: must have at most 5 digits in all")
    assert said["literal_error"] == ("语言：须为以下之一：zh、en", "language: must be one of: zh, en")
    assert said["enum"][0].startswith("角色：须为以下之一：employee、hr_specialist、") and "hr_manager" in said["enum"][1]
    assert said["string_pattern_mismatch"] == ("sign：格式不正确", "sign: is not in the expected format")
    assert said["value_error"] == ("checked：填写的核对项不对", "checked: the check is wrong")


def test_a_month_off_its_pattern_is_told_its_format() -> None:
    [zh], [en] = (errors.validation_items(RequestValidationError(_raw("month", "Nov")), lang) for lang in ("zh", "en"))
    assert zh["message"] == "月份：须为 写作 YYYY-MM 的月份（如 2026-11）"
    assert en["message"] == "month: must be a month written YYYY-MM (e.g. 2026-11)"


def _raw(field: str, value: Any) -> list[Any]:
    try:
        Strict.model_validate({"needed": "x", field: value})
    except ValidationError as exc:
        return list(exc.errors())
    raise AssertionError("accepted")


# ------------------------------------------------------------------ refusals and other answers
def _raising(error: ApiError) -> Any:
    async def endpoint() -> None:
        raise error
    return endpoint


def _app(*errors_raised: ApiError) -> FastAPI:
    """An app that answers ``GET /e{n}`` with the n-th error, as the API's handlers answer it."""
    app = FastAPI()
    errors.install(app)
    for number, error in enumerate(errors_raised):
        app.add_api_route(f"/e{number}", _raising(error))
    return app


async def _answers(app: FastAPI, path: str) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hrflow.test") as client:
        return (await client.get(path), await client.get(path, headers=EN), await client.get(path + "?lang=en"))


WRONG_STAGE = kernel.refuse(Refusal.WRONG_STAGE, "案件当前处于“approved”阶段，不能办理此操作 (the case is approved)",
                            stage="approved")
SELF_APPROVAL = kernel.refuse(Refusal.SELF_APPROVAL, "两次审批须由两个不同的人作出 (the two approvals must come from"
                                                     " two people)")


@pytest.mark.parametrize("refused,status,zh,en", [
    (WRONG_STAGE, 409, {"title": "案件当前阶段不能办理此操作", "message": "案件当前处于“approved”阶段，不能办理此操作",
                        "stage": "approved"},
     {"title": "not possible at this stage of the case", "message": "the case is approved", "stage": "approved"}),
    (SELF_APPROVAL, 403, {"title": "不能审批自己提交或涉及自己的事项", "message": "两次审批须由两个不同的人作出"},
     {"title": "no one approves what they submitted or what concerns them",
      "message": "the two approvals must come from two people"}),
])
async def test_a_workflow_refusal_is_answered_in_her_language(refused: ApplicationError, status: int,
                                                              zh: dict[str, str], en: dict[str, str]) -> None:
    answer = refusal_to_http(refused)
    chinese, english, asked = await _answers(_app(answer), "/e0")
    assert chinese.status_code == english.status_code == status
    assert chinese.json() == {"error": answer.error, "detail": zh}
    assert english.json() == asked.json() == {"error": answer.error, "detail": en}
    assert answer.body("en") == english.json()  # what a page that caught it shows


async def test_a_validation_refusal_and_an_unknown_one_in_both_languages() -> None:
    item = {"field": "months", "rule": "non_compete_max_months", "max": 24,
            "message": "竞业限制期限最长 24 个月（《劳动合同法》第二十四条），申请的是 30 个月"
                       " (a non-compete lasts at most 24 months (LCL art. 24); asked 30)"}
    app = _app(refusal_to_http(ApplicationError(item["message"], item, type="ValidationFailed")),
               refusal_to_http(ApplicationError("no rule for this yet", type="SomethingNew")),
               refusal_to_http(ApplicationError("驳回须说明原因 (a rejection needs a reason)", type="ValidationFailed")))
    chinese, english, _ = await _answers(app, "/e0")
    assert chinese.json()["detail"] == [{"field": "months", "rule": "non_compete_max_months", "label": "月份",
                                         "message": "竞业限制期限最长 24 个月（《劳动合同法》第二十四条），申请的是 30 个月",
                                         "max": 24}]
    assert english.json()["detail"][0]["message"] == "a non-compete lasts at most 24 months (LCL art. 24); asked 30"
    chinese, english, _ = await _answers(app, "/e1")
    assert chinese.json()["detail"] == {"message": "此操作未被受理 (no rule for this yet)"}
    assert english.json()["detail"] == {"message": "no rule for this yet"}
    chinese, english, _ = await _answers(app, "/e2")
    assert chinese.json()["detail"] == [{"field": "body", "rule": "validation_failed", "label": "请求内容",
                                         "message": "驳回须说明原因"}]
    assert english.json()["detail"][0]["message"] == "a rejection needs a reason"


async def test_unknown_addresses_methods_and_a_pending_case_in_both_languages(api: httpx.AsyncClient) -> None:
    for path, method, zh, en in (("/nowhere", "GET", "找不到此地址", "no such address"),
                                 ("/inbox", "DELETE", "此地址不接受这种请求方式", "this address does not take this method")):
        assert (await api.request(method, path, headers=HR)).json()["detail"] == zh
        assert (await api.request(method, path, headers=HR | EN)).json()["detail"] == en
    chinese, english, _ = await _answers(_app(ApiError(503, "pending", {"message": PENDING, "workflow_id": "w"})), "/e0")
    assert chinese.json()["detail"] == {"message": PENDING.zh, "workflow_id": "w"}
    assert english.json()["detail"]["message"].startswith("the case did not answer in time")


async def test_a_text_only_one_language_has_follows_a_summary_in_the_other(api: httpx.AsyncClient) -> None:
    r = await api.get("/inbox", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.json()["detail"].startswith("请先登录")
    r = await api.get("/inbox", headers={"Authorization": "Bearer not-a-token"} | EN)
    assert r.status_code == 401 and not CJK.search(r.json()["detail"])


# ------------------------------------------------------------------ the texts themselves
def test_a_bilingual_text_splits_exactly() -> None:
    assert bilingual("文字中不能含有 NUL 字符（U+0000） (text may not contain the NUL character (U+0000))") == Text(
        "文字中不能含有 NUL 字符（U+0000）", "text may not contain the NUL character (U+0000)")
    both = bilingual("依据第四十条第三项 (U+0000) (Labour Contract Law art. 40(3): see (a) and (b))")
    assert both is not None and (both.zh, both.en) == ("依据第四十条第三项 (U+0000)",
                                                       "Labour Contract Law art. 40(3): see (a) and (b)")
    for one_language in ("text may not contain the NUL character (U+0000)", "文字中不能含有 NUL 字符 (U+0000)",
                         "the leave (approved)", "no parentheses at all", "unbalanced (English) )", ""):
        assert bilingual(one_language) is None and say(one_language, "zh") == one_language


def test_a_text_reads_as_both_languages_wherever_a_string_goes() -> None:
    text = Text("驳回须说明原因", "a rejection needs a reason")
    assert text == "驳回须说明原因 (a rejection needs a reason)" and json.dumps(text, ensure_ascii=False) == \
        '"驳回须说明原因 (a rejection needs a reason)"'
    copied = pickle.loads(pickle.dumps(text))
    assert (copied.zh, copied.en, say(copied, "en")) == (text.zh, text.en, text.en)
    assert errors.too_large(1_000_000).said("en") == "request body over 1000000 bytes"  # as api.body_limit says it
    assert Refusal.WRONG_STAGE.title_in("en") == "not possible at this stage of the case"
    assert Refusal.WRONG_STAGE.title_in("zh") == say(Refusal.WRONG_STAGE.title, "zh")


WORKFLOWS = ["maternity", "offboarding", "transfer", "non_compete", "kernel", "case_ops"]


def _written(node: ast.expr) -> str | None:
    """A literal or f-string message with its placeholders as ``{x}``; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "{x}" for v in node.values)
    return None


@pytest.mark.parametrize("module", WORKFLOWS)
def test_every_refusal_a_workflow_raises_is_written_in_both_languages(module: str) -> None:
    tree = ast.parse((ROOT / "workflows" / f"{module}.py").read_text())
    messages = [node.args[1] for node in ast.walk(tree) if isinstance(node, ast.Call)
                and ast.unparse(node.func) == "kernel.refuse" and len(node.args) > 1]
    one_language = [ast.unparse(m) for m in messages if (w := _written(m)) is None or bilingual(w) is None]
    assert one_language == []


def test_every_field_a_request_names_has_a_label() -> None:
    """A new field of a request model needs its words in api/field_labels.yaml (zh and en)."""
    spec = create_app(SETTINGS).openapi()
    schemas, names, todo, seen = spec["components"]["schemas"], set(), [], set()
    for operation in (op for ops in spec["paths"].values() for op in ops.values()):
        names |= {p["name"] for p in operation.get("parameters", ())}
        todo += re.findall(r"#/components/schemas/([\w.-]+)", json.dumps(operation.get("requestBody", {})))
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            names |= set(schemas[name].get("properties", {}))
            todo += re.findall(r"#/components/schemas/([\w.-]+)", json.dumps(schemas[name]))
    assert sorted(n for n in names if not i18n.has_label(n)) == []
