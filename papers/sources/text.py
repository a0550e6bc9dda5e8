"""Cleaning helpers every source parser shares: text, arXiv ids, URLs, timestamps.

Pure functions, no Django, so parsers stay testable on raw bytes alone.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from urllib.parse import urlsplit

_WHITESPACE = re.compile(r"\s+")

# New-style ids (April 2007 on): YYMM.NNNN until 2014, YYMM.NNNNN from 2015.
_NEW_ID = re.compile(r"(?P<yymm>\d{4})\.(?P<number>\d{4,5})")
# Old-style ids (until March 2007): archive[.SUBJECT-CLASS]/YYMMNNN, e.g. "math.GT/0309136".
_OLD_ID = re.compile(
    r"(?P<archive>[a-z]+(?:-[a-z]+)*)(?:\.(?P<subject>[a-z]{2}))?/(?P<number>\d{7})", re.IGNORECASE
)
_VERSION = re.compile(r"v\d+$")
_PREFIXES = re.compile(
    r"^(?:arxiv:|oai:arxiv\.org:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/)",
    re.IGNORECASE,
)


def clean_text(value: str | None) -> str:
    """Text on one line: NFC-normalized, control characters dropped, whitespace runs collapsed.

    LaTeX such as `$\\alpha$` is kept verbatim: it is data, and escaping belongs to rendering.
    """
    if not value:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    # Control characters other than whitespace (NUL, ESC, DEL...) become nothing; tabs and
    # newlines (the hard wraps HF and arXiv put in titles) become single spaces below.
    text = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) != "Cc")
    return _WHITESPACE.sub(" ", text).strip()


def clean_text_capped(value: str | None, *, limit: int) -> str:
    """clean_text, cut at a word boundary to at most `limit` characters ("…" ends a cut text)."""
    text = clean_text(value)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"


def arxiv_id_normalize(raw: str | None) -> str | None:
    """The bare arXiv id ("2511.11793", "astro-ph/0601001") of an id, URL or OAI id, else None."""
    if not isinstance(raw, str):
        return None
    value = _PREFIXES.sub("", raw.strip())
    value = value.removesuffix(".pdf")
    value = _VERSION.sub("", value)
    if match := _NEW_ID.fullmatch(value):
        return value if _new_id_valid(match["yymm"], match["number"]) else None
    if match := _OLD_ID.fullmatch(value):
        if not 1 <= int(match["number"][2:4]) <= 12:
            return None
        archive = match["archive"].lower()
        subject = f".{match['subject'].upper()}" if match["subject"] else ""
        return f"{archive}{subject}/{match['number']}"
    return None


def _new_id_valid(yymm: str, number: str) -> bool:
    year, month = int(yymm[:2]), int(yymm[2:])
    if not 1 <= month <= 12 or (year, month) < (7, 4):
        return False
    # The sequence number grew to five digits in January 2015.
    return len(number) == (5 if (year, month) >= (15, 1) else 4)


def safe_url(value: str | None) -> str:
    """The URL if absolute http(s), else "" (no javascript:, relative or bare "owner/repo")."""
    if not isinstance(value, str):
        return ""
    # As browsers do (WHATWG URL parsing), tabs and newlines inside a URL are dropped: HF has
    # project pages hard-wrapped like "https://videop2r.\ngithub.io/videop2r/".
    url = re.sub(r"[\t\n\r]", "", value.strip())
    if not url or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return ""
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return ""
    return url


def parse_datetime(value: str | None) -> dt.datetime | None:
    """An aware UTC datetime of ISO 8601 ("2025-11-19T00:23:22.000Z"; naive is UTC), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)
