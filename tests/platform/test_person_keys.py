"""Each employee's data key: made once, wrapped by the master key, never brought back once
destroyed; whose case a workflow id names; what the codec encrypts under whose key."""

from __future__ import annotations

import asyncio
import base64

import pytest
from sqlalchemy import text
from temporalio.api.common.v1 import Payload
from temporalio.converter import WorkflowSerializationContext

from db.models import PersonKey
from db.person_keys import KeyDestroyed, PersonKeyring, destroy
from hrflow.codec import KEY_ID_META, EncryptionCodec
from tests.processes.support import add_employee


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def masters(codec_keys) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in codec_keys.items()}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keyring(session_factory, masters, clock) -> PersonKeyring:
    return PersonKeyring(session_factory, "test-1", masters, ttl=60, clock=clock)


def test_her_key_is_made_once_and_stored_only_wrapped(keyring, session_factory, masters) -> None:
    kid, key = keyring.current("E1001")
    assert kid == "person:E1001:1" and len(key) == 32
    assert PersonKeyring(session_factory, "test-1", masters).current("E1001") == (kid, key)  # another process
    with session_factory() as s:
        row = s.get(PersonKey, ("E1001", 1))
        assert row.wrapped_with == "test-1" and key not in row.wrapped
    assert keyring.current("E1002")[1] != key


def test_a_sealed_value_opens_only_in_its_own_column(keyring) -> None:
    sealed = keyring.seal("E1001", "resident_id_number", "11010519491231002X")
    assert "11010519491231002X" not in sealed and sealed.startswith("p1:person:E1001:1:")
    assert keyring.open("resident_id_number", sealed) == "11010519491231002X"
    with pytest.raises(ValueError, match="moved from another column"):
        keyring.open("name", sealed)


def test_destroying_her_key_erases_her_values_and_no_one_elses(keyring, session_factory, clock) -> None:
    hers = keyring.seal("E1001", "name", "王芳")
    theirs = keyring.seal("E1002", "name", "李娜")
    with session_factory.begin() as s:
        assert destroy(s, "E1001", by="erasure-E1001-1") == 1
        assert destroy(s, "E1001", by="erasure-E1001-1") == 0  # once
    assert keyring.open("name", hers) == "王芳"  # this process still holds it, for at most the ttl
    clock.now += 61
    with pytest.raises(KeyDestroyed):
        keyring.open("name", hers)
    assert keyring.open("name", theirs) == "李娜"
    # Rehired after her erasure: a new key, the old data stays erased.
    assert keyring.current("E1001")[0] == "person:E1001:2"
    with pytest.raises(KeyDestroyed):
        keyring.open("name", hers)


def test_a_destroyed_key_cannot_be_written_back_nor_a_key_deleted(keyring, session_factory) -> None:
    keyring.current("E1001")
    keyring.current("E1002")
    with session_factory() as s:
        wrapped = s.get(PersonKey, ("E1001", 1)).wrapped
    with session_factory.begin() as s:
        destroy(s, "E1001", by="erasure-E1001-1")
    for statement, params in (
        ("UPDATE person_keys SET wrapped = :w, destroyed_at = NULL WHERE employee_id = 'E1001'", {"w": wrapped}),
        ("DELETE FROM person_keys WHERE employee_id = 'E1002'", {}),
        ("UPDATE person_keys SET wrapped = :w WHERE employee_id = 'E1002'", {"w": wrapped}),
    ):
        with session_factory.begin() as s, pytest.raises(Exception, match="destroyed|never deleted|re-wrapped"):
            s.execute(text(statement), params)


def test_whose_case_a_workflow_id_names(keyring, session_factory) -> None:
    for number in ("E-1", "E-1-2", "E7"):
        add_employee(session_factory, number, resident_id_number={"E-1": "11010519491231002X",
                                                                  "E-1-2": "110105198506151236",
                                                                  "E7": "110101199003071234"}[number])
    assert keyring.subject_of("si-change-E-1-3") == "E-1"
    assert keyring.subject_of("si-change-E-1-2-7") == "E-1-2"  # the longest number that exists
    assert keyring.subject_of("offboarding-E7-2026-12-01") == "E7"
    assert keyring.subject_of("non-compete-E7-2026-12-31") == "E7"
    assert keyring.subject_of("base-adjustment-beijing-2027-07-1") is None  # a batch: no one's
    assert keyring.subject_of("reminder-sweep") is None
    assert keyring.subject_of("si-change-NOBODY-1") is None


async def test_the_codec_encrypts_her_cases_under_her_key_and_the_rest_under_the_master(
        keyring, masters, session_factory) -> None:
    add_employee(session_factory, "E1001")
    codec = EncryptionCodec("test-1", masters, keyring=keyring)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"name": "\\u738b\\u82b3"}')
    for workflow_id, expected in (("si-change-E1001-1", "person:E1001:1"),
                                  ("base-adjustment-beijing-2027-07-1", "test-1")):
        bound = codec.with_context(WorkflowSerializationContext(namespace="default", workflow_id=workflow_id))
        [sealed] = await bound.encode([plain])
        assert sealed.metadata[KEY_ID_META].decode() == expected
        assert await codec.decode([sealed]) == [plain]  # any process decodes by the key id alone
    [unbound] = await codec.encode([plain])
    assert unbound.metadata[KEY_ID_META] == b"test-1"


async def test_a_key_this_process_holds_decodes_without_a_thread_or_the_database(
        keyring, masters, session_factory, clock, monkeypatch) -> None:
    """The worker decodes every payload of her case with her key: once the key is held (for the
    ttl), no payload waits for a thread of its own or a database read."""
    add_employee(session_factory, "E1001")
    context = WorkflowSerializationContext(namespace="default", workflow_id="si-change-E1001-1")
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"step": 1}')
    sealed = await EncryptionCodec("test-1", masters, keyring=keyring).with_context(context).encode([plain] * 5)
    other_process = EncryptionCodec("test-1", masters, keyring=PersonKeyring(session_factory, "test-1", masters,
                                                                             ttl=60, clock=clock))
    hops: list[object] = []
    to_thread = asyncio.to_thread

    async def counted(fn, /, *args):  # type: ignore[no-untyped-def]
        hops.append(fn)
        return await to_thread(fn, *args)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    assert await other_process.decode(sealed) == [plain] * 5
    assert len(hops) == 1  # the first payload loads her key from the database; the rest use it
    assert await other_process.decode(sealed) == [plain] * 5
    assert len(hops) == 1
    clock.now += 61  # past the ttl: read again (a destroyed key stops working within the ttl)
    assert await other_process.decode(sealed[:1]) == [plain]
    assert len(hops) == 2


async def test_with_person_keys_off_new_payloads_go_under_the_master_and_hers_stay_readable(
        keyring, masters, session_factory) -> None:
    add_employee(session_factory, "E1001")
    context = WorkflowSerializationContext(namespace="default", workflow_id="si-change-E1001-1")
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"step": 1}')
    [hers] = await EncryptionCodec("test-1", masters, keyring=keyring).with_context(context).encode([plain])
    off = EncryptionCodec("test-1", masters, keyring=keyring, per_person=False).with_context(context)
    [sealed] = await off.encode([plain])
    assert sealed.metadata[KEY_ID_META] == b"test-1"
    assert await off.decode([hers, sealed]) == [plain, plain]  # a process with it off still reads hers
