"""A test email provider that records, durably and across processes, every message it is handed.

It behaves as a provider with batch sending (it is Anymail's test backend, so the digest goes
out with merge_data) and with idempotency keys: each recipient's message is written to the
file named by RECORDING_EMAIL_FILE as one line, "<idempotency key>\\t<address>\\t<pid>". The
number of distinct keys is what a provider honouring idempotency keys delivers; the number of
lines is what one without them would (duplicates included). RECORDING_EMAIL_DELAY slows each
call down (seconds), so that a test can kill a worker in the middle of a send.
RECORDING_EMAIL_FAILURES lists how the first calls fail, in order: "503", "429", "timeout" or
"connection" (e.g. "503,timeout,429": the first three calls fail, the fourth gets through);
RECORDING_EMAIL_REJECT names an address the provider refuses for good (its status "rejected").
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailRequestsAPIError
from anymail.message import AnymailRecipientStatus
from django.core import mail

KEY_HEADER = "X-Paperboy-Idempotency-Key"


class RecordingBackend(AnymailTestBackend):
    def post_to_esp(self, payload: Any, message: Any) -> Any:
        calls = _count_call()
        if delay := float(os.environ.get("RECORDING_EMAIL_DELAY", "0") or 0):
            time.sleep(delay)
        failures = [
            f.strip()
            for f in os.environ.get("RECORDING_EMAIL_FAILURES", "").split(",")
            if f.strip()
        ]
        if calls <= len(failures):
            raise _provider_failure(failures[calls - 1])
        response = super().post_to_esp(payload, message)
        mail.outbox.clear()  # the file is the record; a long-lived worker must not pile messages up
        rejected = os.environ.get("RECORDING_EMAIL_REJECT", "")
        statuses = response["recipient_status"]
        for address in statuses:
            if address == rejected:
                statuses[address] = AnymailRecipientStatus(message_id=None, status="rejected")
        _record_batch(message, skip=rejected)
        return response


def _provider_failure(kind: str) -> AnymailRequestsAPIError:
    """What Anymail raises when the provider answers with an error, or does not answer at all."""
    if kind in ("timeout", "connection"):
        cause = (
            requests.Timeout("read timed out")
            if kind == "timeout"
            else requests.ConnectionError("refused")
        )
        error = AnymailRequestsAPIError(f"the test provider did not answer: {cause}")
        error.__cause__ = cause
        return error
    status = int(kind)
    response = requests.Response()
    response.status_code, response.reason, response._content = status, "Provider trouble", b"{}"
    return AnymailRequestsAPIError(
        "the test provider is down", status_code=status, response=response
    )


def _recording_file() -> Path:
    return Path(os.environ["RECORDING_EMAIL_FILE"])


def _count_call() -> int:
    """Calls so far, this one included, across processes (a line per call in <file>.calls)."""
    calls = Path(f"{_recording_file()}.calls")
    with calls.open("a") as stream:
        stream.write(f"{os.getpid()}\n")
    return sum(1 for _ in calls.open())


def _record_batch(message: Any, *, skip: str = "") -> None:
    merge_headers = getattr(message, "merge_headers", None) or {}
    lines = []
    for address in message.to:
        if address == skip:
            continue
        headers = merge_headers.get(address) or message.extra_headers
        lines.append(f"{headers.get(KEY_HEADER, '')}\t{address}\t{os.getpid()}\n")
    # One write of the whole batch, in append mode, flushed to disk before the provider "answers".
    fd = os.open(_recording_file(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, "".join(lines).encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def recorded(path: Path) -> tuple[Counter[str], Counter[str]]:
    """(messages per idempotency key, messages per address) in a recording file."""
    keys: Counter[str] = Counter()
    addresses: Counter[str] = Counter()
    if path.exists():
        for line in path.read_text().splitlines():
            key, address, _ = line.split("\t")
            keys[key] += 1
            addresses[address] += 1
    return keys, addresses
