"""Alibaba Cloud SMS (dysmsapi ``SendSms``) as hrflow meets it, on a local port.

It checks what the service checks, with its documented error codes: the AccessKey
(``InvalidAccessKeyId.NotFound``), the signature version 1.0 (``SignatureDoesNotMatch``; its own
implementation here), a timestamp within 15 minutes (``InvalidTimeStamp.Expired``), a nonce used
once (``SignatureNonceUsed``), the approved signature and template (``isv.SMS_SIGNATURE_ILLEGAL``,
``isv.SMS_TEMPLATE_ILLEGAL``), a mainland mobile (``isv.MOBILE_NUMBER_ILLEGAL``), a variable of
at most 35 characters (``isv.PARAM_LENGTH_LIMIT``) and one text a minute per number
(``isv.BUSINESS_LIMIT_CONTROL``). ``outage`` answers 503; ``sent`` keeps what went out.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

MOBILE = re.compile(r"^1[3-9]\d{9}$")


@dataclass
class SimulatedAliyunSms:
    access_key_id: str = "LTAI5tTestKeyId0001"
    access_key_secret: str = "test-access-key-secret-0123456789"
    sign_name: str = "示例集团"
    template_code: str = "SMS_465300001"
    per_minute: int | None = 1
    outage: bool = False
    sent: list[dict[str, Any]] = field(default_factory=list)
    _nonces: set[str] = field(default_factory=set)
    _last: dict[str, float] = field(default_factory=dict)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/")
        async def send_sms(request: Request) -> Response:
            if self.outage:
                return Response("service unavailable", status_code=503)
            params = dict(request.query_params)
            given = params.pop("Signature", "")
            if params.get("AccessKeyId") != self.access_key_id:
                return _refuse("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
            if not hmac.compare_digest(given, self._signature(params)):
                return _refuse("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.", 400)
            try:
                stamp = dt.datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
            except ValueError:
                return _refuse("InvalidTimeStamp.Format", "Specified time stamp does not match the format.", 400)
            if abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) > 900:
                return _refuse("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", 400)
            if params.get("SignatureNonce", "") in self._nonces:
                return _refuse("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
            self._nonces.add(params.get("SignatureNonce", ""))
            if params.get("SignName") != self.sign_name:
                return _refuse("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
            if params.get("TemplateCode") != self.template_code:
                return _refuse("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
            phone = params.get("PhoneNumbers", "")
            if not MOBILE.match(phone):
                return _refuse("isv.MOBILE_NUMBER_ILLEGAL", "手机号码格式错误")
            variables = json.loads(params.get("TemplateParam") or "{}")
            if set(variables) != {"subject"} or len(str(variables["subject"])) > 35:
                return _refuse("isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
            if self.per_minute and time.monotonic() - self._last.get(phone, -1e9) < 60:
                return _refuse("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
            self._last[phone] = time.monotonic()
            self.sent.append({"phone": phone, "subject": variables["subject"]})
            return JSONResponse({"Code": "OK", "Message": "OK", "BizId": secrets.token_hex(10),
                                 "RequestId": secrets.token_hex(16)})

        return app

    def _signature(self, params: dict[str, str]) -> str:
        def enc(value: str) -> str:
            return quote(value, safe="~")

        canonical = "&".join(f"{enc(k)}={enc(params[k])}" for k in sorted(params))
        to_sign = "GET&%2F&" + enc(canonical)
        return base64.b64encode(hmac.new(f"{self.access_key_secret}&".encode(), to_sign.encode(),
                                         hashlib.sha1).digest()).decode()


def _refuse(code: str, message: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"Code": code, "Message": message, "RequestId": secrets.token_hex(16)}, status_code=status)
