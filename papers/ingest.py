"""Bulk upsert of parsed records into Paper rows, with a metric snapshot per fetch.

Every source maps to the arXiv id, so the same paper from Hugging Face and from arXiv is one
row. Per chunk of ~1,000 records the database sees a constant number of queries: one SELECT
of the rows that exist (locked on PostgreSQL), one INSERT of the new rows (COPY on
PostgreSQL), one INSERT … ON CONFLICT DO UPDATE of the changed rows, one UPDATE of
last_seen_at for the unchanged rows, and one INSERT of the metric snapshots. The merge
itself happens in Python.

The full-text vector is not computed inside the ingest: to_tsvector over 10,000 abstracts
and the GIN index inserts cost about 5 s on two cores, several times the whole upsert, and
would hold the ingest lock all that time. New and re-worded papers are stored with a NULL
search_vector and `papers_search_index` fills it in one UPDATE once the ingest has committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any

from django.contrib.postgres.search import SearchVector
from django.db import connection, models, transaction
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Cast
from django.utils import timezone

from papers.models import FetchRun, Paper, PaperMetric, Source
from papers.sources.records import PaperRecord
from papers.sources.text import arxiv_id_normalize

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000
# Any constant will do: it only has to be the same for every ingest (see _lock_ingest).
ADVISORY_LOCK_KEY = 0x5A9E_B0E1

ARXIV_SOURCES = frozenset({Source.ARXIV, Source.ARXIV_RSS})
HF_SOURCES = frozenset({Source.HF, Source.HF_HTML})
RECORD_SOURCES = ARXIV_SOURCES | HF_SOURCES

# Fields arXiv is the authority on once it has seen the paper (see _merge_text).
TEXT_FIELDS = ("title", "abstract", "authors")
# Fields only Hugging Face knows: the newest known value wins.
HF_FIELDS = (
    "hf_date",
    "upvotes",
    "num_comments",
    "github_repo",
    "github_stars",
    "project_page",
    "thumbnail",
    "ai_summary",
    "ai_keywords",
    "media_urls",
)
# The organization's display name and hub name are one value: they are replaced together.
ORGANIZATION_FIELDS = ("organization", "organization_slug")
# Fields only arXiv knows (the authors' comment, the journal reference): the newest known wins.
ARXIV_FIELDS = ("arxiv_comment", "journal_ref")
MERGED_FIELDS = (
    *TEXT_FIELDS,
    "published_at",
    *HF_FIELDS,
    *ORGANIZATION_FIELDS,
    *ARXIV_FIELDS,
    "categories",
    "withdrawn_at",
    "sources",
)
# The text the search vector is made of: when one of these changes, the vector is redone.
SEARCH_TEXT_FIELDS = ("title", "authors", "abstract")
SEARCH_CONFIG = "english"

# Limits that separate a real paper from garbage: generous, but a value past them is a bug
# upstream (or hostile input), and it must not reach the table or break the batch.
MAX_TITLE = 2_000
MAX_TEXT = 50_000  # arXiv caps abstracts at 1,920 characters; HF summaries are shorter still
MAX_AUTHORS = 10_000  # the record is in the thousands (ATLAS, CMS)
MAX_NAME = 500
MAX_LIST_ITEM = 200
MAX_COUNT = 10_000_000
MAX_URL = 500  # Paper's URLField max_length
MAX_MEDIA_URLS = 20
MAX_NOTE = 2_000  # an arXiv comment or journal reference (the parser cuts them at 1,000 and 500)
MAX_ORGANIZATION = 200  # Paper.organization's max_length
MAX_ORGANIZATION_SLUG = 100  # Paper.organization_slug's max_length
MAX_ARXIV_ID = 40  # Paper.arxiv_id's max_length
MIN_YEAR = 1991  # arXiv opened in August 1991


@dataclass
class IngestCounts:
    """What one ingest did to the Paper table."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    def __add__(self, other: IngestCounts) -> IngestCounts:
        return IngestCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


