"""AES-GCM payload codec: workflow inputs, results and messages hold names, ID numbers and money.

Every payload leaving this process is encrypted with the active key; the key id travels in the
payload metadata so older histories stay readable after a key rotation (keep the old key in
``HRFLOW_CODEC_KEYS``, make the new one active). Search attributes are not payloads and are never
encrypted, which is why they carry only employee numbers and stages.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_META = "encryption-key-id"
_NONCE_BYTES = 12


class UnknownKeyError(Exception):
    """A payload was encrypted with a key id this process does not hold."""


class EncryptionCodec(PayloadCodec):
    def __init__(self, active_key_id: str, keys: Mapping[str, bytes]) -> None:
        if active_key_id not in keys:
            raise ValueError(f"active key {active_key_id!r} is not among the keys")
        self._active_id = active_key_id
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self._active_id].encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_META: self._active_id.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # not ours (e.g. written before encryption was on)
        key_id = payload.metadata.get(KEY_ID_META, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyError(f"payload was encrypted with key {key_id!r}, not configured here")
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        return Payload.FromString(cipher.decrypt(nonce, sealed, None))


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """The converter client and worker share: pydantic models in, encrypted payloads out. A
    failure's message and stack trace are payloads too (they may quote a name or an ID number): the
    codec encrypts them, and the Temporal UI shows them through the codec endpoint like the rest."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec,
                               failure_converter_class=DefaultFailureConverterWithEncodedAttributes)
