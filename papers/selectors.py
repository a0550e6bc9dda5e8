"""Reads over papers: the trending ranking, search, and day-to-day navigation."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import TYPE_CHECKING, NotRequired, TypedDict, cast

from django.contrib.postgres.search import SearchQuery, SearchQueryField, SearchRank
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    Lookup,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce, Greatest, Power, RowNumber
from django.utils import timezone

from papers.ingest import SEARCH_CONFIG
from papers.models import Paper, PaperMetric, PaperSearchIndex, PaperThumbnail
from papers.search import search_terms_fts5, search_terms_parse

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType
    from django_stubs_ext import WithAnnotations

SEARCH_MAX_CHARS = 200

# Trending: HN-style gravity. Votes count, votes gained in the last day count double again,
# and everything decays polynomially with age so yesterday's hit gives way to today's.
_GROWTH_WINDOW = dt.timedelta(hours=24)
_GROWTH_WEIGHT = 2.0
_AGE_OFFSET_HOURS = 2.0
_GRAVITY = 1.5
# Weeks and months: no decay; a vote from the last day counts twice, a mild nudge to what is
# rising now that cannot outweigh days of votes the way the day view's decay would.
_WINDOW_GROWTH_WEIGHT = 1.0


class _EpochSeconds(Func):
    """Seconds since 1970-01-01 UTC of a date or datetime column, on PostgreSQL and SQLite alike.

    Django has no portable "epoch" extract (SQLite's strftime cannot take one), and
    subtracting datetimes gives an interval on PostgreSQL but microseconds on SQLite, so the
    age arithmetic is done on plain seconds instead. A date counts as its midnight UTC.
    """

    arity = 1
    output_field = FloatField()

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: object
    ) -> _AsSqlType:
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::double precision"
        )

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: object
    ) -> _AsSqlType:
        # julianday() reads Django's 'YYYY-MM-DD[ HH:MM:SS[.ffffff]]' text, and 2440587.5 is
        # the Julian day of 1970-01-01.
        return self.as_sql(
            compiler, connection, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        )


def _papers_visible() -> QuerySet[Paper]:
    return Paper.objects.filter(hidden=False)


def _papers_listed() -> QuerySet[Paper]:
    """Papers that belong on the public lists: not hidden by an editor, not withdrawn."""
    return _papers_visible().filter(withdrawn_at__isnull=True)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _day_after(day: dt.date) -> dt.datetime:
    """Midnight UTC after `day`; the end of time for the last representable day."""
    if day >= dt.date.max:
        return dt.datetime.max.replace(tzinfo=dt.UTC)
    return _midnight(day + dt.timedelta(days=1))


def _day_between(start: dt.date, end: dt.date) -> Q:
    """A paper's day is its HF Daily Papers date, else the (UTC) date it was published.

    Bounds on published_at itself rather than on its __date keep the index usable.
    """
    published = Q(published_at__gte=_midnight(start), published_at__lt=_day_after(end))
    return Q(hf_date__range=(start, end)) | (Q(hf_date__isnull=True) & published)


class TrendingAnnotations(TypedDict):
    """The figures paper_list_trending adds to each paper."""

    growth_24h: int
    trending_score: float
    age_hours: NotRequired[float]  # on a single day only: windows do not decay


def paper_list_trending(
    *, start: dt.date, end: dt.date, now: dt.datetime | None = None, limit: int | None = None
) -> QuerySet[WithAnnotations[Paper, TrendingAnnotations]]:
    """Listed papers of the days [start, end], best first by `trending_score`, in one query.

    One day (start == end), the day view, ranks by a score that decays with age
    (`_with_day_score`); several days (week, month) rank by votes with no decay
    (`_with_window_score`). Both weigh the votes of the last 24 hours more.
    Ties go to more upvotes, then the arXiv id, so the order is stable.
    """
    now = now or timezone.now()
    papers = (
        _papers_listed()
        .filter(_day_between(start, end))
        .annotate(growth_24h=_growth_since(now - _GROWTH_WINDOW))
    )
    scored = _with_day_score(papers, now=now) if start == end else _with_window_score(papers)
    # django-stubs types each annotate() on its own and cannot join the two branches into
    # TrendingAnnotations, where age_hours is optional.
    ranked = cast(
        "QuerySet[WithAnnotations[Paper, TrendingAnnotations]]",
        scored.order_by("-trending_score", "-upvotes", "arxiv_id"),
    )
    return ranked[:limit] if limit is not None else ranked


def _with_day_score(papers: QuerySet[Paper], *, now: dt.datetime) -> QuerySet[Paper]:
    """The papers with `age_hours` and the decayed trending score of the day view,

        score = (upvotes + 1 + 2 * growth_24h) / (age_hours + 2) ** 1.5

    - upvotes: the count as of the last fetch; +1 so a paper with no votes yet still ranks
      by freshness instead of all scoring zero.
    - growth_24h: votes gained since the latest snapshot taken at least 24 hours before `now`.
      A paper with no snapshot that old has been with us less than a day, so all its votes
      are recent (the baseline falls back to 0). Never negative (votes can be withdrawn).
    - age_hours: hours from the paper's day (HF date at midnight UTC, else published_at) to
      `now`, never negative. The +2 keeps brand-new papers from dividing by ~0; the 1.5
      power is Hacker News' gravity. Within a day HF papers share one age, so this ranks by
      votes and momentum, while an arXiv-only paper ages from its publication time.
    """
    votes = Cast(F("upvotes") + Value(1), FloatField()) + Value(_GROWTH_WEIGHT) * _growth_float()
    decay = Power(
        F("age_hours") + Value(_AGE_OFFSET_HOURS), Value(_GRAVITY), output_field=FloatField()
    )
    return papers.annotate(age_hours=_age_hours(now)).annotate(trending_score=votes / decay)


def _with_window_score(papers: QuerySet[Paper]) -> QuerySet[Paper]:
    """The papers with the trending score of a week or month: upvotes + growth_24h, no decay.

    Decay from `now` turns a window into a near-chronological list: at 08:00 UTC on a week's
    last day, a paper from its first day needs (154/10)^1.5 ~ 60x the votes of today's.
    Measuring age from each paper's own day to the end of the window is the same bias,
    frozen: the first day's papers still pay six days of decay for the six days they had to
    collect their votes. So, like huggingface.co/papers' week and month views, a window
    ranks by votes; votes of the last day count twice, a nudge for what is rising now that
    can never outweigh days of votes.
    """
    votes = Cast(F("upvotes"), FloatField())
    return papers.annotate(trending_score=votes + Value(_WINDOW_GROWTH_WEIGHT) * _growth_float())


def _growth_float() -> Cast:
    """The `growth_24h` annotation as a float, for the score arithmetic."""
    return Cast(F("growth_24h"), FloatField())


def _growth_since(since: dt.datetime) -> Greatest:
    """Votes gained since the paper's latest snapshot taken at or before `since`, never negative."""
    baseline = Subquery(
        PaperMetric.objects.filter(paper=OuterRef("pk"), captured_at__lte=since)
        .order_by("-captured_at", "-pk")
        .values("upvotes")[:1],
        output_field=IntegerField(),
    )
    return Greatest(
        F("upvotes") - Coalesce(baseline, Value(0)), Value(0), output_field=IntegerField()
    )


def _age_hours(now: dt.datetime) -> Greatest:
    """Hours from the paper's day (HF date at midnight UTC, else published_at) to `now`, >= 0."""
    now_epoch = now.timestamp()
    paper_epoch = Coalesce(
        _EpochSeconds("hf_date"),
        _EpochSeconds("published_at"),
        Value(now_epoch),
        output_field=FloatField(),
    )
    return Greatest(
        (Value(now_epoch) - paper_epoch) / Value(3600.0), Value(0.0), output_field=FloatField()
    )


def paper_latest_day(*, now: dt.datetime | None = None) -> dt.date | None:
    """The most recent day (not after today) that has listed papers; None when there are none."""
    today = (now or timezone.now()).date()
    found = _papers_listed().aggregate(
        hf=Max("hf_date", filter=Q(hf_date__lte=today)),
        published=Max(
            "published_at",
            filter=Q(hf_date__isnull=True, published_at__lt=_day_after(today)),
        ),
    )
    return _latest_day(found["hf"], found["published"])


def paper_list_feed(*, days: int, per_day: int, now: dt.datetime | None = None) -> list[Paper]:
    """The public feed's papers: the `days` days up to the newest HF date (not after today), at
    most `per_day` of each, newest day first and most upvoted first within it, in one query."""
    today = (now or timezone.now()).date()
    latest = _papers_listed().filter(hf_date__lte=today).aggregate(day=Max("hf_date"))["day"]
    if latest is None:
        return []
    rank = Window(
        RowNumber(), partition_by=[F("hf_date")], order_by=[F("upvotes").desc(), F("arxiv_id")]
    )
    papers = (
        _papers_listed()
        .filter(hf_date__range=(latest - dt.timedelta(days=days - 1), latest))
        .annotate(day_rank=rank)
        .filter(day_rank__lte=per_day)
        .order_by("-hf_date", "-upvotes", "arxiv_id")
    )
    return list(papers)


def paper_days_around(*, start: dt.date, end: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The nearest day before `start` and after `end` that have listed papers, in one query."""
    found = _papers_listed().aggregate(
        hf_prev=Max("hf_date", filter=Q(hf_date__lt=start)),
        hf_next=Min("hf_date", filter=Q(hf_date__gt=end)),
        pub_prev=Max(
            "published_at", filter=Q(hf_date__isnull=True, published_at__lt=_midnight(start))
        ),
        pub_next=Min(
            "published_at",
            filter=Q(hf_date__isnull=True, published_at__gte=_day_after(end)),
        ),
    )
    previous = _latest_day(found["hf_prev"], found["pub_prev"])
    following = _earliest_day(found["hf_next"], found["pub_next"])
    return previous, following


def _as_day(value: dt.date | dt.datetime | None) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date()
    return value


def _latest_day(*values: dt.date | dt.datetime | None) -> dt.date | None:
    days = [day for value in values if (day := _as_day(value)) is not None]
    return max(days) if days else None


def _earliest_day(*values: dt.date | dt.datetime | None) -> dt.date | None:
    days = [day for value in values if (day := _as_day(value)) is not None]
    return min(days) if days else None


def paper_get_visible(*, arxiv_id: str) -> Paper | None:
    """The paper with this id unless an editor hid it (withdrawn ones still have a page)."""
    return _papers_visible().filter(arxiv_id=arxiv_id).first()


def paper_metric_history(*, paper: Paper, limit: int = 60) -> list[PaperMetric]:
    """The paper's latest `limit` snapshots, oldest first, each with its fetch's `fetch_source`.

    A snapshot taken by loading a saved file (the sample) is dated when it was loaded, not when
    the file was captured: `fetch_source` lets the page say so.
    """
    snapshots = paper.metrics.annotate(fetch_source=F("fetch_run__source"))
    latest: list[PaperMetric] = list(snapshots.order_by("-captured_at", "-pk")[:limit])
    return latest[::-1]


def search_query_clean(query: str | None) -> str:
    """The query as searched: NFC, one line, at most SEARCH_MAX_CHARS characters."""
    # Stored text is NFC (papers.sources.text); a decomposed "ö" typed on some systems
    # would otherwise match nothing, on either backend.
    text = unicodedata.normalize("NFC", query or "")
    # PostgreSQL refuses NUL in any text parameter (a 500): it separates words like a space.
    return " ".join(text.replace("\x00", " ").split())[:SEARCH_MAX_CHARS].strip()


def paper_search(
    *, query: str, include_hidden: bool = False, limit: int | None = None
) -> QuerySet[WithAnnotations[Paper, SearchAnnotations]]:
    """Papers matching `query` in title, authors or abstract, best first; hidden too if asked.

    Both databases read the query as PostgreSQL's websearch_to_tsquery does: every word must
    match (English stemming), "quoted phrases" match as phrases, -word excludes, OR gives
    alternatives. PostgreSQL searches search_vector, SQLite the FTS5 table of migration 0005.
    The papers the whole query matches in the title come first (search_tier 0), then in the
    authors (1), then the rest (2); within a tier by relevance (search_rank, title words
    weighing most, then authors, then abstract), then newest first.
    """
    query = search_query_clean(query)
    if not query:
        return Paper.objects.none()  # type: ignore[return-value]  # an empty result of any shape
    papers = Paper.objects.all() if include_hidden else _papers_visible()
    matched = (
        _search_postgres(papers, query)
        if connection.vendor == "postgresql"
        else _search_sqlite(papers, query)
    )
    ranked = cast(
        "QuerySet[WithAnnotations[Paper, SearchAnnotations]]",
        matched.order_by(
            "search_tier",
            "-search_rank",
            F("published_at").desc(nulls_last=True),
            "-arxiv_id",  # arXiv ids grow with time: newest first among equals, never a tie
        ),
    )
    return ranked[:limit] if limit is not None else ranked


class SearchAnnotations(TypedDict):
    """What paper_search adds to each paper."""

    search_tier: int  # 0: the query matches the title alone, 1: the authors alone, 2: else
    search_rank: float  # higher is better


def _tier(*, in_title: Q | Func, in_authors: Q | Func) -> Case:
    return Case(
        When(in_title, then=Value(0)),
        When(in_authors, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )


class _TsMatches(Func):
    """`vector @@ query`, as a condition."""

    template = "(%(expressions)s)"
    arg_joiner = " @@ "
    arity = 2
    output_field = BooleanField()


class _TsQueryInField(Func):
    """The tsquery with every lexeme restricted to one weight: 'model' becomes 'model':A.

    search_vector @@ it means the query matches that field alone (title A, authors B), read
    off the vector the search loads anyway; ts_filter would build a second vector per paper
    (+40% on a word most papers have). Lexemes print as 'text' with '' for a quote.
    """

    template = (
        "regexp_replace((%(expressions)s)::text, '(''(?:[^'']|'''')+'')', '\\1:%(weight)s', 'g')"
        "::tsquery"
    )
    arity = 1
    output_field = SearchQueryField()


def _search_postgres(papers: QuerySet[Paper], query: str) -> QuerySet[Paper]:
    # search_vector is filled by papers.ingest.papers_search_index right after each ingest commits.
    search = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
    vector = F("search_vector")
    return papers.filter(search_vector=search).annotate(
        search_tier=_tier(
            in_title=_TsMatches(vector, _TsQueryInField(search, weight="A")),
            in_authors=_TsMatches(vector, _TsQueryInField(search, weight="B")),
        ),
        search_rank=SearchRank(vector, search),
    )


class _Fts5Match(Lookup):
    """`search_index__document__match=expression`: FTS5's MATCH (PaperSearchIndex only)."""

    lookup_name = "match"

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> _AsSqlType:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} MATCH {rhs}", (*lhs_params, *rhs_params)


PaperSearchIndex._meta.get_field("document").register_lookup(_Fts5Match)


class _Bm25(Func):
    """-bm25 of the joined FTS5 row, so that higher is better, as ts_rank.

    Title, authors and abstract weigh 10 : 4 : 2, the ratio of ts_rank's A, B and C.
    """

    template = "-bm25(%(expressions)s, 10.0, 4.0, 2.0)"
    arity = 1
    output_field = FloatField()


_FTS5_IDS = "SELECT rowid FROM papers_paper_fts WHERE papers_paper_fts MATCH %s"


def _fts5_matching(expression: str) -> RawSQL:
    """The ids of the papers the FTS5 expression matches (the rowid is the paper's id)."""
    # Safe: the expression is a parameter, and every term in it an FTS5 string.
    return RawSQL(_FTS5_IDS, [expression])  # noqa: S611


def _search_sqlite(papers: QuerySet[Paper], query: str) -> QuerySet[Paper]:
    # A join, not a subquery per paper: FTS5 runs the query once and hands over the rows
    # (a correlated bm25 subquery ran it again for every paper: 9 s on 10,000 papers).
    terms = search_terms_parse(query)
    if not terms:  # only punctuation or exclusions: nothing to look for
        return papers.annotate(search_tier=Value(2), search_rank=Value(0.0)).none()
    in_title = Q(id__in=_fts5_matching(search_terms_fts5(terms, column="title")))
    in_authors = Q(id__in=_fts5_matching(search_terms_fts5(terms, column="authors")))
    return papers.filter(search_index__document__match=search_terms_fts5(terms)).annotate(
        search_tier=_tier(in_title=in_title, in_authors=in_authors),
        search_rank=_Bm25(F("search_index__document")),
    )


# --- Thumbnails ----------------------------------------------------------------------------
# A failed fetch whose error starts with this is tried again later (papers.thumbnails).
THUMBNAIL_TEMPORARY = "temporary: "
THUMBNAIL_RETRY_AFTER = dt.timedelta(hours=1)


def papers_with_thumbnail(*, papers: QuerySet[Paper]) -> QuerySet[Paper]:
    """The papers with `thumbnail_at`: when their stored thumbnail was fetched, None without one.

    One subquery instead of a query per card; the templates link our copy only when it exists,
    with the time as a version in the URL so that browsers may cache it for good.
    """
    stored = PaperThumbnail.objects.filter(paper=OuterRef("pk")).exclude(content_type="")
    return papers.annotate(thumbnail_at=Subquery(stored.values("fetched_at")[:1]))


def paper_thumbnail_get(*, arxiv_id: str) -> PaperThumbnail | None:
    """The stored image of a visible paper, None when there is none (not fetched, or failed)."""
    return (
        PaperThumbnail.objects.filter(paper__in=_papers_visible().filter(arxiv_id=arxiv_id))
        .exclude(content_type="")
        .first()
    )


def paper_thumbnail_at(*, paper: Paper) -> dt.datetime | None:
    """When the paper's stored thumbnail was fetched; None when there is none to show."""
    return (
        PaperThumbnail.objects.filter(paper=paper)
        .exclude(content_type="")
        .values_list("fetched_at", flat=True)
        .first()
    )


def paper_list_thumbnail_due(*, now: dt.datetime, limit: int) -> list[Paper]:
    """Papers whose thumbnail URL has not been fetched yet: never, only from an older URL, or
    with a temporary failure at least THUMBNAIL_RETRY_AFTER ago. Newest papers first."""
    current = PaperThumbnail.objects.filter(paper=OuterRef("pk"), source_url=OuterRef("thumbnail"))
    settled = current.exclude(
        error__startswith=THUMBNAIL_TEMPORARY, fetched_at__lt=now - THUMBNAIL_RETRY_AFTER
    )
    papers = (
        _papers_visible()
        .filter(thumbnail__startswith="https://")
        .exclude(Exists(settled))
        .order_by("-first_seen_at", "-pk")
    )
    return list(papers[:limit])


def paper_list_by_arxiv_ids(*, arxiv_ids: list[str]) -> list[Paper]:
    """The papers with these arXiv ids (hidden ones too: an editor's command), in that order."""
    found = {paper.arxiv_id: paper for paper in Paper.objects.filter(arxiv_id__in=arxiv_ids)}
    return [found[arxiv_id] for arxiv_id in dict.fromkeys(arxiv_ids) if arxiv_id in found]
