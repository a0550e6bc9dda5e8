"""The arXiv Atom API (https://export.arxiv.org/api/query): fetch pages of a query, parse entries.

The parse part is pure (bytes in, records out). XML is only ever read through `parse_xml`,
which uses defusedxml: a feed is untrusted input and an entity bomb must fail, not expand.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError as XMLSyntaxError

import defusedxml
import defusedxml.ElementTree

from papers.sources.http import FetchError
from papers.sources.records import PaperRecord, ParseError, ParseResult
from papers.sources.text import arxiv_id_normalize, clean_text, clean_text_capped, parse_datetime

if TYPE_CHECKING:
    from papers.sources.http import Fetched, HttpClient

API_URL = "https://export.arxiv.org/api/query"
# An author's papers by ORCID iD (or arXiv author id): arXiv's author feed, documented at
# https://info.arxiv.org/help/author_identifiers.html. It lists every paper linked to the iD
# (no paging, no totalResults), and answers 404 (newer servers: 400) for an iD it does not know.
AUTHOR_FEED_URL = "https://arxiv.org/a/{author_id}.atom2"
SOURCE = "arxiv"

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"

# The comment and the journal reference are free text typed by the authors: these caps hold any
# real one (the longest in tests/fixtures is 414 characters) and keep a page readable.
MAX_COMMENT = 1_000
MAX_JOURNAL_REF = 500
# A GitHub repository named in a comment: "Code: https://github.com/owner/repo", "github.com/o/r".
_GITHUB_REPO = re.compile(
    r"(?<![\w./@-])(?:https?://)?(?:www\.)?github\.com/([A-Za-z0-9][A-Za-z0-9-]*)/([\w.-]+)",
    re.IGNORECASE,
)


def parse_xml(raw: bytes) -> Element:
    """The root element of an XML document; ParseError (one line) if empty, malformed or hostile."""
    # A saved file may start with a BOM or blank lines, which expat refuses before "<?xml".
    raw = raw.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not raw:
        raise ParseError("empty response body")
    raw = _undo_double_encoding(raw)
    try:
        # No arXiv feed has a DTD, so none is allowed:
        # that stops entity bombs and external entities early.
        return defusedxml.ElementTree.fromstring(raw, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise ParseError(f"forbidden XML entity, DTD or external reference: {exc}") from exc
    except XMLSyntaxError as exc:
        raise ParseError(f"malformed XML: {exc}") from exc


def _undo_double_encoding(raw: bytes) -> bytes:
    """The UTF-8 bytes of a body saved after being decoded as Latin-1 ("Wübben" -> "WÃ¼bben").

    Recorders and tools that take `response.text` of a body served without a charset do this
    (the 2026 API captures in tests/fixtures are such files). Only a document that round-trips
    whole is changed: one real character above U+00FF, or one real Latin-1 letter, leaves it as is.
    """
    if raw.isascii():
        return raw
    try:
        fixed = raw.decode("utf-8").encode("latin-1")
        fixed.decode("utf-8")
    except UnicodeError:
        return raw
    return fixed


def parse(raw: bytes) -> ParseResult:
    """Every `<entry>` of an arXiv API Atom feed as a PaperRecord; an error feed is a ParseError."""
    feed = _feed_parse(raw)
    result = ParseResult()
    for index, entry in enumerate(feed.iterfind(f"{ATOM}entry")):
        record = _entry_record(entry)
        if isinstance(record, str):
            result.skipped.append(f"entry {index}: {record}")
        else:
            result.records.append(record)
    return result


def total_results(raw: bytes) -> int:
    """The feed's opensearch:totalResults: how many entries the whole query has, over all pages."""
    return _feed_total_results(_feed_parse(raw))


def _feed_total_results(feed: Element) -> int:
    value = feed.findtext(f"{OPENSEARCH}totalResults")
    try:
        return int((value or "").strip())
    except ValueError:
        raise ParseError(
            f"arXiv API feed has no valid opensearch:totalResults: {value!r}"
        ) from None


def _feed_parse(raw: bytes) -> Element:
    root = parse_xml(raw)
    if root.tag != f"{ATOM}feed":
        raise ParseError(f"not an Atom feed: root element is {root.tag!r}")
    _raise_on_error_entry(root)
    return root


def _raise_on_error_entry(feed: Element) -> None:
    # arXiv reports a bad query (HTTP 400) as a feed whose single entry is the error message.
    for entry in feed.iterfind(f"{ATOM}entry"):
        if "/api/errors" in (entry.findtext(f"{ATOM}id") or ""):
            message = clean_text(entry.findtext(f"{ATOM}summary")) or "unknown error"
            raise ParseError(f"arXiv API error: {message}")


def _entry_record(entry: Element) -> PaperRecord | str:
    """The record of one entry, or the reason it was skipped."""
    raw_id = clean_text(entry.findtext(f"{ATOM}id"))
    arxiv_id = arxiv_id_normalize(raw_id)
    if arxiv_id is None:
        return f"no valid arXiv id in <id> {raw_id!r}"
    title = clean_text(entry.findtext(f"{ATOM}title"))
    if not title:  # only an empty title is missing: "0" is the real title of 2104.12255
        return f"{arxiv_id}: no title"
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        source=SOURCE,
        abstract=clean_text(entry.findtext(f"{ATOM}summary")),
        authors=_authors(entry),
        published_at=parse_datetime(entry.findtext(f"{ATOM}published")),
        categories=_categories(entry),
        arxiv_comment=clean_text_capped(entry.findtext(f"{ARXIV}comment"), limit=MAX_COMMENT),
        journal_ref=clean_text_capped(entry.findtext(f"{ARXIV}journal_ref"), limit=MAX_JOURNAL_REF),
        github_repo=github_repo_in(clean_text(entry.findtext(f"{ARXIV}comment"))),
    )


