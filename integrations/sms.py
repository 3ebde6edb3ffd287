"""Text messages through Alibaba Cloud SMS (阿里云短信服务, dysmsapi ``SendSms``), for employees
hrflow cannot reach by e-mail or IM.

The request is the API's RPC form, signed as its documentation says (signature version 1.0): the
parameters sorted and percent-encoded (RFC 3986; a space is %20, ``~`` stays), the string to sign
``GET&%2F&`` + the encoded query, and ``Signature`` = Base64(HMAC-SHA1(AccessKeySecret + "&", it)).
Chinese SMS must use a template approved in advance with the company's signature: hrflow sends one
template whose single variable is the notice's subject, cut to 20 characters with any ID number
masked, so a text never carries more than a notice's subject says. ``Code`` other than ``OK`` is a
refusal: a rate limit (``isv.BUSINESS_LIMIT_CONTROL``) or a busy service is tried again later, a bad
number, signature or template is not.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from domain.privacy import scrub
from integrations.mail import DeliveryFailed

RETRIED = {"isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "Throttling.User", "ServiceUnavailable"}
SUBJECT_CHARS = 20


def encode(value: str) -> str:
    return quote(value, safe="~")


def signed_query(params: dict[str, str], secret: str) -> str:
    """The query with its ``Signature``, as Alibaba Cloud's RPC signature version 1.0 makes it."""
    canonical = "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"GET&{encode('/')}&{encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return f"Signature={encode(base64.b64encode(digest).decode())}&{canonical}"


def sms_subject(subject: str) -> str:
    """What a text may say of a notice: its subject, ID numbers masked, at most 20 characters."""
    return scrub(subject)[:SUBJECT_CHARS]


@dataclass(frozen=True)
class AliyunSms:
    access_key_id: str
    access_key_secret: str
    sign_name: str  # the approved signature, e.g. 示例集团
    template_code: str  # the approved template, e.g. SMS_123456789: "您有一条人事通知：${subject}，请登录 hrflow 查看。"
    endpoint: str = "https://dysmsapi.aliyuncs.com"
    timeout: float = 10.0

    def send(self, phone: str, subject: str) -> str:
        """The text's ``BizId``; ``DeliveryFailed`` when Alibaba Cloud refuses or cannot be reached."""
        params = {"AccessKeyId": self.access_key_id, "Action": "SendSms", "Format": "JSON", "PhoneNumbers": phone,
                  "RegionId": "cn-hangzhou", "SignName": self.sign_name, "SignatureMethod": "HMAC-SHA1",
                  "SignatureNonce": uuid.uuid4().hex, "SignatureVersion": "1.0", "TemplateCode": self.template_code,
                  "TemplateParam": json.dumps({"subject": sms_subject(subject)}, ensure_ascii=False),
                  "Timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": "2017-05-25"}
        try:
            answer = httpx.get(f"{self.endpoint}/?{signed_query(params, self.access_key_secret)}", timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}", permanent=False) from None
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        code = str(body.get("Code", f"HTTP {answer.status_code}"))
        if code == "OK":
            return str(body.get("BizId", ""))
        raise DeliveryFailed(f"SMS {code}: {body.get('Message', '')}",
                             permanent=code not in RETRIED and answer.status_code < 500)
