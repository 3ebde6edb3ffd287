"""Her cases' payloads are encrypted under her own key: destroying it erases her from the recorded
histories (the worker's, the Temporal UI's codec endpoint's view), while another employee's history
still decodes and replays, and the audit chain still verifies."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import AsyncIterator

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from db import audit
from db.person_keys import KeyDestroyed, PersonKeyring, destroy
from domain.roles import Role
from hrflow.codec import KEY_ID_META, EncryptionCodec, data_converter
from tests.processes import support
from tests.processes.support import add_employee
from tests.processes.test_si_change import CHECKER, ENROLL, submit, wait_stage, wait_submitted
from workflows.registry import ALL_WORKFLOWS


@pytest.fixture
def keyring(session_factory, codec_keys) -> PersonKeyring:
    return PersonKeyring(session_factory, "test-1", {k: base64.b64decode(v) for k, v in codec_keys.items()})


@pytest.fixture
def codec(codec_keys, keyring) -> EncryptionCodec:
    """This test's codec: the master key, and the employees' own keys in this test's database."""
    return EncryptionCodec("test-1", {k: base64.b64decode(v) for k, v in codec_keys.items()}, keyring=keyring)


@pytest.fixture
async def temporal_env(codec: EncryptionCodec) -> AsyncIterator[WorkflowEnvironment]:
    async with support.time_skipping_env(codec) as env:
        yield env


SEARCH_ATTRIBUTES = "temporal.api.common.v1.SearchAttributes"
SDK_MARKER_FIELDS = {"id", "deprecated", "seq", "attempt", "activity_id", "activity_type", "complete_time",
                     "backoff", "original_schedule_time", "activation_index"}


def _payloads(history: WorkflowHistory) -> list[Payload]:
    """Every payload the history holds for the codec (inputs, results, update arguments and answers,
    failures). The SDK's own marker bookkeeping (a patch's id, a local activity's sequence number) is
    written in clear by design and holds nothing of hers: the test checks so, and leaves it out."""
    found: list[Payload] = []
    plain: list[Payload] = []

    def walk(message) -> None:  # any protobuf message
        if isinstance(message, Payload):
            found.append(message)
            return
        for field, value in message.ListFields():
            if field.message_type is None or field.message_type.full_name == SEARCH_ATTRIBUTES:
                continue  # search attributes are not payloads the codec sees: employee numbers and stages
            if hasattr(value, "ListFields"):
                walk(value)
            else:  # a repeated field or a map of messages
                for item in value.values() if hasattr(value, "values") else value:
                    if hasattr(item, "ListFields"):
                        walk(item)

    for event in history.events:
        before = len(found)
        walk(event)
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            plain += [p for p in found[before:] if KEY_ID_META not in p.metadata]
    for p in plain:
        assert p.metadata["encoding"] == b"json/plain" and set(json.loads(p.data)) <= SDK_MARKER_FIELDS, p
    return [p for p in found if KEY_ID_META in p.metadata or p not in plain]


async def _run_case(api, auth, temporal_env, employee_id: str) -> str:
    wf = (await submit(api, auth, ENROLL | {"employee_id": employee_id}))["workflow_id"]
    await wait_submitted(api, auth, wf)
    r = await api.post(f"/si-changes/{wf}/approve", json={}, headers=auth(Role.HR_MANAGER, CHECKER))
    assert r.status_code == 200, r.text
    return wf


async def test_erasure_destroys_her_payloads_and_only_hers(stack, auth, emp, temporal_env, session_factory,
                                                           codec, keyring) -> None:
    api = stack
    other = emp + "B"
    add_employee(session_factory, other, resident_id_number="110105198506151236", name="李娜")
    hers, theirs = await _run_case(api, auth, temporal_env, emp), await _run_case(api, auth, temporal_env, other)
    await temporal_env.sleep(dt.timedelta(hours=73))
    await wait_stage(api, auth, hers, "executed")
    await wait_stage(api, auth, theirs, "executed")
    her_history = await temporal_env.client.get_workflow_handle(hers).fetch_history()
    their_history = await temporal_env.client.get_workflow_handle(theirs).fetch_history()

    # Her case's payloads are under her key, the other's under theirs; none under the master key.
    her_payloads, their_payloads = _payloads(her_history), _payloads(their_history)
    assert her_payloads and their_payloads
    assert {p.metadata[KEY_ID_META].decode() for p in her_payloads} == {f"person:{emp}:1"}
    assert {p.metadata[KEY_ID_META].decode() for p in their_payloads} == {f"person:{other}:1"}
    assert await codec.decode(her_payloads)  # readable before the erasure

    with session_factory.begin() as s:
        assert destroy(s, emp, by="erasure-test") == 1
    keyring.forget()  # this process would wait out the cache's ttl

    for payload in her_payloads:
        with pytest.raises(KeyDestroyed):
            await codec.decode([payload])
    assert len(await codec.decode(their_payloads)) == len(their_payloads)
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=data_converter(codec))
    await replayer.replay_workflow(their_history)  # the other employee's case still replays
    with pytest.raises(Exception, match="KeyDestroyed"):
        await replayer.replay_workflow(her_history, raise_on_replay_failure=True)

    # The audit chain does not hold her payloads, and still verifies.
    with session_factory() as s:
        assert audit.verify_chain(s).ok

    # The Temporal UI, through the codec endpoint: her payloads read as erased, the other's in clear.
    body = {"payloads": [json_format.MessageToDict(p) for p in (her_payloads[0], their_payloads[0])]}
    r = await api.post("/codec/decode", json=body, headers=auth(Role.ADMIN, "ops.zhao"))
    assert r.status_code == 200, r.text
    erased, clear = r.json()["payloads"]
    assert "已删除" in base64.b64decode(erased["data"]).decode()
    assert base64.b64decode(clear["metadata"]["encoding"]) != b"binary/encrypted"
