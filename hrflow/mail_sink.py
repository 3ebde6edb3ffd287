"""A local SMTP server for the embedded stack: every message it receives is written to a folder.

``hrflow dev`` starts it (``.hrflow/mail``, one ``.eml`` file per message, named by arrival time),
so notification e-mails can be read without a mail account; the tests use it as the real SMTP peer
of the delivery relay.

    python -m hrflow.mail_sink --dir .hrflow/mail --port 1025
"""

from __future__ import annotations

import argparse
import itertools
import signal
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class FolderSink:
    """aiosmtpd handler: one file per accepted message (per recipient, as a mailbox would see it)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's name
        data = envelope.original_content or envelope.content
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                name = f"{time.strftime('%Y%m%dT%H%M%S')}-{next(self._seq):06d}.eml"
                (self.folder / name).write_bytes(f"X-Delivered-To: {rcpt}\r\n".encode() + data)
        return "250 Message accepted for delivery"


def read_folder(folder: Path) -> list[EmailMessage]:
    """Messages in the order they arrived."""
    return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(folder.glob("*.eml"))]


def start(folder: Path, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    controller = Controller(FolderSink(folder), hostname=host, port=port)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    args = parser.parse_args()
    controller = start(args.dir, args.host, args.port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"SMTP sink on {args.host}:{args.port}, writing to {args.dir}", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
