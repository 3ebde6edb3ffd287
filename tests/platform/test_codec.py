"""Payload encryption: unreadable without the key, readable after key rotation, refused when
tampered; the codec endpoint decodes only for authorised roles and answers the UI's CORS."""

from __future__ import annotations

import base64
import os
from typing import cast

import pytest
from cryptography.exceptions import InvalidTag
from temporalio.api.common.v1 import Payload
from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext

from db.person_keys import PersonKeyring
from domain.roles import Role
from hrflow.codec import ENCODING, EncryptionCodec, UnknownKeyError, data_converter

SECRET_TEXT = '{"name":"王芳","resident_id_number":"11010519491231002X"}'.encode()


def _plain() -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=SECRET_TEXT)


async def test_roundtrip_and_ciphertext() -> None:
    codec = EncryptionCodec("k1", {"k1": os.urandom(32)})
    [sealed] = await codec.encode([_plain()])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata["encryption-key-id"] == b"k1"
    assert b"11010519491231002X" not in sealed.SerializeToString()
    assert (await codec.decode([sealed]))[0] == _plain()


async def test_wrong_key_and_tampering_fail() -> None:
    key = os.urandom(32)
    [sealed] = await EncryptionCodec("k1", {"k1": key}).encode([_plain()])
    with pytest.raises(InvalidTag):
        await EncryptionCodec("k1", {"k1": os.urandom(32)}).decode([sealed])
    with pytest.raises(UnknownKeyError):
        await EncryptionCodec("k9", {"k9": key}).decode([sealed])
    tampered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(InvalidTag):
        await EncryptionCodec("k1", {"k1": key}).decode([tampered])


async def test_rotation_keeps_old_histories_readable() -> None:
    old, new = os.urandom(32), os.urandom(32)
    [sealed_old] = await EncryptionCodec("k1", {"k1": old}).encode([_plain()])
    rotated = EncryptionCodec("k2", {"k2": new, "k1": old})
    [sealed_new] = await rotated.encode([_plain()])
    assert sealed_new.metadata["encryption-key-id"] == b"k2"
    assert await rotated.decode([sealed_old, sealed_new]) == [_plain(), _plain()]


async def test_converter_encrypts_pydantic_models(codec) -> None:
    from pydantic import BaseModel

    class Person(BaseModel):
        name: str

    converter = data_converter(codec)
    [payload] = await converter.encode([Person(name="王芳")])
    assert "王芳".encode() not in payload.SerializeToString()
    [back] = await converter.decode([payload], [Person])
    assert back == Person(name="王芳")


class _TwoEmployeesKeys:
    """The employees' keys as the codec asks for them: each case's payloads under its employee's key."""

    def __init__(self) -> None:
        self.keys = {f"si-{emp}-1": (f"person:{emp}:1", os.urandom(32)) for emp in ("E1001", "E1002")}

    def cached(self, workflow_id: str) -> tuple[str, bytes] | None:
        return self.keys.get(workflow_id)


async def test_converter_binds_each_context_once() -> None:
    """The SDK binds the converter to a payload's case for every payload: the binding is kept,
    and each case's payloads are still encrypted for that case, not for the one bound before."""
    keys = _TwoEmployeesKeys()
    converter = data_converter(EncryptionCodec("k1", {"k1": os.urandom(32)}, keyring=cast(PersonKeyring, keys)))
    case = WorkflowSerializationContext(namespace="default", workflow_id="si-E1001-1")
    step = ActivitySerializationContext(namespace="default", workflow_id="si-E1001-1",
                                        workflow_type="SocialInsuranceChangeWorkflow", activity_type="si.transition",
                                        activity_id="3", activity_task_queue="hrflow", is_local=True)
    other = WorkflowSerializationContext(namespace="default", workflow_id="si-E1002-1")
    assert converter.with_context(case) is converter.with_context(case)
    assert converter.with_context(step) is converter.with_context(step)
    assert converter.with_context(case).payload_converter is converter.payload_converter  # adapters stay warm

    async def key_of(context: WorkflowSerializationContext | ActivitySerializationContext | None) -> bytes:
        bound = converter if context is None else converter.with_context(context)
        [payload] = await bound.encode(["王芳"])
        return payload.metadata["encryption-key-id"]

    assert [await key_of(c) for c in (case, step, other, case, None)] == [
        b"person:E1001:1", b"person:E1001:1", b"person:E1002:1", b"person:E1001:1", b"k1"]


def _ui_body(payload: Payload) -> dict:
    return {"payloads": [{"metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
                          "data": base64.b64encode(payload.data).decode()}]}


async def test_codec_endpoint_roles_and_cors(api, auth, codec, token) -> None:
    [sealed] = await codec.encode([_plain()])
    body = _ui_body(sealed)
    assert (await api.post("/codec/decode", json=body)).status_code == 401
    assert (await api.post("/codec/decode", json=body, headers=auth(Role.HR_SPECIALIST))).status_code == 403
    r = await api.post("/codec/decode", json=body, headers=auth(Role.ADMIN, "ops"))
    assert r.status_code == 200
    assert base64.b64decode(r.json()["payloads"][0]["data"]) == SECRET_TEXT
    # The UI's browser sends the cookie set by /codec/login instead of a header.
    login = await api.get("/codec/login", params={"token": token(Role.ADMIN, "ops")})
    assert login.status_code == 200 and "hrflow_token" in login.headers["set-cookie"]
    r = await api.post("/codec/decode", json=body)  # the client kept the cookie
    assert r.status_code == 200
    assert (await api.get("/me")).status_code == 401  # the cookie opens /codec and nothing else
    # CORS preflight from the Temporal UI's origin, and only for /codec.
    origin = "http://127.0.0.1:8233"
    pre = await api.options("/codec/decode", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace"})
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == origin
    assert pre.headers["access-control-allow-credentials"] == "true"
    other = await api.get("/health", headers={"Origin": origin})
    assert "access-control-allow-origin" not in other.headers
    # Encode works the other way round for the same roles.
    r = await api.post("/codec/encode", json=_ui_body(_plain()), headers=auth(Role.ADMIN))
    assert base64.b64decode(r.json()["payloads"][0]["metadata"]["encoding"]) == ENCODING
