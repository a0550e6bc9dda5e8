"""Feed-only readers and "code is out" notices go through the same batch and ledger as email."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from digest import ledger, sending, services, vectors
from digest.models import Delivery, Issue
from digest.notices import NOTICES_MAX
from papers.ingest import papers_ingest
from papers.models import Paper
from papers.sources.records import PaperRecord
from subscriptions.models import Subscriber
from tests.factories import papers_create, reader_create
from tests.fakes import fake_embed
from tests.helpers import DAY

BUILT = dt.datetime(2026, 11, 24, 0, 5, tzinfo=dt.UTC)
LOCAL_8AM_UTC = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
ONE_DAY = dt.timedelta(days=1)
REPO = "https://github.com/example/pose"


@pytest.fixture(autouse=True)
def _no_cache_and_a_fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)


def _issue(day: dt.date, **kwargs: Any) -> Issue:
    built = dt.datetime.combine(day, dt.time(0, 5), tzinfo=dt.UTC)
    with time_machine.travel(built, tick=False):
        return services.issue_build(date=day, **kwargs)


def _day_send(day: dt.date) -> Issue:
    """Build the day's issue, make its readers due at 08:00 UTC and send every batch."""
    sending.contexts_clear()
    issue = _issue(day, rebuild=True)
    now = dt.datetime.combine(day, dt.time(8, 0), tzinfo=dt.UTC)
    ledger.deliveries_create_due(now=now)
    while sending.deliveries_send_batch(issue_id=issue.pk, batch_size=50, now=now).claimed:
        pass
    return issue


def _code_appears(arxiv_ids: list[str], *, at: dt.datetime, stars: int = 42) -> None:
    """A later Hugging Face fetch sees a code link on these papers."""
    papers = Paper.objects.filter(arxiv_id__in=arxiv_ids)
    records = [
        PaperRecord(
            arxiv_id=p.arxiv_id,
            title=p.title,
            source="hf",
            hf_date=p.hf_date,
            upvotes=p.upvotes,
            github_repo=f"{REPO}-{p.arxiv_id}",
            github_stars=stars,
        )
        for p in papers
    ]
    papers_ingest(records=records, fetch_run=None, now=at)


# --- Feed-only readers ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_feed_only_reader_is_ranked_and_recorded_without_an_email() -> None:
    papers_create()
    by_email = reader_create(interests="pose estimation")
    by_feed = reader_create(interests="speech recognition", via=Subscriber.Via.FEED)
    _day_send(DAY)
    assert [m.to for m in mail.outbox] == [[by_email.email]]
    feed = Delivery.objects.get(subscriber=by_feed)
    assert feed.status == Delivery.Status.SENT
    assert feed.message_id == ""
    assert len(feed.papers) == 3
    assert "Speech Recognition" in Paper.objects.get(arxiv_id=feed.papers[0]).title
    assert feed.reasons[0].startswith("matches: speech recognition")
    assert len(feed.reasons) == len(feed.papers)


@pytest.mark.django_db
def test_a_reader_who_goes_back_to_email_gets_email_again_and_never_a_paper_twice() -> None:
    papers_create()
    reader = reader_create(via=Subscriber.Via.FEED)
    _day_send(DAY)
    assert mail.outbox == []
    Subscriber.objects.filter(pk=reader.pk).update(via=Subscriber.Via.EMAIL)
    _day_send(DAY + ONE_DAY)
    assert [m.to for m in mail.outbox] == [[reader.email]]
    first, second = Delivery.objects.filter(subscriber=reader).order_by("issue__date")
    assert first.papers
    assert second.papers
    assert not set(first.papers) & set(second.papers)


@pytest.mark.django_db
def test_an_email_readers_delivery_records_each_papers_reason_in_order() -> None:
    papers_create()
    reader = reader_create(interests="pose estimation")
    _day_send(DAY)
    delivery = Delivery.objects.get(subscriber=reader)
    body = mail.outbox[0].body
    assert len(delivery.reasons) == len(delivery.papers) == 3
    positions = [body.index(reason.split(" · ")[0]) for reason in delivery.reasons]
    assert delivery.reasons[0] in body
    assert positions == sorted(positions)


# --- "Code is out" -------------------------------------------------------------------------------


def _sent_papers(reader: Subscriber) -> list[str]:
    return [p for d in Delivery.objects.filter(subscriber=reader) for p in d.papers]


@pytest.mark.django_db
def test_code_that_appears_after_a_paper_was_sent_is_told_once_in_the_next_digest() -> None:
    papers_create(12)
    reader = reader_create(interests="pose estimation")
    _day_send(DAY)
    first_paper = Delivery.objects.get(subscriber=reader).papers[0]
    _code_appears([first_paper], at=LOCAL_8AM_UTC + dt.timedelta(hours=5), stars=1234)
    assert Paper.objects.get(arxiv_id=first_paper).code_seen_at is not None

    _day_send(DAY + ONE_DAY)
    second = Delivery.objects.filter(subscriber=reader).latest("issue__date")
    assert second.notices == [first_paper]
    message = mail.outbox[-1]
    assert isinstance(message, EmailMultiAlternatives)
    html = message.alternatives[0][0]
    assert isinstance(html, str)
    title = Paper.objects.get(arxiv_id=first_paper).title
    for part in (message.body, html):
        assert "Since you read it" in part or "SINCE YOU READ IT" in part
        assert title in part
        assert f"{REPO}-{first_paper}" in part
        assert "1,234 stars" in part
    assert f"/papers/{first_paper}/" in html

    _day_send(DAY + 2 * ONE_DAY)
    third = Delivery.objects.filter(subscriber=reader).latest("issue__date")
    assert third.papers
    assert third.notices == []
    assert "SINCE YOU READ IT" not in mail.outbox[-1].body


