"""One error shape for every failure: ``{"error": code, "detail": ...}``, never a traceback, and
every word of it in the caller's language (``api.i18n.language``: ``?lang=``, cookie, header).

422 lists each failed field: its dotted path (``field``; ``body`` for the body as a whole,
``query.limit`` for a parameter), the rule it broke (``rule``: pydantic's type or a rule of ours),
the field in words (``label``) and a sentence a clerk understands, naming the field and the rule
with its limit (``message``: "原因：至少填写 1 个字符", "reason: must have at least 1 character";
never a regular expression). Outages of PostgreSQL or Temporal are 503 with ``Retry-After``: the
caller's request was not applied and may be sent again with the same request id.

Code writes a text once in both languages, as an ``i18n.Text`` or as "中文 (English)"; the answer
carries the caller's half. A text only one language has (English from a library, say) is answered
as it is, after a summary in the caller's language when it is in the other one.
"""

from __future__ import annotations

import http
import logging
import re
from typing import Any, get_args

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ErrorType
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from api.i18n import DEFAULT, Language, Text, bilingual, chinese, field_format, label, language
from db.sealed_fields import SealingUnavailable
from db.session import database_busy, database_unreachable

log = logging.getLogger("hrflow.api")


class ErrorBody(BaseModel):
    error: str
    detail: Any = None