def papers_ingest(
    *, records: Iterable[PaperRecord], fetch_run: FetchRun | None, now: dt.datetime | None = None
) -> IngestCounts:
    """Upsert records by arXiv id, merging sources, and snapshot metrics; skip invalid records."""
    now = now or timezone.now()
    counts = IngestCounts()
    grouped: dict[str, list[PaperRecord]] = {}
    for record in records:
        reason = record_invalid_reason(record, now=now)
        if reason:
            counts.skipped += 1
            logger.warning(
                "record skipped (run #%s): %s",
                _fetch_run_id(fetch_run),
                reason,
                extra={
                    "arxiv_id": str(record.arxiv_id)[:60],
                    "reason": reason,
                    "fetch_run": _fetch_run_id(fetch_run),
                },
            )
            continue
        # The same paper twice in one batch (or one response) becomes one row: its records are
        # merged, later ones winning.
        grouped.setdefault(record.arxiv_id, []).append(record)
    if not grouped:
        return counts
    # savepoint=False: inside the caller's transaction this adds no queries; alone it is its own.
    with transaction.atomic(savepoint=False):
        _lock_ingest()
        for chunk in _chunks(grouped, CHUNK_SIZE):
            counts += _ingest_chunk(chunk, fetch_run=fetch_run, now=now)
    return counts


def record_invalid_reason(record: PaperRecord, *, now: dt.datetime) -> str:
    """Why a record cannot be stored ("" when it can): checked before anything is written."""
    if not isinstance(record.arxiv_id, str) or len(record.arxiv_id) > MAX_ARXIV_ID:
        return (
            f"arXiv id is not a string of at most {MAX_ARXIV_ID} characters: "
            f"{record.arxiv_id!r:.60}"
        )
    if arxiv_id_normalize(record.arxiv_id) != record.arxiv_id:
        return f"not a bare arXiv id: {record.arxiv_id!r}"
    if record.source not in RECORD_SOURCES:
        return f"unknown source {record.source!r}"
    return (
        _text_reason(record)
        or _list_reason(record)
        or _count_reason(record)
        or _url_reason(record)
        or _date_reason(record, now=now)
        or _nul_reason(record)
    )


def _text_reason(record: PaperRecord) -> str:
    if not isinstance(record.title, str) or not record.title.strip():
        return "no title"
    if len(record.title) > MAX_TITLE:
        return f"title longer than {MAX_TITLE} characters"
    for name, limit in (
        ("abstract", MAX_TEXT),
        ("ai_summary", MAX_TEXT),
        ("arxiv_comment", MAX_NOTE),
        ("journal_ref", MAX_NOTE),
        ("organization", MAX_ORGANIZATION),
        ("organization_slug", MAX_ORGANIZATION_SLUG),
    ):
        value = getattr(record, name)
        if not isinstance(value, str) or len(value) > limit:
            return f"{name} is not a string of at most {limit} characters"
    return ""


def _nul_reason(record: PaperRecord) -> str:
    # PostgreSQL refuses NUL in text; one such record must not fail the whole batch.
    return "NUL character in text" if "\x00" in "".join(_text_values(record)) else ""


def _list_reason(record: PaperRecord) -> str:
    for name, limit, item_limit in (
        ("authors", MAX_AUTHORS, MAX_NAME),
        ("ai_keywords", 100, MAX_LIST_ITEM),
        ("categories", 100, MAX_LIST_ITEM),
    ):
        value = getattr(record, name)
        if not isinstance(value, tuple | list) or len(value) > limit:
            return f"{name} is not a list of at most {limit} items"
        if not all(isinstance(item, str) and 0 < len(item) <= item_limit for item in value):
            return f"{name} holds an empty, over-long or non-string item"
    return ""


