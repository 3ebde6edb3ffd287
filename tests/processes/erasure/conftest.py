"""The erasure tests' Temporal: a time-skipping server of each test's own, whose codec reads the
employees' own keys in that test's database (as every hrflow process does)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from db.person_keys import PersonKeyring
from db.session import make_session_factory
from hrflow.codec import EncryptionCodec
from tests.processes import support


@pytest.fixture
def keyring(keys_engine, codec_keys) -> PersonKeyring:
    """Another process's keyring (a cache of its own), on its own connections as in hrflow."""
    return PersonKeyring(make_session_factory(keys_engine), "test-1",
                         {k: base64.b64decode(v) for k, v in codec_keys.items()})


@pytest.fixture
def codec(codec_keys, keyring) -> EncryptionCodec:
    """This test's codec: the master key, and the employees' own keys in this test's database."""
    return EncryptionCodec("test-1", {k: base64.b64decode(v) for k, v in codec_keys.items()}, keyring=keyring)


@pytest.fixture
async def temporal_env(codec: EncryptionCodec) -> AsyncIterator[WorkflowEnvironment]:
    async with support.time_skipping_env(codec) as env:
        yield env
