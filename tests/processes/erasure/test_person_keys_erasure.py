"""Her cases' payloads are encrypted under her own key: destroying it erases her from the recorded
histories (the worker's, the Temporal UI's codec endpoint's view), while another employee's history
still decodes and replays, and the audit chain still verifies."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from google.protobuf import json_format
from temporalio.worker import Replayer

from db import audit
from db.person_keys import KeyDestroyed, destroy
from domain.roles import Role
from hrflow.codec import KEY_ID_META, data_converter
from tests.processes.erasure.histories import approved_case, payloads_of
from tests.processes.support import add_employee
from tests.processes.test_si_change import wait_stage
from workflows.registry import ALL_WORKFLOWS


async def test_erasure_destroys_her_payloads_and_only_hers(stack, auth, emp, temporal_env, session_factory,
                                                           codec, keyring) -> None:
    api = stack
    other = emp + "B"
    add_employee(session_factory, other, resident_id_number="110105198506151236", name="李娜")
    hers, theirs = await approved_case(api, auth, temporal_env, emp), await approved_case(api, auth, temporal_env, other)
    await temporal_env.sleep(dt.timedelta(hours=73))
    await wait_stage(api, auth, hers, "executed")
    await wait_stage(api, auth, theirs, "executed")
    her_history = await temporal_env.client.get_workflow_handle(hers).fetch_history()
    their_history = await temporal_env.client.get_workflow_handle(theirs).fetch_history()

    # Her case's payloads are under her key, the other's under theirs; none under the master key.
    her_payloads, their_payloads = payloads_of(her_history), payloads_of(their_history)
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
