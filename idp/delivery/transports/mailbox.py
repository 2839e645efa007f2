"""The development transport: every message appended as one JSON object per line to a mailbox file.

This is where a developer or a demo user reads temporary passwords. Appends are serialised with an
exclusive file lock so several workers can share one mailbox.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

from idp.delivery.message import OutgoingMessage, mask_recipient
from idp.delivery.transports.base import DeliveryError

log = logging.getLogger(__name__)


class MailboxTransport:
    def __init__(self, path: str | os.PathLike, sender: str = ""):
        self.path = Path(path)
        self.sender = sender

    def send(self, message: OutgoingMessage) -> str:
        message_id = str(uuid.uuid4())
        record = {
            "id": message_id,
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "channel": message.channel,
            "to": message.recipient,
            "from": self.sender,
            "template": message.template,
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
        }
        line = _json_line(record)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Readable by its owner only: the file holds temporary passwords.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with open(fd, "a", encoding="utf-8") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    fh.write(line)
                    fh.flush()
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
        except OSError as exc:
            raise DeliveryError(f"mailbox {self.path} is not writable: {exc.strerror}") from None
        # The body stays out of the log: it may carry a temporary password.
        log.info("mailbox: %s message %s to %s written to %s", message.template, message.channel,
                 mask_recipient(message.recipient), self.path)
        return message_id


_LINE_BREAKS = ("\u0085", "\u2028", "\u2029")


def _json_line(record: dict) -> str:
    """One JSON object on one line, Cyrillic readable as is.

    JSON escapes the ASCII control characters but not U+0085, U+2028 and U+2029, which many line
    readers (Python's ``str.splitlines``, JavaScript) take for line breaks: those are escaped too, so
    every reader sees exactly one object per line.
    """
    text = json.dumps(record, ensure_ascii=False)
    for char in _LINE_BREAKS:
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text + "\n"


def read_mailbox(path: str | os.PathLike) -> list[dict]:
    """All messages in a mailbox file, oldest first (for the demo, tests and curious developers)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").split("\n")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]
