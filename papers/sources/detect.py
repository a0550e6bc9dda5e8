"""Which source a saved response came from (`fetch_papers --from-file`), from its first bytes.

Only the head of the file is read: the format shows in the first bytes and the root element
(and its namespaces), so a large file is never parsed twice. The chosen parser then does the
real, safe parse and reports anything wrong with the body.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from papers.sources import arxiv_api, arxiv_rss, hf_api, hf_html
from papers.sources.records import ParseError, ParseResult

HEAD_BYTES = 64 * 1024
UNRECOGNIZED = (
    "unrecognized format: expected HF daily_papers JSON, HF papers HTML, arXiv Atom or arXiv RSS"
)

PARSERS: dict[str, Callable[[bytes], ParseResult]] = {
    "hf": hf_api.parse,
    "hf-html": hf_html.parse,
    "arxiv": arxiv_api.parse,
    "arxiv-rss": arxiv_rss.parse,
}

_BOM = b"\xef\xbb\xbf"
# What may come before the root element: the XML declaration, processing instructions,
# comments, a DOCTYPE.
_PROLOG_ITEM = re.compile(
    rb"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE\s+(?!html\b)[^\[>]*(?:\[.*?\])?\s*>)", re.S | re.I
)
_HTML_START = re.compile(rb"\s*(?:<!DOCTYPE\s+html\b|<html\b)", re.I)
_ROOT_TAG = re.compile(rb"\s*<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")


def detect_format(raw: bytes) -> str:
    """One of "hf", "hf-html", "arxiv", "arxiv-rss"; ParseError if the bytes are none of them."""
    head = raw[:HEAD_BYTES].removeprefix(_BOM).lstrip()
    if head[:1] in (b"[", b"{"):
        return "hf"
    if not head.startswith(b"<"):
        raise ParseError(UNRECOGNIZED)
    position = 0
    while match := _PROLOG_ITEM.match(head, position):
        position = match.end()
    if _HTML_START.match(head, position):
        # Any HTML page is not an HF page: the name shows up in the first
        # few hundred bytes of theirs.
        if b"huggingface" in head.lower():
            return "hf-html"
        raise ParseError(UNRECOGNIZED)
    root = _ROOT_TAG.match(head, position)
    if root is None or b"arxiv" not in head.lower():
        raise ParseError(UNRECOGNIZED)
    return _xml_format(root[1], head)


def _xml_format(root: bytes, head: bytes) -> str:
    if root == b"rss":
        return "arxiv-rss"
    if root == b"feed":
        # Only the feed's own header counts, not what an abstract happens to mention. The
        # announcement feed's id is on rss.arxiv.org; the API's feed declares opensearch (on the
        # root since 2025, on each element before) and links to arxiv.org/api.
        header = head.split(b"<entry", 1)[0]
        if b"rss.arxiv.org" in header:
            return "arxiv-rss"
        if b"a9.com/-/spec/opensearch" in header or b"arxiv.org/api" in header:
            return "arxiv"
    raise ParseError(UNRECOGNIZED)
