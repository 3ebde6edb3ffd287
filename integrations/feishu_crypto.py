"""Feishu's callback security, as its documentation specifies it (事件订阅 → 安全校验 / 加密).

With an Encrypt Key set for the app, each callback body is ``{"encrypt": "<Base64>"}``: AES-256-CBC
under SHA-256(Encrypt Key), the IV the first 16 bytes of the decoded text, PKCS#7 padding. Each
request carries ``X-Lark-Request-Timestamp``, ``X-Lark-Request-Nonce`` and ``X-Lark-Signature`` =
hex SHA-256 of timestamp + nonce + Encrypt Key + the raw body. The decrypted event also names the
app's Verification Token, which must be ours.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from domain.constant_time import same


class CallbackRefused(Exception):
    """Not Feishu's callback for this app: wrong signature, key or token."""


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


class FeishuCrypto:
    def __init__(self, encrypt_key: str) -> None:
        self.encrypt_key = encrypt_key
        self._key = hashlib.sha256(encrypt_key.encode()).digest()

    def verify(self, timestamp: str, nonce: str, body: bytes, given: str) -> None:
        if not same(given, signature(timestamp, nonce, self.encrypt_key, body)):
            raise CallbackRefused("X-Lark-Signature does not match")

    def decrypt(self, encrypted: str) -> str:
        try:
            data = base64.b64decode(encrypted, validate=True)
            decryptor = Cipher(algorithms.AES(self._key), modes.CBC(data[:16])).decryptor()
            padded = decryptor.update(data[16:]) + decryptor.finalize()
            unpadder = padding.PKCS7(128).unpadder()
            return (unpadder.update(padded) + unpadder.finalize()).decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise CallbackRefused(f"not decryptable: {exc}") from None

    def encrypt(self, message: str) -> str:
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        padded = padder.update(message.encode()) + padder.finalize()
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(iv)).encryptor()
        return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()