def github_repo_in(comment: str) -> str:
    """The GitHub repository a comment links to, if it names exactly one ("" otherwise).

    Authors point to their code this way ("Code: https://github.com/owner/repo"). A comment
    naming two repositories (theirs and a baseline's?) does not say which is theirs: none then.
    The ingest only fills an empty code link with it; Hugging Face's own link wins.
    """
    repos: dict[str, str] = {}
    for match in _GITHUB_REPO.finditer(comment):
        name = match[2].rstrip(".")
        name = name[:-4] if name.lower().endswith(".git") else name
        if name.strip(".") and len(name) <= 100:
            url = f"https://github.com/{match[1]}/{name}"
            repos.setdefault(url.lower(), url)
    return next(iter(repos.values())) if len(repos) == 1 else ""


def _authors(entry: Element) -> tuple[str, ...]:
    names = (
        clean_text(author.findtext(f"{ATOM}name")) for author in entry.iterfind(f"{ATOM}author")
    )
    return tuple(name for name in names if name)


def _categories(entry: Element) -> tuple[str, ...]:
    primary = entry.find(f"{ARXIV}primary_category")
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [category.get("term", "") for category in entry.iterfind(f"{ATOM}category")]
    # dict.fromkeys keeps the first occurrence, so the primary category stays in front.
    return tuple(dict.fromkeys(term.strip() for term in terms if term and term.strip()))


def search_query(
    *,
    category: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    author: str | None = None,
) -> str:
    """arXiv's search_query for a category, an author and/or a submission-date window.

    "" for none of them. A window with only `since` runs to today; one with only `until` is
    that single day. An author is searched as a phrase: au:"Adrian Del Maestro".
    """
    parts = [f"cat:{category}"] if category else []
    if author:
        # A quote would end the phrase early and let the rest be read as query syntax.
        name = " ".join(author.replace('"', " ").split())
        parts.append(f'au:"{name}"')
    start = since or until
    if start is not None:
        end = until or dt.date.today()
        if start > end:
            raise ValueError(f"since ({start}) is after until ({end})")
        parts.append(f"submittedDate:[{start:%Y%m%d}0000 TO {end:%Y%m%d}2359]")
    return " AND ".join(parts)


def fetch(
    client: HttpClient,
    *,
    category: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    ids: list[str] | None = None,
    author: str | None = None,
    page_size: int = 200,
    max_results: int = 2000,
) -> list[Fetched]:
    """The pages of one query, newest submissions first, until totalResults or max_results.

    The client paces the requests (arXiv asks for one every 3 seconds: give it min_interval=3).
    """
    query = search_query(category=category, since=since, until=until, author=author)
    if not query and not ids:
        raise ValueError("an arXiv API fetch needs a category, a date window or ids, or an author")
    if page_size < 1 or max_results < 1:
        raise ValueError("page_size and max_results must be positive")
    params: dict[str, str | int] = {"sortBy": "submittedDate", "sortOrder": "descending"}
    if query:
        params["search_query"] = query
    if ids:
        params["id_list"] = ",".join(ids)
    pages: list[Fetched] = []
    start = 0
    while start < max_results:
        size = min(page_size, max_results - start)
        fetched = _page_get(client, {**params, "start": start, "max_results": size})
        if fetched is None:  # 304: this page is unchanged since it was last ingested
            break
        pages.append(fetched)
        start += size
        total, entries = _page_counts(fetched.content)
        # An empty page ends the loop too: arXiv sometimes under-delivers,
        # and retrying it could loop forever.
        if start >= total or entries == 0:
            break
    return pages


def _page_get(client: HttpClient, params: dict[str, str | int]) -> Fetched | None:
    """One page; an HTTP error whose body is arXiv's error feed fails with arXiv's own words."""
    try:
        return client.get(API_URL, params=params)
    except FetchError as exc:
        if not exc.content:
            raise
        try:
            parse(exc.content)
        except ParseError as explained:
            raise FetchError(
                f"{API_URL}: HTTP {exc.status}: {explained}", status=exc.status
            ) from exc
        raise


def _page_counts(raw: bytes) -> tuple[int, int]:
    """(opensearch:totalResults, entries on this page) of one page."""
    feed = _feed_parse(raw)
    return _feed_total_results(feed), len(feed.findall(f"{ATOM}entry"))


def author_feed_fetch(client: HttpClient, *, author_id: str) -> list[Fetched]:
    """arXiv's author feed of an ORCID iD ("0000-0002-1825-0097") or arXiv author id.

    Never conditional: the caller wants the papers now, even if the feed did not change.
    """
    fetched = client.get(AUTHOR_FEED_URL.format(author_id=author_id), conditional=False)
    return [fetched] if fetched is not None else []


def author_feed_parse(raw: bytes) -> ParseResult:
    """Every entry of an author feed (.atom2) as a PaperRecord, like an API feed's.

    The .atom2 flavour gives each entry one <author> whose name is every author joined by ", "
    (arXiv's own browse code writes it so): it is split back into names.
    """
    result = parse(raw)
    records = [_authors_split(record) for record in result.records]
    return ParseResult(records=records, skipped=result.skipped)


def _authors_split(record: PaperRecord) -> PaperRecord:
    if len(record.authors) != 1 or ", " not in record.authors[0]:
        return record
    names = tuple(name.strip() for name in record.authors[0].split(", ") if name.strip())
    return dataclasses.replace(record, authors=names)