@pytest.mark.django_db
def test_at_most_three_are_told_at_once_and_the_rest_in_the_next_digest() -> None:
    papers_create(20)
    reader = reader_create(interests="", digest_size=5)
    _day_send(DAY)
    sent = Delivery.objects.get(subscriber=reader).papers
    _code_appears(sent, at=LOCAL_8AM_UTC + dt.timedelta(hours=1))
    _day_send(DAY + ONE_DAY)
    _day_send(DAY + 2 * ONE_DAY)
    told = list(
        Delivery.objects.filter(subscriber=reader)
        .order_by("issue__date")
        .values_list("notices", flat=True)
    )
    assert [len(n) for n in told] == [0, NOTICES_MAX, len(sent) - NOTICES_MAX]
    assert sorted(told[1] + told[2]) == sorted(sent)


@pytest.mark.django_db
def test_no_notice_for_code_known_when_sent_for_an_unsent_paper_or_after_sixty_days() -> None:
    papers = papers_create(12)
    # Code known from the start: nothing to tell.
    Paper.objects.filter(pk=papers[0].pk).update(github_repo=REPO, code_seen_at=BUILT)
    reader = reader_create(interests="", digest_size=3)
    _day_send(DAY)
    sent = Delivery.objects.get(subscriber=reader).papers
    assert papers[0].arxiv_id in sent
    never_sent = [p.arxiv_id for p in papers if p.arxiv_id not in sent][:2]
    _code_appears(never_sent, at=LOCAL_8AM_UTC + dt.timedelta(hours=1))
    _day_send(DAY + ONE_DAY)
    assert Delivery.objects.filter(subscriber=reader).latest("issue__date").notices == []

    # Sent more than 60 days ago: too old to tell.
    Delivery.objects.filter(subscriber=reader).update(
        created_at=LOCAL_8AM_UTC - dt.timedelta(days=70),
        sent_at=LOCAL_8AM_UTC - dt.timedelta(days=70),
    )
    _code_appears(sent[1:], at=LOCAL_8AM_UTC + dt.timedelta(days=1, hours=1))
    _day_send(DAY + 2 * ONE_DAY)
    assert Delivery.objects.filter(subscriber=reader).latest("issue__date").notices == []


@pytest.mark.django_db
def test_a_retry_after_provider_trouble_tells_the_notice_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    papers_create(12)
    reader = reader_create(interests="pose estimation")
    _day_send(DAY)
    paper = Delivery.objects.get(subscriber=reader).papers[0]
    _code_appears([paper], at=LOCAL_8AM_UTC + dt.timedelta(hours=1))

    sending.contexts_clear()
    day2 = DAY + ONE_DAY
    issue = _issue(day2, rebuild=True)
    now = LOCAL_8AM_UTC + ONE_DAY
    ledger.deliveries_create_due(now=now)
    calls = {"n": 0}
    real_send = sending.transport.digests_send

    def flaky(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            return sending.transport.Handover(
                transient_error="provider trouble: 503", unsent=kwargs["digests"]
            )
        return real_send(**kwargs)

    monkeypatch.setattr(sending.transport, "digests_send", flaky)
    result = sending.deliveries_send_batch(issue_id=issue.pk, batch_size=50, now=now)
    assert result.retry is not None
    assert Delivery.objects.get(subscriber=reader, issue=issue).notices == []
    sending.deliveries_send_batch(issue_id=issue.pk, claim=result.retry.claim, now=now)
    delivery = Delivery.objects.get(subscriber=reader, issue=issue)
    assert delivery.status == Delivery.Status.SENT
    assert delivery.notices == [paper]
    assert sum("SINCE YOU READ IT" in m.body for m in mail.outbox) == 1
    _day_send(DAY + 2 * ONE_DAY)
    assert sum("SINCE YOU READ IT" in m.body for m in mail.outbox) == 1
    assert paper in _sent_papers(reader)


@pytest.mark.django_db
def test_ingest_notes_when_code_first_appears_and_never_moves_it() -> None:
    paper = papers_create(1)[0]
    assert paper.code_seen_at is None
    _code_appears([paper.arxiv_id], at=LOCAL_8AM_UTC)
    paper.refresh_from_db()
    assert paper.code_seen_at == LOCAL_8AM_UTC
    _code_appears([paper.arxiv_id], at=LOCAL_8AM_UTC + ONE_DAY, stars=99)
    paper.refresh_from_db()
    assert paper.code_seen_at == LOCAL_8AM_UTC
    assert paper.github_stars == 99
    # A paper seen for the first time with its code: the code was there all along.
    papers_ingest(
        records=[PaperRecord(arxiv_id="2611.99999", title="New", source="hf", github_repo=REPO)],
        fetch_run=None,
        now=LOCAL_8AM_UTC,
    )
    new = Paper.objects.get(arxiv_id="2611.99999")
    assert new.code_seen_at == new.first_seen_at == LOCAL_8AM_UTC
