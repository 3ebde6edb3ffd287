"""Logging set-up that masks personal data and secrets in every line, tracebacks included.

Resident ID numbers are masked wherever they appear (a SQL error's parameters, a message), and
bearer tokens in URLs (``/codec/login?token=...``) are cut. hrflow's own code logs employee
numbers, never names; the masking is the net under that rule.
"""

from __future__ import annotations

import logging
import re

from domain.privacy import scrub

_TOKEN_IN_URL = re.compile(r"(token=)[^\s&\"']+")


def clean(text: str) -> str:
    return _TOKEN_IN_URL.sub(r"\1***", scrub(text))


class MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return clean(super().format(record))


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
