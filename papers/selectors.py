"""Reads over papers: the trending ranking, search, and day-to-day navigation."""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from typing import TYPE_CHECKING, NotRequired, TypedDict, cast

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import (
    Case,
    F,
    FloatField,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Greatest, Power
from django.utils import timezone

from papers.ingest import SEARCH_CONFIG
from papers.models import Paper, PaperMetric

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType
    from django_stubs_ext import WithAnnotations

SEARCH_MAX_CHARS = 200
_SEARCH_MAX_WORDS = 8
_WORD = re.compile(r"\w[\w.+-]*", re.UNICODE)

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
    """The paper's latest `limit` snapshots, oldest first."""
    latest = list(paper.metrics.order_by("-captured_at", "-pk")[:limit])
    return latest[::-1]


def search_query_clean(query: str | None) -> str:
    """The query as searched: NFC, one line, at most SEARCH_MAX_CHARS characters."""
    # Stored text is NFC (papers.sources.text); a decomposed "ö" typed on some systems
    # would otherwise match nothing, on either backend.
    text = unicodedata.normalize("NFC", query or "")
    # PostgreSQL refuses NUL in any text parameter (a 500): it separates words like a space.
    return " ".join(text.replace("\x00", " ").split())[:SEARCH_MAX_CHARS].strip()


def paper_search(*, query: str, limit: int = 50) -> QuerySet[Paper]:
    """Visible papers matching `query` over title, authors and abstract, best first.

    PostgreSQL: weighted full-text search (title A, authors B, abstract C), websearch syntax
    ("quoted phrases", -exclusions, OR), ranked by ts_rank. SQLite: any of the words as a
    case-insensitive substring (accented names too), title hits then most upvoted first, so the
    site still works with no server.
    """
    query = search_query_clean(query)
    if not query:
        return Paper.objects.none()
    papers = (
        _search_postgres(query) if connection.vendor == "postgresql" else _search_fallback(query)
    )
    return papers[:limit]


def _search_postgres(query: str) -> QuerySet[Paper]:
    # search_vector is filled by papers.ingest.papers_search_index right after each ingest commits.
    search = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
    return (
        _papers_visible()
        .filter(search_vector=search)
        .annotate(rank=SearchRank(F("search_vector"), search))
        .order_by("-rank", "-upvotes", "arxiv_id")
    )


def _search_fallback(query: str) -> QuerySet[Paper]:
    words = _WORD.findall(query)[:_SEARCH_MAX_WORDS]
    if not words:
        return Paper.objects.none()
    match, in_title = Q(), Q()
    for word in words:
        for form in _case_variants(word):
            in_title |= Q(title__icontains=form)
            # authors is stored as JSON text with non-ASCII letters escaped ("G\u00f6tz"), so
            # a name is looked for in that form; json.dumps escapes exactly as it was stored.
            escaped = json.dumps(form)[1:-1]
            match |= (
                Q(title__icontains=form)
                | Q(abstract__icontains=form)
                | Q(authors__icontains=escaped)
            )
    # Title hits first, as the weights do on PostgreSQL.
    return (
        _papers_visible()
        .filter(match)
        .annotate(
            rank=Case(
                When(in_title, then=Value(1.0)), default=Value(0.0), output_field=FloatField()
            )
        )
        .order_by("-rank", "-upvotes", "arxiv_id")
    )


def _case_variants(word: str) -> list[str]:
    """The word as typed, lower, Title and UPPER: SQLite's LIKE ignores case only for ASCII."""
    if word.isascii():
        return [word]
    return list(dict.fromkeys([word, word.lower(), word.title(), word.upper()]))
