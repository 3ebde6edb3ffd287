"""WeCom's callback encryption (WXBizMsgCrypt), as its documentation specifies it.

The application's callback settings give a ``Token`` and a 43-character ``EncodingAESKey``. The
AES key is Base64(EncodingAESKey + "="), 32 bytes, and its first 16 bytes are the IV; a message is
AES-256-CBC over ``random(16) + len(msg) (4 bytes, network order) + msg + receiveid`` with PKCS#7
padding to 32-byte blocks, then Base64. Every request carries ``msg_signature`` = SHA1 of the sorted
concatenation of token, timestamp, nonce and the ciphertext. ``receiveid`` is the corp id: a
message for another corporation does not decrypt to ours.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from domain.constant_time import same

BLOCK = 32


class CallbackRefused(Exception):
    """The callback is not WeCom's for this application: wrong signature, key or receiver."""


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


class WeComCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey is 43 characters")
        self.token, self.receive_id = token, receive_id
        self._key = base64.b64decode(encoding_aes_key + "=")

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        if not same(msg_signature, signature(self.token, timestamp, nonce, encrypted)):
            raise CallbackRefused("msg_signature does not match")

    def decrypt(self, encrypted: str) -> str:
        try:
            data = base64.b64decode(encrypted, validate=True)
            decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).decryptor()
            plain = decryptor.update(data) + decryptor.finalize()
        except ValueError as exc:
            raise CallbackRefused(f"not decryptable: {exc}") from None
        pad = plain[-1] if plain else 0
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CallbackRefused("bad padding")
        body = plain[16:-pad]
        if len(body) < 4:
            raise CallbackRefused("too short")
        (length,) = struct.unpack(">I", body[:4])
        message, receiver = body[4:4 + length], body[4 + length:]
        if receiver.decode(errors="replace") != self.receive_id:
            raise CallbackRefused("for another receiver")
        return message.decode()

    def encrypt(self, message: str, *, random16: bytes | None = None) -> str:
        raw = message.encode()
        body = (random16 or os.urandom(16)) + struct.pack(">I", len(raw)) + raw + self.receive_id.encode()
        pad = BLOCK - len(body) % BLOCK
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).encryptor()
        return base64.b64encode(encryptor.update(body + bytes([pad]) * pad) + encryptor.finalize()).decode()

    def opened(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> str:
        """The plaintext of a callback whose signature holds."""
        self.verify(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)