def _count_reason(record: PaperRecord) -> str:
    for name in ("upvotes", "num_comments", "github_stars"):
        value = getattr(record, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            return f"{name} is not a count between 0 and {MAX_COUNT}: {value!r:.40}"
    return ""


def _url_reason(record: PaperRecord) -> str:
    for name in ("github_repo", "project_page", "thumbnail"):
        value = getattr(record, name)
        if not isinstance(value, str):
            return f"{name} is not a string"
        if value and not _is_http_url(value):
            return f"{name} is not an http(s) URL of at most {MAX_URL} characters"
    media = record.media_urls
    if not isinstance(media, tuple | list) or len(media) > MAX_MEDIA_URLS:
        return f"media_urls is not a list of at most {MAX_MEDIA_URLS} items"
    if not all(isinstance(url, str) and _is_http_url(url) for url in media):
        return (
            f"media_urls holds something other than an http(s) URL of at most {MAX_URL} characters"
        )
    return ""


def _is_http_url(value: str) -> bool:
    return len(value) <= MAX_URL and value.lower().startswith(("https://", "http://"))


def _date_reason(record: PaperRecord, *, now: dt.datetime) -> str:
    latest = now.year + 1
    for name in ("published_at", "withdrawn_at"):
        value = getattr(record, name)
        if value is None:
            continue
        if not isinstance(value, dt.datetime) or timezone.is_naive(value):
            return f"{name} is not an aware datetime"
        if not MIN_YEAR <= value.year <= latest:
            return f"{name} is out of range: {value.isoformat()}"
    if record.hf_date is not None and (
        not isinstance(record.hf_date, dt.date) or not MIN_YEAR <= record.hf_date.year <= latest
    ):
        return f"hf_date is not a plausible date: {record.hf_date!r}"
    return ""


def _text_values(record: PaperRecord) -> Iterator[str]:
    # Types were checked before this runs: these are all strings.
    yield from (record.arxiv_id, record.title, record.abstract, record.ai_summary)
    yield from (record.github_repo, record.project_page, record.thumbnail)
    yield from (record.organization, record.organization_slug)
    yield from (record.arxiv_comment, record.journal_ref)
    yield from record.media_urls
    yield from record.authors
    yield from record.ai_keywords
    yield from record.categories


def _lock_ingest() -> None:
    """On PostgreSQL, let one ingest at a time write papers (held until the transaction ends).

    SELECT … FOR UPDATE makes concurrent HF and arXiv fetches merge into rows that exist, but it
    cannot lock a row that does not exist yet: two fetches inserting the same new paper would
    collide on the unique arXiv id. A transaction-scoped advisory lock serializes the (short)
    write phase of concurrent ingests, so the second one sees the first one's rows and merges.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])


def _chunks(
    grouped: dict[str, list[PaperRecord]], size: int
) -> Iterator[dict[str, list[PaperRecord]]]:
    items = list(grouped.items())
    for start in range(0, len(items), size):
        yield dict(items[start : start + size])


def _ingest_chunk(
    chunk: dict[str, list[PaperRecord]], *, fetch_run: FetchRun | None, now: dt.datetime
) -> IngestCounts:
    existing_qs = Paper.objects.filter(arxiv_id__in=list(chunk))
    if connection.features.has_select_for_update:
        existing_qs = existing_qs.select_for_update()
    existing = {paper.arxiv_id: paper for paper in existing_qs}

    new: list[Paper] = []
    changed: list[Paper] = []
    unchanged: list[Paper] = []
    for arxiv_id, records in chunk.items():
        paper = existing.get(arxiv_id)
        if paper is None:
            paper = Paper(arxiv_id=arxiv_id, first_seen_at=now, last_seen_at=now)
            _merge_records(paper, records)
            _code_seen(paper, now=now)
            new.append(paper)
        elif _merge_records(paper, records):
            paper.last_seen_at = now
            _code_seen(paper, now=now)
            changed.append(paper)
        else:
            unchanged.append(paper)

    if new:
        _insert_new_papers(new, now=now)
    if changed:
        # INSERT … ON CONFLICT DO UPDATE: one statement, where bulk_update would build
        # a CASE per field.
        Paper.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["arxiv_id"],
            update_fields=[
                *MERGED_FIELDS,
                "code_seen_at",
                "search_vector",
                "last_seen_at",
                "updated_at",
            ],
        )
    if unchanged:
        # A queryset update, not save(): updated_at (auto_now) must stay as it was. On PostgreSQL
        # this is a HOT update that touches no index, thanks to the table's fillfactor (0003).
        Paper.objects.filter(pk__in=[paper.pk for paper in unchanged]).update(last_seen_at=now)
    _snapshot_metrics(chunk, papers=[*new, *changed, *unchanged], fetch_run=fetch_run, now=now)
    return IngestCounts(created=len(new), updated=len(changed), unchanged=len(unchanged))


def _code_seen(paper: Paper, *, now: dt.datetime) -> None:
    """Note when a fetch first saw the paper's code link (readers sent it before are told)."""
    if paper.github_repo and paper.code_seen_at is None:
        paper.code_seen_at = now


def _merge_records(paper: Paper, records: list[PaperRecord]) -> bool:
    """Merge records, in order, into the paper; True if any stored field changed."""
    before = {name: getattr(paper, name) for name in MERGED_FIELDS}
    for record in records:
        _merge_one_record(paper, record)
    if any(getattr(paper, name) != before[name] for name in SEARCH_TEXT_FIELDS):
        paper.search_vector = None  # redone by papers_search_index after commit
    return any(getattr(paper, name) != value for name, value in before.items())


def _merge_one_record(paper: Paper, record: PaperRecord) -> None:
    """Merge one record into the paper: a value the source lacks never erases a known one."""
    _merge_text(paper, record)
    _merge_published(paper, record)
    _merge_hf(paper, record)
    for name in ARXIV_FIELDS:
        if value := getattr(record, name):
            setattr(paper, name, value)
    categories = list(record.categories)
    # arXiv is the authority on categories; another source only fills them in when none are known.
    if categories and (record.source in ARXIV_SOURCES or not paper.categories):
        paper.categories = categories
    if record.withdrawn_at is not None:
        paper.withdrawn_at = record.withdrawn_at
    paper.sources = sorted({*(paper.sources or []), record.source})


def _merge_hf(paper: Paper, record: PaperRecord) -> None:
    """Hugging Face's fields: its newest known answer is the truth (upvotes go down too).

    Another source only fills in an empty one: a code link read from an arXiv comment is a
    guess, and Hugging Face's own link (set by the authors or HF users) is better.
    """
    for name in HF_FIELDS:
        value = _as_stored(getattr(record, name))
        if _is_known(value) and (
            record.source in HF_SOURCES or not _is_known(getattr(paper, name))
        ):
            setattr(paper, name, value)
    if record.organization:
        # The slug goes with its name, even when unknown: an old one would link to another page.
        paper.organization = record.organization
        paper.organization_slug = record.organization_slug


def _merge_text(paper: Paper, record: PaperRecord) -> None:
    """Title, abstract, authors: arXiv's version once arXiv has seen the paper.

    arXiv holds the paper itself: its title and abstract follow each new version, and its
    author list is complete and ordered. Hugging Face copies them when a paper is submitted
    and may lag behind a revision, so once an arXiv source has seen the paper an HF record only
    fills in what is still empty. Until then (an HF-only paper) the newest HF record wins, so
    HF's own corrections come through.
    """
    authoritative = record.source in ARXIV_SOURCES or not ARXIV_SOURCES.intersection(
        paper.sources or []
    )
    for name in TEXT_FIELDS:
        value = _as_stored(getattr(record, name))
        if _is_known(value) and (authoritative or not _is_known(getattr(paper, name))):
            setattr(paper, name, value)


def _merge_published(paper: Paper, record: PaperRecord) -> None:
    """The earliest date any source gives is kept: a later one never replaces it.

    published_at is the day the paper first appeared (its first version). The arXiv API gives
    exactly that; the RSS feeds give the day of an announcement, which for a cross-list or a
    new version of an old paper is years later. Were the newest value to win, an old paper
    re-announced today would look new and come back in a digest. No source dates a paper
    before it appeared, so the earliest known date is the best one.
    """
    value = record.published_at
    if value is not None and (paper.published_at is None or value < paper.published_at):
        paper.published_at = value


def _as_stored(value: Any) -> Any:
    # JSONField reads back lists, so compare and store lists, not the record's tuples.
    return list(value) if isinstance(value, tuple) else value


def _is_known(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _insert_new_papers(papers: list[Paper], *, now: dt.datetime) -> None:
    """Insert new papers in one statement."""
    for paper in papers:
        # What auto_now(_add) would set: COPY skips pre_save.
        paper.created_at = paper.updated_at = now
    _bulk_insert(Paper, papers)


def _bulk_insert(model: type[models.Model], objects: list[Any], *, with_pks: bool = True) -> None:
    """COPY on PostgreSQL (several times faster than bulk INSERT for 1,000 rows), else bulk_create.

    with_pks: the objects learn their primary keys (one more query, to the table's sequence).
    """
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objects)
        return
    table = model._meta.db_table
    fields = [field for field in model._meta.concrete_fields if with_pks or not field.primary_key]
    json_fields = {field.attname for field in fields if isinstance(field, models.JSONField)}
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    statement = f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor:
        if with_pks:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, len(objects)],
            )
            for obj, (pk,) in zip(objects, cursor.fetchall(), strict=True):
                obj.pk = pk
        with _copy_counted(cursor, statement), cursor.cursor.copy(statement) as copy:
            for obj in objects:
                row = [getattr(obj, field.attname) for field in fields]
                copy.write_row(
                    [
                        json.dumps(v) if f.attname in json_fields else v
                        for f, v in zip(fields, row, strict=True)
                    ]
                )


