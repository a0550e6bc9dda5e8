"""Reading the development outbox: what Django's file-based email backend writes to var/outbox."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

# Django's file-based backend writes each message followed by a line of 79 dashes.
_SEPARATOR = re.compile(rb"\n-{79}\n")
_FILE_NAME = re.compile(r"^[\w.-]+\.log$")
# The outbox shows an email's HTML in a sandboxed frame, and the site refuses to be framed
# (X-Frame-Options: DENY): the preview's links open in a new tab instead of inside the frame.
_PREVIEW_BASE = '<base target="_blank">'
_HEAD_OPEN = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class OutboxMessage:
    key: str  # "<file name>:<index>", stable while the file exists
    subject: str
    to: str
    date: str
    text: str
    html: str
    headers: list[tuple[str, str]]

    @property
    def preview_html(self) -> str:
        """The HTML part for the outbox's frame only: its links open in a new tab."""
        return html_preview(self.html)


def html_preview(html: str) -> str:
    """The email's HTML with `<base target="_blank">` first in its head (or first of all)."""
    head = _HEAD_OPEN.search(html)
    if head is None:
        return _PREVIEW_BASE + html
    return html[: head.end()] + _PREVIEW_BASE + html[head.end() :]


def _message_parse(key: str, raw: bytes) -> OutboxMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    return OutboxMessage(
        key=key,
        subject=str(message.get("Subject", "")).strip(),  # a folded header keeps its leading space
        to=str(message.get("To", "")),
        date=str(message.get("Date", "")),
        text=text_part.get_content() if text_part else "",
        html=html_part.get_content() if html_part else "",
        headers=[(name, str(value).strip()) for name, value in message.items()],
    )


def _messages_in(path: Path) -> list[OutboxMessage]:
    chunks = [chunk for chunk in _SEPARATOR.split(path.read_bytes()) if chunk.strip()]
    return [_message_parse(f"{path.name}:{index}", chunk) for index, chunk in enumerate(chunks)]


def outbox_list(*, folder: Path, limit: int = 200) -> list[OutboxMessage]:
    """The newest messages first (files are named by the time they were written)."""
    if not folder.is_dir():
        return []
    files = sorted((path for path in folder.iterdir() if _FILE_NAME.match(path.name)), reverse=True)
    found: list[OutboxMessage] = []
    for path in files:
        found.extend(reversed(_messages_in(path)))
        if len(found) >= limit:
            break
    return found[:limit]


def outbox_get(*, folder: Path, key: str) -> OutboxMessage | None:
    """One message by its key, or None; the key never reaches outside the folder."""
    name, _, index = key.rpartition(":")
    if not _FILE_NAME.match(name) or not index.isdigit():
        return None
    path = folder / name
    if not path.is_file():
        return None
    messages = _messages_in(path)
    return messages[int(index)] if int(index) < len(messages) else None
