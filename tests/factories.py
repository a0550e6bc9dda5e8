"""factory_boy factories, paper and reader builders for digest tests, a loader of real HF items."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import factory
from django.utils import timezone

from papers.ingest import papers_search_index
from papers.models import FetchRun, Paper, PaperMetric, Source
from subscriptions.models import Subscriber
from tests.helpers import DAY


class PaperFactory(factory.django.DjangoModelFactory[Paper]):
    class Meta:
        model = Paper
        skip_postgeneration_save = True

    arxiv_id = factory.Sequence(lambda n: f"2511.{10000 + n:05d}")
    title = factory.Sequence(lambda n: f"A study of sparse attention, part {n}")
    abstract = "We study sparse attention in large language models and find it works."
    authors = factory.LazyFunction(lambda: ["Ada Lovelace", "Alan Turing"])
    published_at = factory.LazyFunction(lambda: dt.datetime(2025, 11, 19, 12, 0, tzinfo=dt.UTC))
    hf_date = dt.date(2025, 11, 20)
    upvotes = 10
    num_comments = 1
    categories = factory.LazyFunction(lambda: ["cs.CL"])
    sources = factory.LazyFunction(lambda: [Source.HF.value])
    first_seen_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def searchable(obj: Paper, create: bool, extracted: object, **kwargs: object) -> None:  # noqa: N805
        """Searchable, as a paper is once its fetch is done (the search vector, on PostgreSQL)."""
        if create:
            papers_search_index()
            obj.refresh_from_db(fields=["search_vector"])


class FetchRunFactory(factory.django.DjangoModelFactory[FetchRun]):
    class Meta:
        model = FetchRun

    source = Source.HF.value
    params = factory.LazyFunction(lambda: {"date": "2025-11-20"})
    status = FetchRun.Status.SUCCEEDED
    finished_at = factory.LazyFunction(timezone.now)
    created = 12


class PaperMetricFactory(factory.django.DjangoModelFactory[PaperMetric]):
    class Meta:
        model = PaperMetric

    paper = factory.SubFactory(PaperFactory)
    captured_at = factory.LazyFunction(timezone.now)
    upvotes = factory.LazyAttribute(lambda metric: metric.paper.upvotes)
    num_comments = 0


class SubscriberFactory(factory.django.DjangoModelFactory[Subscriber]):
    class Meta:
        model = Subscriber

    email = factory.Sequence(lambda n: f"reader{n}@example.org")
    interests = "sparse attention"
    status = Subscriber.Status.ACTIVE
    confirmed_at = factory.LazyFunction(timezone.now)


def papers_create(
    n: int = 12, *, day: dt.date = DAY - dt.timedelta(days=1), prefix: str = "2611.1"
) -> list[Any]:
    """n papers of a day (default: DAY - 1 day) on five topics in turn, the first most upvoted."""
    topics = [
        "pose estimation",
        "speech recognition",
        "robot grasping",
        "diffusion video",
        "protein folding",
    ]
    return [
        PaperFactory.create(
            arxiv_id=f"{prefix}{i:04d}",
            title=f"{topics[i % len(topics)].title()} at scale, study {i}",
            abstract=f"We improve {topics[i % len(topics)]} with a new method.",
            hf_date=day,
            upvotes=100 - i,
        )
        for i in range(n)
    ]


def reader_create(**kwargs: Any) -> Subscriber:
    """A confirmed reader of a daily digest of three papers, due at 08:00 UTC (kwargs override)."""
    fields = {
        "timezone": "UTC",
        "delivery_hour": 8,
        "frequency": Subscriber.Frequency.DAILY,
        "digest_size": 3,
    }
    return SubscriberFactory.create(**{**fields, **kwargs})


def _parse_utc(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def paper_fields_from_hf_item(item: dict[str, Any]) -> dict[str, Any]:
    """Paper fields from one item of a captured HF daily_papers response (test data only).

    A deliberately small reading of the format so page tests can use real titles, authors
    and links before (or without) the real parser and ingest; it is not the project's parser.
    """
    paper = item["paper"]
    submitted = _parse_utc(paper.get("submittedOnDailyAt"))
    return {
        "arxiv_id": paper["id"],
        "title": " ".join(paper["title"].split()),
        "abstract": " ".join(paper.get("summary", "").split()),
        "authors": [
            author["name"] for author in paper.get("authors", []) if not author.get("hidden")
        ],
        "published_at": _parse_utc(paper.get("publishedAt")),
        "hf_date": submitted.date() if submitted else None,
        "upvotes": paper.get("upvotes", 0),
        "num_comments": item.get("numComments", 0),
        "github_repo": paper.get("githubRepo") or "",
        "github_stars": paper.get("githubStars"),
        "project_page": paper.get("projectPage") or "",
        "thumbnail": item.get("thumbnail") or "",
        "ai_summary": paper.get("ai_summary", ""),
        "ai_keywords": paper.get("ai_keywords", []),
        "withdrawn_at": _parse_utc(paper.get("withdrawnAt")),
    }


def papers_from_hf_fixture(raw: bytes) -> list[Paper]:
    """Paper rows, one per item of a captured HF daily_papers response, through PaperFactory."""
    return [PaperFactory.create(**paper_fields_from_hf_item(item)) for item in json.loads(raw)]