def _copy_counted(cursor: Any, statement: str) -> Any:
    """Count a COPY as one query where Django records queries (DEBUG, tests, benchmarks)."""
    debug_sql = getattr(cursor, "debug_sql", None)
    return debug_sql(statement) if debug_sql is not None else contextlib.nullcontext()


def paper_search_vector() -> CombinedExpression:
    """The weighted full-text vector of a paper: title (A), authors (B), abstract (C)."""
    return (
        SearchVector("title", weight="A", config=SEARCH_CONFIG)
        + SearchVector(
            Cast("authors", output_field=models.TextField()), weight="B", config=SEARCH_CONFIG
        )
        + SearchVector("abstract", weight="C", config=SEARCH_CONFIG)
    )


def papers_search_index() -> int:
    """Fill every missing search_vector (PostgreSQL; 0 elsewhere); returns how many were filled."""
    if connection.vendor != "postgresql":
        return 0
    return Paper.objects.filter(search_vector__isnull=True).update(
        search_vector=paper_search_vector()
    )


def _snapshot_metrics(
    chunk: dict[str, list[PaperRecord]],
    *,
    papers: list[Paper],
    fetch_run: FetchRun | None,
    now: dt.datetime,
) -> None:
    """One PaperMetric per paper of this fetch whose records carried counters (HF ones do)."""
    with_metrics = {
        arxiv_id
        for arxiv_id, records in chunk.items()
        if any(r.upvotes is not None for r in records)
    }
    metrics = [
        PaperMetric(
            paper_id=paper.pk,
            fetch_run=fetch_run,
            captured_at=now,
            upvotes=paper.upvotes,
            num_comments=paper.num_comments,
            github_stars=paper.github_stars,
        )
        for paper in papers
        if paper.arxiv_id in with_metrics
    ]
    if metrics:
        _bulk_insert(PaperMetric, metrics, with_pks=False)


def _fetch_run_id(fetch_run: FetchRun | None) -> int | None:
    return fetch_run.pk if fetch_run is not None else None
