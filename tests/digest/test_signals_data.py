"""A reader's votes, clicks and seeds are in their data export, and leave with them when deleted.

Seeds live in subscriptions, which exports them itself; votes and clicks live in the digest, which
subscriptions never imports: the digest adds them through subscriptions' `export_collect` signal.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from digest.models import Delivery, DeliveryStatus, Issue, PaperClick, ReaderProfile, Vote
from subscriptions import services
from subscriptions.models import Seed, Subscriber, SubscriptionStat
from subscriptions.selectors import subscriber_export
from subscriptions.signals import export_collect
from subscriptions.tokens import Purpose, token_make
from tests.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def _reader_with_signals(email: str) -> Subscriber:
    reader = SubscriberFactory.create(email=email, interests="quantization", less_of="surveys")
    issue, _ = Issue.objects.get_or_create(
        date=NOW.date(),
        kind="daily",
        defaults={"window_start": NOW - dt.timedelta(days=1), "window_end": NOW},
    )
    delivery = Delivery.objects.create(
        issue=issue,
        subscriber=reader,
        status=DeliveryStatus.SENT,
        papers=["2611.00001", "2611.00002"],
    )
    Vote.objects.create(
        subscriber=reader, delivery=delivery, arxiv_id="2611.00001", direction="more"
    )
    Vote.objects.create(
        subscriber=reader, delivery=delivery, arxiv_id="2611.00002", direction="less"
    )
    PaperClick.objects.create(
        subscriber=reader, delivery=delivery, arxiv_id="2611.00002", clicked_at=NOW
    )
    Seed.objects.create(
        subscriber=reader,
        arxiv_id="2401.00001",
        title="Fast Inference",
        origin=Seed.Origin.ID,
        status=Seed.Status.READY,
    )
    Seed.objects.create(
        subscriber=reader,
        title="A text seed",
        abstract="Its abstract.",
        origin=Seed.Origin.BIBTEX,
        status=Seed.Status.READY,
    )
    ReaderProfile.objects.create(subscriber=reader, signals=4)
    return reader


def test_the_export_holds_the_readers_seeds_less_of_votes_and_clicks() -> None:
    PaperFactory.create(arxiv_id="2611.00001")
    ada = _reader_with_signals("ada@example.org")
    _reader_with_signals("bob@example.org")

    data = subscriber_export(subscriber=ada)

    assert data["less_of"] == "surveys"
    assert [(s["arxiv_id"], s["title"], s["status"]) for s in data["seeds"]] == [
        ("2401.00001", "Fast Inference", "ready"),
        ("", "A text seed", "ready"),
    ]
    assert data["seeds"][1]["abstract"] == "Its abstract."
    assert [(v["arxiv_id"], v["direction"]) for v in data["votes"]] == [
        ("2611.00001", "more"),
        ("2611.00002", "less"),
    ]
    assert [c["arxiv_id"] for c in data["paper_clicks"]] == ["2611.00002"]
    assert data["paper_clicks"][0]["clicked_at"] == NOW.isoformat()
    json.dumps(data)  # JSON-ready as it is


def test_the_download_holds_them_too(client: Client) -> None:
    ada = _reader_with_signals("ada@example.org")
    token = token_make(subscriber_id=ada.pk, address=ada.email, purpose=Purpose.MANAGE)

    got = client.get(reverse("subscriptions:manage-export", kwargs={"token": token}))

    data = json.loads(got.content)
    assert len(data["votes"]) == 2
    assert len(data["paper_clicks"]) == 1
    assert len(data["seeds"]) == 2


def test_a_reader_with_no_signals_exports_empty_lists() -> None:
    data = subscriber_export(subscriber=SubscriberFactory.create())

    assert (data["seeds"], data["votes"], data["paper_clicks"]) == ([], [], [])


def test_the_digest_adds_its_sections_through_the_signal_only() -> None:
    ada = _reader_with_signals("ada@example.org")

    answers = export_collect.send(sender=Subscriber, subscriber_id=ada.pk)

    sections = sorted(answer[0] for _, answer in answers if answer)
    assert sections == ["feed", "paper_clicks", "papers_sent", "votes"]


def _rows_of(subscriber_id: int, email: str) -> dict[str, int]:
    """Rows of every model that still name the reader, by a foreign key or the address."""
    found: dict[str, int] = {}
    for model in apps.get_models():
        fields = {f.name: f for f in model._meta.concrete_fields}
        for name, field in fields.items():
            if getattr(field, "related_model", None) is Subscriber:
                count = model._default_manager.filter(**{name: subscriber_id}).count()
                if count:
                    found[f"{model._meta.label}.{name}"] = count
        for name in ("email", "recipient", "pending_email"):
            if name in fields and model._default_manager.filter(**{name: email}).exists():
                found[f"{model._meta.label}.{name}"] = 1
    return found


def test_deleting_the_reader_leaves_nothing_of_them_and_keeps_the_others(client: Client) -> None:
    ada = _reader_with_signals("ada@example.org")
    bob = _reader_with_signals("bob@example.org")
    pk = ada.pk
    assert _rows_of(pk, ada.email)  # the check finds what is there

    services.subscriber_delete(subscriber=ada)

    assert _rows_of(pk, "ada@example.org") == {}
    assert not Subscriber.objects.filter(pk=pk).exists()
    assert not Vote.objects.filter(subscriber_id=pk).exists()
    assert not PaperClick.objects.filter(subscriber_id=pk).exists()
    assert not Seed.objects.filter(subscriber_id=pk).exists()
    assert not ReaderProfile.objects.filter(subscriber_id=pk).exists()
    # Bob keeps all of his; only an anonymous count of deletions is left of Ada.
    assert (bob.votes.count(), bob.paper_clicks.count(), bob.seeds.count()) == (2, 1, 2)
    assert ReaderProfile.objects.filter(subscriber=bob).exists()
    assert SubscriptionStat.objects.get(kind=SubscriptionStat.Kind.DELETED).count == 1


def test_after_deletion_the_signals_link_finds_nothing(client: Client) -> None:
    ada = _reader_with_signals("ada@example.org")
    token = token_make(subscriber_id=ada.pk, address=ada.email, purpose=Purpose.MANAGE)
    services.subscriber_delete(subscriber=ada)

    got = client.get(reverse("digest:signals", kwargs={"token": token}))

    assert got.status_code == 410
    assert "quantization" not in got.content.decode()
