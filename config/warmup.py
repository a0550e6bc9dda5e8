"""The sending limits' settings, parsed and checked at start-up (and by digest.send_limits).

Pure functions on the environment's strings: a mistake stops start-up with a message that says
what to write instead, rather than a worker sending too fast or too much.
"""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ImproperlyConfigured

# "2026-12-01:1000,2000,5000,10000": a start date, then each day's cap from that date on.
_WARMUP = re.compile(r"(\d{4}-\d{2}-\d{2}):(\d+(?:,\d+)*)")
_WARMUP_EXAMPLE = "e.g. PAPERBOY_SEND_WARMUP=2026-12-01:1000,2000,5000,10000"


def count_parse(name: str, raw: str) -> int:
    """A limit's whole number (0: no limit); anything else stops start-up, naming the variable."""
    text = raw.strip()
    if not text:
        return 0
    if not text.isdecimal():
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a whole number of messages: "
            f"write a number such as 14, or 0 (or nothing) for no limit."
        )
    return int(text)


def warmup_parse(raw: str) -> tuple[dt.date, tuple[int, ...]] | None:
    """The warm-up's start date and its daily caps, or None when there is no warm-up."""
    text = "".join(raw.split())
    if not text:
        return None
    match = _WARMUP.fullmatch(text)
    if match is None:
        raise ImproperlyConfigured(
            f"PAPERBOY_SEND_WARMUP={raw!r} is not a start date and daily caps: {_WARMUP_EXAMPLE} "
            "(a UTC date, a colon, then each day's cap, comma-separated)."
        )
    try:
        start = dt.date.fromisoformat(match.group(1))
    except ValueError:
        raise ImproperlyConfigured(
            f"PAPERBOY_SEND_WARMUP={raw!r}: {match.group(1)} is not a date ({_WARMUP_EXAMPLE})."
        ) from None
    caps = tuple(int(cap) for cap in match.group(2).split(","))
    if 0 in caps:
        raise ImproperlyConfigured(
            f"PAPERBOY_SEND_WARMUP={raw!r}: a day's cap of 0 would send nothing that day; "
            f"give each day a cap of at least 1 ({_WARMUP_EXAMPLE})."
        )
    return start, caps
