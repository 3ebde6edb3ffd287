"""AES-GCM payload codec: workflow inputs, results and messages hold names, ID numbers and money.

Every payload leaving this process is encrypted; the key id travels in the payload metadata so
older histories stay readable after a key rotation (keep the old key in ``HRFLOW_CODEC_KEYS``, make
the new one active). A payload of one employee's case (the SDK tells the codec the workflow id) is
encrypted under her own key (``db.person_keys``), so destroying that key erases her from every
history; the rest under the active master key. Search attributes are not payloads and are never
encrypted, which is why they carry only employee numbers and stages.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Self

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)

if TYPE_CHECKING:
    from db.person_keys import PersonKeyring

ENCODING = b"binary/encrypted"
KEY_ID_META = "encryption-key-id"
_NONCE_BYTES = 12


class UnknownKeyError(Exception):
    """A payload was encrypted with a key id this process does not hold."""


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    def __init__(self, active_key_id: str, keys: Mapping[str, bytes], *, keyring: PersonKeyring | None = None,
                 per_person: bool = True) -> None:
        """``keyring``: the employees' own keys, to decrypt what they encrypted and, with
        ``per_person``, to encrypt each employee's cases under hers (off: new payloads under the
        master key, old ones still readable)."""
        if active_key_id not in keys:
            raise ValueError(f"active key {active_key_id!r} is not among the keys")
        self._active_id = active_key_id
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._keyring = keyring
        self._per_person = per_person
        self._workflow_id: str | None = None

    @property
    def keyring(self) -> PersonKeyring | None:
        return self._keyring

    def with_context(self, context: SerializationContext) -> Self:
        """The same codec, told whose case it encodes for (the workflow id of the payloads' case)."""
        bound = copy.copy(self)
        bound._workflow_id = getattr(context, "workflow_id", None)
        return bound

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if self._keyring is not None and self._per_person and self._workflow_id is not None:
            found = self._keyring.cached(self._workflow_id)
            if found is False:  # a database look-up, off the event loop
                found = await asyncio.to_thread(self._person_key, self._workflow_id)
            if isinstance(found, tuple):
                key_id, key = found
                return [_seal(AESGCM(key), key_id, p) for p in payloads]
        return [self.encrypt(p) for p in payloads]

    def _person_key(self, workflow_id: str) -> tuple[str, bytes] | None:
        assert self._keyring is not None
        subject = self._keyring.subject_of(workflow_id)
        return None if subject is None else self._keyring.current(subject)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [await self._decode_one(p) for p in payloads]

    async def _decode_one(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID_META, b"").decode()
        if payload.metadata.get("encoding") == ENCODING and key_id not in self._ciphers and self._keyring is not None:
            from db.person_keys import owner_of

            if owner_of(key_id) is not None:  # raises KeyDestroyed once she is erased
                key = self._keyring.held_key(key_id)  # most payloads: no thread hop, no database
                if key is None:
                    key = await asyncio.to_thread(self._keyring.key, key_id)
                return _open(AESGCM(key), payload)
        return self.decrypt(payload)

    def encrypt(self, payload: Payload) -> Payload:
        return _seal(self._ciphers[self._active_id], self._active_id, payload)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # not ours (e.g. written before encryption was on)
        key_id = payload.metadata.get(KEY_ID_META, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyError(f"payload was encrypted with key {key_id!r}, not configured here")
        return _open(cipher, payload)


def _seal(cipher: AESGCM, key_id: str, payload: Payload) -> Payload:
    nonce = os.urandom(_NONCE_BYTES)
    return Payload(metadata={"encoding": ENCODING, KEY_ID_META: key_id.encode()},
                   data=nonce + cipher.encrypt(nonce, payload.SerializeToString(), None))


def _open(cipher: AESGCM, payload: Payload) -> Payload:
    nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
    return Payload.FromString(cipher.decrypt(nonce, sealed, None))


CONTEXTS_KEPT = 1024  # bound converters kept: ~13 contexts per case (its own, one per activity it runs)


@dataclasses.dataclass(frozen=True)
class BindingOnceConverter(DataConverter):
    """The SDK's data converter, binding each serialization context once.

    The SDK binds the converter to a payload's context (its case; the activity it goes to) for
    every payload it encodes or decodes, about a hundred times per case, and each binding clones the
    converter and builds a payload and a failure converter it then throws away: a tenth of a
    worker's CPU (``bench/RESULTS.md``). A binding depends on nothing but the context, which is a
    frozen dataclass, so the bound converters are kept, the most recent ``CONTEXTS_KEPT``."""

    _bound: Callable[[SerializationContext], DataConverter] = dataclasses.field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "_bound", functools.lru_cache(maxsize=CONTEXTS_KEPT)(super().with_context))

    def with_context(self, context: SerializationContext) -> Self:
        return self._bound(context)  # type: ignore[return-value]  # super().with_context returns Self


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """The converter client and worker share: pydantic models in, encrypted payloads out. A
    failure's message and stack trace are payloads too (they may quote a name or an ID number): the
    codec encrypts them, and the Temporal UI shows them through the codec endpoint like the rest."""
    return BindingOnceConverter(payload_converter_class=pydantic_data_converter.payload_converter_class,
                                payload_codec=codec,
                                failure_converter_class=DefaultFailureConverterWithEncodedAttributes)