class ApiError(Exception):
    """Raise from endpoints: ``ApiError(409, "stale_confirmation", {...})``. The texts it carries (a
    string ``detail``, a detail's ``message`` or ``title``, each 422 item's ``message``) are written
    in both languages; the exception handler, which knows the request, answers the caller's half."""

    def __init__(
        self, status_code: int, error: str, detail: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(error)
        self.status_code, self.error, self.detail, self.headers = status_code, error, detail, headers

    def body(self, lang: Language) -> dict[str, Any]:
        """The answer's body in ``lang``: what a page that caught the error shows of it."""
        return _body(self.error, localized(self.status_code, self.error, self.detail, lang))


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the error codes an endpoint may return."""
    return {code: {"model": ErrorBody} for code in codes}


def _body(error: str, detail: Any) -> dict[str, Any]:
    return {"error": error, "detail": detail}


# ------------------------------------------------------------------ texts of the answers
# A database or Temporal away, or a bounded wait ran out: nothing of the request was written, and
# the same request (same X-Request-ID) may be sent again.
BUSY = Text("系统繁忙，本次操作未执行，请稍后重试", "the database is busy: nothing was changed; retry shortly")
DATABASE_UNAVAILABLE = Text("数据库暂时无法连接，本次操作未执行，请稍后重试", "the database is not reachable; retry shortly")
TEMPORAL_UNAVAILABLE = Text("流程服务暂时无法连接，本次操作未执行，请稍后重试",
                            "the workflow service is not reachable; retry shortly")

def too_large(limit: int) -> Text:
    """What a body over ``limit`` bytes is answered (``api.body_limit`` answers before any handler:
    ``too_large(limit).said(language(HTTPConnection(scope)))``)."""
    return Text(f"请求内容超过 {limit} 字节的上限", f"request body over {limit} bytes")


# What an answer is about, said before a text only the other language has; by code, then status.
_SUMMARIES: dict[str | int, Text] = {
    "unauthenticated": Text("请先登录", "sign in first"),
    "forbidden": Text("您无权办理此操作", "you may not do this"),
    "not_found": Text("找不到要办理的事项", "no such item"),
    "temporal_unavailable": TEMPORAL_UNAVAILABLE,
    "refused": Text("此操作未被受理", "the request was refused"),
    400: Text("请求有误", "the request is malformed"),
    401: Text("请先登录", "sign in first"),
    403: Text("您无权办理此操作", "you may not do this"),
    404: Text("找不到要办理的事项", "no such item"),
    405: Text("此地址不接受这种请求方式", "this address does not take this method"),
    409: Text("与事项的当前状态冲突，未执行", "conflicts with the current state; nothing was done"),
    413: Text("提交的内容过大", "what was sent is too large"),
    415: Text("不支持的文件类型", "the file type is not supported"),
    422: Text("填写的内容不符合规则", "what was entered breaks a rule"),
    500: Text("系统内部错误", "internal error"),
    502: Text("流程服务出错", "the workflow service failed"),
    503: Text("服务暂时不可用，请稍后重试", "the service is unavailable; retry shortly"),
}
# Starlette's own words for a route or method that does not exist.
_PHRASES = {404: Text("找不到此地址", "no such address"), 405: _SUMMARIES[405]}
_TEXT_KEYS = ("title", "message")


def _summary(error: str, status: int) -> Text:
    return _SUMMARIES.get(error) or _SUMMARIES.get(status) or _SUMMARIES[500 if status >= 500 else 400]


def _said(text: str, lang: Language, summary: Text | None) -> str:
    """``text`` in ``lang``: its half, or the text as it is after ``summary`` when it is the other language's."""
    both = bilingual(text)
    if both is not None:
        return both.said(lang)
    if summary is None or chinese(text) == (lang == "zh"):
        return text
    return f"{summary.said(lang)} ({text})"


def _nested(value: Any, lang: Language) -> Any:
    """Inside a detail only texts written in both languages change: data stays as it is."""
    if isinstance(value, str):
        return _said(value, lang, None)
    if isinstance(value, dict):
        return {k: _nested(v, lang) for k, v in value.items()}
    if isinstance(value, list):
        return [_nested(v, lang) for v in value]
    return value


def localized(status: int, error: str, detail: Any, lang: Language) -> Any:
    """An error's ``detail`` in ``lang``: a string, a dict's title and message, each listed problem."""
    summary = _summary(error, status)
    if isinstance(detail, str):
        return _said(detail, lang, summary)
    if isinstance(detail, list):
        return [problem_item(i, lang, error) if isinstance(i, dict) and (status == 422 or "field" in i or "rule" in i)
                else _nested(i, lang) for i in detail]
    if isinstance(detail, dict):
        if "field" in detail:
            return problem_item(detail, lang, error)
        titled = isinstance(detail.get("title"), str)
        return {k: _said(v, lang, None if k == "message" and titled else summary)
                if k in _TEXT_KEYS and isinstance(v, str) else _nested(v, lang) for k, v in detail.items()}
    return _nested(detail, lang)


def problem_item(item: dict[str, Any], lang: Language, error: str = "validation_failed") -> dict[str, Any]:
    """One refused field as every 422 lists it: ``field`` (never empty), ``rule``, ``label`` and
    ``message`` in ``lang``, then whatever else the item carries."""
    field = str(item.get("field") or "body")
    rule = str(item.get("rule") or error)
    message = item.get("message")
    out = {"field": field, "rule": rule, "label": label(field, lang),
           # a sentence only the other language has follows what its rule says (its specifics are in it)
           "message": _said(message, lang, _RULES.get(rule, _GENERIC)) if isinstance(message, str)
           else f"{label(field, lang)}{_COLON[lang]}{_format(_RULES.get(rule, _GENERIC).said(lang), item)}"}
    out.update({k: _nested(v, lang) for k, v in item.items() if k not in out})
    return out


# ------------------------------------------------------------------ 422 of pydantic's validation
_COLON: dict[Language, str] = {"zh": "：", "en": ": "}
_DATE = Text("须为日期，写作 YYYY-MM-DD，如 2026-11-02", "must be a date written YYYY-MM-DD, e.g. 2026-11-02")
_DATETIME = Text("须为日期和时间，如 2026-11-02T09:30:00+08:00", "must be a date and time, e.g. 2026-11-02T09:30:00+08:00")
_INTEGER = Text("须为整数", "must be a whole number")
_NUMBER = Text("须为数字，如 1234.56", "must be a number, e.g. 1234.56")
_TRUE_FALSE = Text("须为 true 或 false", "must be true or false")
_OBJECT = Text("须为 JSON 对象（以大括号括起的字段）", "must be a JSON object (fields in braces)")
_GENERIC = Text("填写的内容不符合规则", "is not valid")
# What each rule says, after the field's name; ``{name}`` is the rule's limit, ``{name:unit}`` the
# limit with its English unit counted ("1 character", "2 characters").
_RULES: dict[str, Text] = {
    "missing": Text("必须填写", "is required"),
    "extra_forbidden": Text("不是此请求可填写的项目", "is not a field this request takes"),
    "string_too_short": Text("至少填写 {min_length} 个字符", "must have at least {min_length:character}"),
    "string_too_long": Text("最多填写 {max_length} 个字符", "must have at most {max_length:character}"),
    "string_type": Text("须为文字", "must be text"),
    "string_sub_type": Text("须为文字", "must be text"),
    "string_unicode": Text("须为文字", "must be text"),
    "int_parsing": _INTEGER, "int_type": _INTEGER, "int_from_float": _INTEGER,
    "int_parsing_size": Text("数值过大", "is too large a number"),
    "float_parsing": _NUMBER, "float_type": _NUMBER, "decimal_parsing": _NUMBER, "decimal_type": _NUMBER,
    "finite_number": Text("须为有限的数值", "must be a finite number"),
    "decimal_max_places": Text("小数点后最多 {decimal_places} 位",
                               "must have at most {decimal_places:decimal place}"),
    "decimal_max_digits": Text("最多 {max_digits} 位数字", "must have at most {max_digits:digit} in all"),
    "decimal_whole_digits": Text("整数部分最多 {whole_digits} 位", "must have at most {whole_digits:digit}"
                                                              " before the decimal point"),
    "greater_than": Text("须大于 {gt}", "must be greater than {gt}"),
    "greater_than_equal": Text("不能小于 {ge}", "must be at least {ge}"),
    "less_than": Text("须小于 {lt}", "must be less than {lt}"),
    "less_than_equal": Text("不能大于 {le}", "must be at most {le}"),
    "multiple_of": Text("须为 {multiple_of} 的倍数", "must be a multiple of {multiple_of}"),
    "date_parsing": _DATE, "date_type": _DATE, "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": Text("须为日期（不带时间），写作 YYYY-MM-DD", "must be a date without a time, YYYY-MM-DD"),
    "datetime_parsing": _DATETIME, "datetime_type": _DATETIME, "datetime_from_date_parsing": _DATETIME,
    "bool_parsing": _TRUE_FALSE, "bool_type": _TRUE_FALSE,
    "list_type": Text("须为列表", "must be a list"),
    "too_short": Text("至少填写 {min_length} 项", "must have at least {min_length:item}"),
    "too_long": Text("最多填写 {max_length} 项", "must have at most {max_length:item}"),
    "json_invalid": Text("不是有效的 JSON", "is not valid JSON"),
    "json_type": Text("须为 JSON 文本", "must be JSON text"),
    "dict_type": _OBJECT, "model_type": _OBJECT, "model_attributes_type": _OBJECT,
    "none_required": Text("须留空", "must be empty"),
    "url_parsing": Text("须为网址，如 https://example.com", "must be an address such as https://example.com"),
    "uuid_parsing": Text("须为 UUID", "must be a UUID"),
    # Rules of ours whose own message some route or domain module writes in one language only.
    "no_nul_character": Text("文字中不能含有 NUL 字符（U+0000）", "text may not contain the NUL character (U+0000)"),
    "employee_exists": Text("找不到该员工", "no such employee"),
    "email_format": Text("须为邮箱地址，如 name@example.com", "must look like name@example.com"),
    "visible_characters": Text("不能含有不可见或改变书写方向的字符（如零宽字符、从右向左覆盖符），请重新输入姓名",
                               "may not hold invisible or direction-changing characters (zero-width, right-to-left"
                               " override); type the name again"),
    "mobile_format": Text("须为中国大陆手机号：11 位数字，以 1 开头，如 13812345678",
                          "must be a mainland mobile number: 11 digits starting with 1, e.g. 13812345678"),
    "probation_before_hire": Text("试用期结束日期早于入职日期", "the end of probation is before the hire date"),
    "resident_id_format": Text("须为 17 位数字加 1 位数字或 X（共 18 位）",
                               "must be 17 digits followed by a digit or X (18 characters)"),
    "resident_id_region": Text("前两位不是省级行政区代码", "does not begin with a province code"),
    "resident_id_birth_date": Text("其中的出生日期无效", "holds no valid birth date"),
    "resident_id_check_digit": Text("校验位不正确，请核对号码", "has the wrong check digit; check the number"),
    "record_kind_known": Text("不是可登记的记录类型", "is not a kind of record that is kept"),
    "staff_role": Text("人员名录只登记工作人员的角色，不登记员工", "the directory holds staff roles, not employee"),
    "within_term": Text("已支付月数超过约定期限", "more months paid than the term has"),
    "known_material": Text("不是本次转移所需的材料", "is not a material of this transfer"),
    "period_order": Text("起始日期晚于截止日期", "the start is after the end"),
    "month_format": Text("月份须写作 YYYY-MM，如 2026-11", "a month is written YYYY-MM, e.g. 2026-11"),
    "month_not_future": Text("该月份尚未开始", "the month has not begun"),
    "temporal_payload": Text("不是有效的工作流载荷", "are not valid workflow payloads"),
    "unsupported_type": Text("不是可接受的文件类型（PDF、JPEG 或 PNG）", "is not an accepted type (PDF, JPEG or PNG)"),
    "extension_mismatch": Text("文件名的扩展名与文件内容不符", "the name's extension does not match the content"),
    "image_pixels": Text("图片的像素过多", "the image has too many pixels"),
    "empty_file": Text("文件是空的", "the file is empty"),
    "filename_missing": Text("缺少文件名", "the file has no name"),
    "filename_path": Text("请只写文件名，不要带路径", "send a plain file name, not a path"),
    "filename_length": Text("文件名过长", "the file name is too long"),
    "filename_characters": Text("文件名含有不允许的字符", "the file name holds characters that are not allowed"),
    "contribution_rates_known": Text("政策目录中没有该城市的缴费比例，无法计算每月垫付金额",
                                     "the catalogue holds no contribution rates for the city; the monthly"
                                     " advance cannot be computed"),
}
_PYDANTIC_TYPES = frozenset(get_args(ErrorType))
# The context key under which our validators' Chinese rides beside pydantic's (English) message.
ZH_MESSAGE = "zh_message"
_UNION_TAG = re.compile(r".*\[.*\]$")  # "function-after[_date_in_years(), date]": a union member, no field
_CHOICES = re.compile(r"\^\(?((?:[\w-]+\|)*[\w-]+)\)?\$")
_PLACEHOLDER = re.compile(r"\{(\w+)(?::([a-z ]+))?\}")


def field_error(rule: str, zh: str, en: str, **ctx: Any) -> PydanticCustomError:
    """A validator's refusal in both languages: ``rule`` is the item's ``rule``, ``zh`` and ``en`` the
    message (``{name}`` filled from ``ctx``), answered in the caller's language with the field's name."""
    return PydanticCustomError(rule, en, {**ctx, ZH_MESSAGE: zh})


def _format(template: str, ctx: dict[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        name, unit = match[1], match[2]
        if name not in ctx:
            return match[0]
        value = ctx[name]
        return f"{value} {unit}{'' if value == 1 else 's'}" if unit else str(value)

    return _PLACEHOLDER.sub(fill, template)


def _choices(options: list[str], lang: Language) -> str:
    if len(options) == 1:
        return f"须为 {options[0]}" if lang == "zh" else f"must be {options[0]}"
    return f"须为以下之一：{'、'.join(options)}" if lang == "zh" else f"must be one of: {', '.join(options)}"


def _rule_message(err: dict[str, Any], rule: str, field: str, lang: Language) -> str:
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    msg = str(err.get("msg", ""))
    if isinstance(ctx.get(ZH_MESSAGE), str):
        return _format(ctx[ZH_MESSAGE], ctx) if lang == "zh" else msg
    if rule in ("value_error", "assertion_error"):
        cause = ctx.get("error")
        text = str(cause) if cause is not None else msg.removeprefix("Value error, ")
        return _said(text, lang, _GENERIC)
    if rule == "string_pattern_mismatch":
        choices = _CHOICES.fullmatch(str(ctx.get("pattern", "")))
        if choices is not None:
            return _choices(choices[1].split("|"), lang)
        written = field_format(field, lang)
        if written is not None:
            return f"须为 {written}" if lang == "zh" else f"must be {written}"
        return "格式不正确" if lang == "zh" else "is not in the expected format"
    if rule in ("enum", "literal_error"):
        expected = str(ctx.get("expected", ""))
        options = re.findall(r"'([^']*)'", expected) or re.split(r", | or ", expected)
        return _choices(options, lang)
    known = _RULES.get(rule)
    if known is not None:
        return _format(known.said(lang), ctx)
    if rule in _PYDANTIC_TYPES:
        return _GENERIC.said(lang)
    return _said(msg, lang, _GENERIC)  # a validator's own rule


def validation_items(exc: RequestValidationError, lang: Language = DEFAULT) -> list[dict[str, Any]]:
    """The 422 items of FastAPI's validation, in ``lang``."""
    items = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        rule = str(err.get("type") or "value_error")
        if loc[:1] == ["body"]:
            loc = loc[1:]
        where = ""
        if rule == "json_invalid":  # its place is a character position, not a field
            if loc:
                where = f"（第 {loc[0]} 个字符附近）" if lang == "zh" else f" (near character {loc[0]})"
            loc = []
        field = ".".join(str(p) for p in loc if not _UNION_TAG.match(str(p))) or "body"
        name = label(field, lang)
        message = f"{name}{_COLON[lang]}{_rule_message(err, rule, field, lang)}{where}"
        items.append({"field": field, "rule": rule, "label": name, "message": message})
    return items


_UNAVAILABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(language(request)), exc.status_code, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                 409: "conflict", 413: "too_large"}
        error = names.get(exc.status_code, "http_error")
        detail: Any = exc.detail
        if exc.status_code in _PHRASES and detail == http.HTTPStatus(exc.status_code).phrase:
            detail = _PHRASES[exc.status_code]
        return JSONResponse(
            _body(error, localized(exc.status_code, error, detail, language(request))),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_body("validation_failed", validation_items(exc, language(request))), 422)

    @app.exception_handler(RPCError)
    async def _temporal(request: Request, exc: RPCError) -> JSONResponse:
        if exc.status in _UNAVAILABLE:
            return JSONResponse(
                _body("temporal_unavailable", TEMPORAL_UNAVAILABLE.said(language(request))),
                503,
                headers={"Retry-After": "5"},
            )
        log.error("Temporal call failed (request %s): %s", _rid(request), exc)
        return JSONResponse(_body("temporal_error", exc.message), 502)

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if database_unreachable(exc):
            return JSONResponse(
                _body("database_unavailable", DATABASE_UNAVAILABLE.said(language(request))),
                503,
                headers={"Retry-After": "5"},
            )
        if database_busy(exc):
            log.warning("database busy (request %s): %s", _rid(request), str(getattr(exc, "orig", exc)).strip())
            return JSONResponse(_body("database_busy", BUSY.said(language(request))), 503, headers={"Retry-After": "2"})
        log.exception("database error (request %s)", _rid(request))
        return JSONResponse(_body("internal_error", {"request_id": _rid(request)}), 500)

    @app.exception_handler(SealingUnavailable)
    async def _unsealable(request: Request, exc: SealingUnavailable) -> JSONResponse:
        log.error("resident ID numbers cannot be sealed here (request %s): %s", _rid(request), exc)
        return JSONResponse(_body("not_configured", "身份证号无法加密保存：服务未配置 HRFLOW_BLIND_INDEX_KEY 或个人密钥"
                                  " (ID numbers cannot be stored sealed: the service lacks HRFLOW_BLIND_INDEX_KEY"
                                  " or its person keyring)"), 503)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error (request %s)", _rid(request))
        return JSONResponse(_body("internal_error", {"request_id": _rid(request)}), 500)


def _rid(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)
