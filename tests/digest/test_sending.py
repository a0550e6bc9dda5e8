"""The send ledger: readers due at their local hour, claimed once, sent once, no paper twice."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
import time_machine
from anymail.exceptions import AnymailAPIError
from anymail.message import AnymailRecipientStatus
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from digest import ledger, sending, services, transport, vectors, votes
from digest.models import Delivery, Issue, IssueHide, IssuePin
from digest.preview import issue_preview
from papers.models import Paper
from subscriptions.models import Subscriber
from subscriptions.tokens import email_fingerprint
from tests.factories import PaperFactory, papers_create, reader_create
from tests.fakes import fake_embed
from tests.helpers import DAY, provider_http_error

BUILT = dt.datetime(2026, 11, 24, 0, 5, tzinfo=dt.UTC)
LOCAL_8AM_UTC = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
# A reader's signed vote link, its token and direction.
_VOTE_URL = re.compile(r"https?://[^\s\"<>]+/digest/vote/([^/\s\"<>]+)/(more|less)/")
# A reader's own "view in browser" copy: the preview links the public page instead.
_COPY_URL = re.compile(r"https?://[^\s\"<>]+/digest/copy/[^/\s\"<>]+/")


@pytest.fixture(autouse=True)
def _no_cache_and_a_fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """No vector or issue cached across tests, and a fast stand-in for the model."""
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)


def _issue(**kwargs: Any) -> Issue:
    with time_machine.travel(BUILT, tick=False):
        return services.issue_build(date=kwargs.pop("date", DAY), **kwargs)


def _send_all(issue: Issue, *, batch_size: int = 50) -> list[sending.BatchResult]:
    results: list[sending.BatchResult] = []
    while True:
        result = sending.deliveries_send_batch(
            issue_id=issue.pk, batch_size=batch_size, now=LOCAL_8AM_UTC
        )
        if not result.claimed:
            return results
        results.append(result)


# --- The issue ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_issue_takes_the_windows_papers_most_trending_first() -> None:
    papers = papers_create(12)
    PaperFactory.create(
        arxiv_id="2611.09999", hf_date=DAY - dt.timedelta(days=3), upvotes=500
    )  # before the window
    issue = _issue()
    assert issue.candidate_ids == [p.arxiv_id for p in papers]
    assert issue.new_papers == 12
    assert not issue.quiet
    assert issue.status == Issue.Status.SCHEDULED
    assert issue.window_end == dt.datetime(2026, 11, 24, 0, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_a_quiet_day_says_so_and_is_topped_up_from_the_week_before() -> None:
    papers_create(2)
    older = papers_create(5, day=DAY - dt.timedelta(days=4), prefix="2611.2")
    issue = _issue()
    assert issue.quiet
    assert issue.new_papers == 2
    assert issue.candidate_ids[2:] == [p.arxiv_id for p in older]


@pytest.mark.django_db
def test_an_issue_that_went_out_is_never_rebuilt(settings: Any) -> None:
    papers_create(3)
    issue = _issue()
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENDING)
    with pytest.raises(services.IssueError, match="cannot be rebuilt"):
        _issue(rebuild=True)
    settings.PAPERBOY_ISSUE_REQUIRE_APPROVAL = True
    assert _issue(date=DAY + dt.timedelta(days=1)).status == Issue.Status.DRAFT


# --- Who is due -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_readers_are_due_once_their_local_hour_has_come() -> None:
    papers_create()
    issue = _issue()
    london = reader_create(timezone="Europe/London")  # 08:00 local at 08:00 UTC in November
    new_york = reader_create(timezone="America/New_York")  # 03:00 local: not yet
    later = reader_create(timezone="UTC", delivery_hour=9)
    reader_create(status=Subscriber.Status.PAUSED)
    reader_create(status=Subscriber.Status.PENDING, confirmed_at=None)
    created = ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    assert created == {issue.pk: 1}
    assert list(Delivery.objects.values_list("subscriber_id", flat=True)) == [london.pk]
    # New York's 08:00 is 13:00 UTC, and a missed tick is made up by the next one.
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC + dt.timedelta(hours=6))
    due = set(Delivery.objects.values_list("subscriber_id", flat=True))
    assert due == {london.pk, new_york.pk, later.pk}
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENDING


@pytest.mark.django_db
def test_the_tick_fired_twice_makes_each_reader_due_once() -> None:
    papers_create()
    issue = _issue()
    readers = [reader_create() for _ in range(5)]
    assert ledger.deliveries_create_due(now=LOCAL_8AM_UTC) == {issue.pk: 5}
    assert ledger.deliveries_create_due(now=LOCAL_8AM_UTC) == {}
    assert Delivery.objects.count() == len(readers)


@pytest.mark.django_db
def test_weekday_and_weekly_readers_get_their_own_days() -> None:
    papers_create()
    saturday = dt.date(2026, 11, 28)
    monday = dt.date(2026, 11, 30)
    sat_issue = _issue(date=saturday)
    weekdays = reader_create(frequency=Subscriber.Frequency.WEEKDAYS)
    daily = reader_create(frequency=Subscriber.Frequency.DAILY)
    weekly = reader_create(frequency=Subscriber.Frequency.WEEKLY)
    at = dt.datetime.combine(saturday, dt.time(9), tzinfo=dt.UTC)
    ledger.deliveries_create_due(now=at)
    assert set(
        Delivery.objects.filter(issue=sat_issue).values_list("subscriber_id", flat=True)
    ) == {daily.pk}
    with time_machine.travel(dt.datetime.combine(monday, dt.time(0, 5), tzinfo=dt.UTC), tick=False):
        built = services.issues_build_due(
            now=dt.datetime.combine(monday, dt.time(0, 5), tzinfo=dt.UTC)
        )
    assert [issue.kind for issue in built] == ["daily", "weekly"]
    ledger.deliveries_create_due(now=dt.datetime.combine(monday, dt.time(9), tzinfo=dt.UTC))
    got = {(d.issue.kind, d.subscriber_id) for d in Delivery.objects.filter(issue__date=monday)}
    assert got == {("daily", daily.pk), ("daily", weekdays.pk), ("weekly", weekly.pk)}


# --- Sending --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_never_mails_the_same_subscriber_twice() -> None:
    papers_create()
    issue = _issue()
    readers = [reader_create() for _ in range(7)]
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    results = _send_all(issue, batch_size=3)
    assert [r.claimed for r in results] == [3, 3, 1]
    assert _send_all(issue) == []  # a duplicated task finds nothing left to claim
    assert sorted(m.to[0] for m in mail.outbox) == sorted(r.email for r in readers)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert all(d.message_id and d.sent_at and len(d.papers) == 3 for d in Delivery.objects.all())


@pytest.mark.django_db
def test_a_paper_already_sent_is_never_sent_again() -> None:
    papers_create(6)
    reader = reader_create(interests="pose estimation")
    first = _issue()
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    _send_all(first)
    # Tomorrow's issue has the same candidates (nothing new came in): none of them may come back.
    second = _issue(date=DAY + dt.timedelta(days=1), rebuild=True)
    second.candidate_ids = first.candidate_ids
    second.save()
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC + dt.timedelta(days=1))
    _send_all(second)
    sent = list(
        Delivery.objects.filter(subscriber=reader)
        .order_by("issue__date")
        .values_list("papers", flat=True)
    )
    assert len(sent) == 2
    assert len(sent[0]) == 3
    assert len(sent[1]) == 3
    assert not set(sent[0]) & set(sent[1])


@pytest.mark.django_db
def test_pins_come_first_and_hidden_papers_never_appear() -> None:
    papers = papers_create(8)
    issue = _issue()
    IssuePin.objects.create(issue=issue, paper=papers[7], position=1)
    IssuePin.objects.create(issue=issue, paper=papers[6], position=0)
    IssueHide.objects.create(issue=issue, paper=papers[0])
    reader_create(interests="", digest_size=4)
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    _send_all(issue)
    delivery = Delivery.objects.get()
    assert delivery.papers == [
        papers[6].arxiv_id,
        papers[7].arxiv_id,
        papers[1].arxiv_id,
        papers[2].arxiv_id,
    ]
    message = mail.outbox[0]
    assert isinstance(message, EmailMultiAlternatives)
    html = message.alternatives[0][0]
    assert isinstance(html, str)
    assert "editor&#x27;s pick" in html or "editor's pick" in html
    assert papers[0].title not in html


@pytest.mark.django_db
def test_the_email_opens_with_the_readers_line_and_its_subject_names_their_first_own_pick() -> None:
    papers = papers_create(8)
    issue = _issue()
    IssuePin.objects.create(issue=issue, paper=papers[7], position=0)
    reader = reader_create(interests="", digest_size=3)
    preview = issue_preview(issue=issue, subscriber=reader)
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    _send_all(issue)
    (message,) = mail.outbox
    assert isinstance(message, EmailMultiAlternatives)
    line = "Today's top papers, plus the editors' pick."
    assert line in message.body.splitlines()
    html = message.alternatives[0][0]
    assert isinstance(html, str)
    assert "Today&#x27;s top papers, plus the editors&#x27; pick." in html
    assert "matched your interests" not in message.body
    assert message.subject == f"Paperboy · 24 Nov 2026: {papers[0].title}"
    # The editors' preview shows what the reader got (but for the reader's signed links).
    assert preview.parts.subject == message.subject
    footer = "Manage your preferences"
    # A preview's vote links are "#", as its manage link is: the rest is the same.
    assert (
        preview.parts.text.split(footer)[0]
        == _VOTE_URL.sub(
            "#", _COPY_URL.sub(f"{settings.SITE_URL}/digest/2026-11-24/", str(message.body))
        ).split(footer)[0]
    )


@pytest.mark.django_db
def test_an_unsubscribe_counts_until_the_batch_is_claimed() -> None:
    papers_create()
    issue = _issue()
    stays, leaves = reader_create(), reader_create()
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    Subscriber.objects.filter(pk=leaves.pk).update(status=Subscriber.Status.UNSUBSCRIBED)
    (result,) = _send_all(issue)
    assert (result.sent, result.skipped) == (1, 1)
    assert [m.to[0] for m in mail.outbox] == [stays.email]
    assert Delivery.objects.get(subscriber=leaves).status == "skipped"


@pytest.mark.django_db
def test_each_email_has_its_readers_links_headers_and_key() -> None:
    papers_create()
    issue = _issue()
    reader = reader_create()
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    _send_all(issue)
    (message,) = mail.outbox
    assert isinstance(message, EmailMultiAlternatives)
    key = sending.idempotency_key(issue_id=issue.pk, subscriber_id=reader.pk)
    assert message.extra_headers[transport.IDEMPOTENCY_HEADER] == key
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/unsubscribe/" in message.extra_headers["List-Unsubscribe"]
    assert "/manage/" in message.body
    assert "/unsubscribe/" in message.body
    assert message.alternatives[0][1] == "text/html"


@pytest.mark.django_db
def test_a_paused_issue_is_not_claimed_until_resumed() -> None:
    papers_create()
    issue = _issue()
    reader_create()
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    assert services.issue_pause(issue=issue, reason="checking the note")
    assert _send_all(issue) == []
    assert services.issue_resume(issue=issue)
    assert len(_send_all(issue)) == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_queries_per_batch_stay_constant_whatever_its_size() -> None:
    papers_create(20)
    issue = _issue()
    for i in range(120):
        reader_create(
            interests=["pose estimation", "speech and robots", "", "protein folding, diffusion"][
                i % 4
            ]
        )
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    sending.deliveries_send_batch(
        issue_id=issue.pk, batch_size=5, now=LOCAL_8AM_UTC
    )  # warms the issue
    counts = []
    for size in (10, 100):
        with CaptureQueriesContext(connection) as queries:
            result = sending.deliveries_send_batch(
                issue_id=issue.pk, batch_size=size, now=LOCAL_8AM_UTC
            )
        assert result.sent == size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 6, counts  # claim, readers, profiles, history, vectors, outcome


# --- Provider trouble -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_transient_failure_keeps_the_claim_and_the_retry_sends_each_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    papers_create()
    issue = _issue()
    readers = [reader_create() for _ in range(4)]
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    # The third message fails with a 503: the first two are sent and recorded, the rest stay
    # claimed.
    original = EmailMessage.send
    calls = {"n": 0}

    def send(message: Any, fail_silently: bool = False) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise provider_http_error(503)
        return original(message, fail_silently)

    monkeypatch.setattr(EmailMessage, "send", send)
    held = sending.deliveries_send_batch(issue_id=issue.pk, batch_size=10, now=LOCAL_8AM_UTC).retry
    statuses = dict(Delivery.objects.values_list("subscriber_id", "status"))
    assert sorted(statuses.values()) == ["sending", "sending", "sent", "sent"]
    assert held is not None
    assert held.claim is not None
    # Nobody else may take the held rows meanwhile, and the retry sends only them.
    assert (
        sending.deliveries_send_batch(issue_id=issue.pk, batch_size=10, now=LOCAL_8AM_UTC).claimed
        == 0
    )
    retry = sending.deliveries_send_batch(issue_id=issue.pk, claim=held.claim, now=LOCAL_8AM_UTC)
    assert (retry.claimed, retry.sent) == (2, 2)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(r.email for r in readers)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.django_db
def test_a_permanent_refusal_fails_that_delivery_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    papers_create()
    issue = _issue()
    good, bad = reader_create(), reader_create(email="refused@example.org")
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    original = EmailMessage.send

    def send(message: Any, fail_silently: bool = False) -> int:
        if message.to == [bad.email]:
            raise AnymailAPIError("422: the recipient is on the provider's suppression list")
        return original(message, fail_silently)

    monkeypatch.setattr(EmailMessage, "send", send)
    (result,) = _send_all(issue)
    assert (result.sent, result.failed, result.paused) == (1, 1, False)
    failed = Delivery.objects.get(subscriber=bad)
    assert failed.status == "failed"
    assert "suppression list" in failed.error
    assert Delivery.objects.get(subscriber=good).status == "sent"


@pytest.mark.django_db
def test_the_issue_pauses_itself_when_the_provider_refuses_most_sends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    papers_create()
    issue = _issue()
    for _ in range(30):
        reader_create()
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)

    def send(message: Any, fail_silently: bool = False) -> int:
        raise AnymailAPIError("401: invalid server token")

    monkeypatch.setattr(EmailMessage, "send", send)
    first = sending.deliveries_send_batch(issue_id=issue.pk, batch_size=25, now=LOCAL_8AM_UTC)
    assert first.failed == 25
    assert first.paused
    issue.refresh_from_db()
    assert issue.paused_at
    assert "invalid server token" in issue.pause_reason
    assert (
        sending.deliveries_send_batch(issue_id=issue.pk, batch_size=25, now=LOCAL_8AM_UTC).claimed
        == 0
    )
    assert Delivery.objects.filter(status="queued").count() == 5


@pytest.mark.django_db
def test_a_stuck_claim_is_recovered_and_resent_with_the_same_key(settings: Any) -> None:
    papers_create()
    issue = _issue()
    reader = reader_create()
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    # A worker claims the batch and dies before sending anything.
    claim, claimed = ledger.delivery_claim(issue_id=issue.pk, limit=10, now=LOCAL_8AM_UTC)
    assert len(claimed) == 1
    assert _send_all(issue) == []  # held: nobody else sends it
    later = LOCAL_8AM_UTC + dt.timedelta(minutes=settings.PAPERBOY_CLAIM_TIMEOUT_MINUTES + 1)
    assert ledger.deliveries_recover_stuck(now=later) == (1, 0)
    (result,) = _send_all(issue)
    assert result.sent == 1
    key = sending.idempotency_key(issue_id=issue.pk, subscriber_id=reader.pk)
    assert [m.extra_headers[transport.IDEMPOTENCY_HEADER] for m in mail.outbox] == [key]
    # The dead worker's late write cannot touch a row it no longer holds.
    assert (
        ledger.delivery_record(
            claim=claim, outcomes=[ledger.Outcome(claimed[0].delivery_id, "failed")], now=later
        )
        == 0
    )
    assert Delivery.objects.get().status == "sent"


@pytest.mark.django_db
def test_a_claim_stuck_too_often_fails_instead_of_looping(settings: Any) -> None:
    papers_create()
    issue = _issue()
    reader_create()
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    Delivery.objects.update(attempts=ledger.MAX_ATTEMPTS - 1)
    ledger.delivery_claim(issue_id=issue.pk, limit=10, now=LOCAL_8AM_UTC)
    later = LOCAL_8AM_UTC + dt.timedelta(minutes=settings.PAPERBOY_CLAIM_TIMEOUT_MINUTES + 1)
    assert ledger.deliveries_recover_stuck(now=later) == (0, 1)
    assert "gave up" in Delivery.objects.get().error


# --- Batch API through Anymail --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_batch_goes_to_the_provider_in_one_call_with_merge_data(settings: Any) -> None:
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    papers_create()
    issue = _issue()
    readers = [reader_create(interests=t) for t in ("pose estimation", "speech recognition", "")]
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    (result,) = _send_all(issue)
    assert result.sent == 3
    (message,) = mail.outbox  # one API call
    # Anymail's test backend records what it would have sent on the message itself.
    params = vars(message)["anymail_test_params"]
    assert params["is_batch_send"] is True
    merge = params["merge_data"]
    assert set(merge) == {r.email for r in readers}
    assert all(set(v) == {"subject", "html", "text"} for v in merge.values())
    assert message.body == "{{text}}"
    assert message.subject == "{{subject}}"
    headers = params["merge_headers"]
    assert {h[transport.IDEMPOTENCY_HEADER] for h in headers.values()} == {
        sending.idempotency_key(issue_id=issue.pk, subscriber_id=r.pk) for r in readers
    }
    assert params["tags"] == ["digest"]
    by_email = {r.email: r for r in readers}
    for email, meta in params["merge_metadata"].items():
        assert Delivery.objects.get(pk=int(meta["delivery"])).subscriber_id == by_email[email].pk
    # Each reader's own papers: the pose reader's come first in their own digest.
    first = Delivery.objects.get(subscriber=readers[0]).papers[0]
    assert "Pose Estimation" in Paper.objects.get(arxiv_id=first).title
    assert Delivery.objects.filter(status="sent").count() == 3


@pytest.mark.django_db
def test_a_provider_refusing_one_recipient_in_a_batch_fails_only_that_one(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    papers_create()
    issue = _issue()
    good, bad = reader_create(), reader_create(email="bounced@example.org")
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    original = transport.AnymailMessage.send

    def send(message: Any, fail_silently: bool = False) -> int:
        message.anymail_test_response = {
            "recipient_status": {
                good.email: AnymailRecipientStatus(message_id="m-1", status="sent"),
                bad.email: AnymailRecipientStatus(message_id=None, status="rejected"),
            }
        }
        return original(message, fail_silently)

    monkeypatch.setattr(transport.AnymailMessage, "send", send)
    (result,) = _send_all(issue)
    assert (result.sent, result.failed) == (1, 1)
    assert Delivery.objects.get(subscriber=good).message_id == "m-1"
    assert "rejected" in Delivery.objects.get(subscriber=bad).error


# --- Commands -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_send_issue_dry_run_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    papers_create()
    issue = _issue()
    reader_create()
    reader_create(frequency=Subscriber.Frequency.WEEKLY)
    call_command("send_issue", "--issue", str(issue.pk), "--dry-run")
    out = capsys.readouterr().out
    assert "1 reader" in out
    assert Delivery.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_reader_who_keeps_to_categories_gets_only_those_and_papers_of_unknown_category() -> None:
    papers = papers_create(9)
    for i, paper in enumerate(papers):
        paper.categories = [["cs.CV"], ["cs.CL"], []][i % 3]
        paper.save(update_fields=["categories"])
    issue = _issue()
    IssuePin.objects.create(
        issue=issue, paper=papers[1], position=0
    )  # cs.CL, pinned: everyone gets it
    reader = reader_create(interests="", digest_size=5, categories=["cs.CV"])
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    _send_all(issue)
    sent = Delivery.objects.get(subscriber=reader).papers
    by_id = {p.arxiv_id: p for p in papers}
    assert sent[0] == papers[1].arxiv_id
    assert len(sent) == 5
    assert all(by_id[a].categories in (["cs.CV"], []) for a in sent[1:])


@pytest.mark.django_db
def test_a_preview_makes_the_readers_signed_links_only_when_asked() -> None:
    papers_create()
    issue = _issue()
    reader = reader_create(interests="pose estimation")
    staff_view = issue_preview(issue=issue, subscriber=reader)
    assert "/manage/" not in staff_view.parts.html + staff_view.parts.text
    as_reader = issue_preview(issue=issue, subscriber=reader, reader_links=True)
    assert "/manage/" in as_reader.parts.text
    assert "/unsubscribe/" in as_reader.parts.html
    assert [p.arxiv_id for p in staff_view.picks] == [p.arxiv_id for p in as_reader.picks]


# --- "More like this" / "Less like this" ---------------------------------------------------------


@pytest.mark.django_db
def test_each_paper_carries_vote_links_signed_for_its_reader_delivery_and_paper(
    settings: Any,
) -> None:
    settings.PAPERBOY_VOTE_LINKS = True
    papers_create()
    issue = _issue()
    ada = reader_create(interests="pose estimation")
    bob = reader_create(interests="speech recognition")
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    _send_all(issue)
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert isinstance(message, EmailMultiAlternatives)
        (reader,) = [r for r in (ada, bob) if r.email in message.to]
        delivery = Delivery.objects.get(subscriber=reader, issue=issue)
        html_part = message.alternatives[0][0]
        assert isinstance(html_part, str)
        assert isinstance(message.body, str)
        for part in (message.body, html.unescape(html_part)):
            found = _VOTE_URL.findall(part)
            # Two links per paper sent, in the order the papers were sent.
            assert [d for _, d in found] == ["more", "less"] * len(delivery.papers)
            read = [votes.vote_token_read(token) for token, _ in found]
            assert [arxiv_id for _, arxiv_id, _ in read[::2]] == delivery.papers
            assert {delivery_id for delivery_id, _, _ in read} == {delivery.pk}
            assert {fp for _, _, fp in read} == {email_fingerprint(reader.email)}
        assert html_part.count("Less like this</a>") == len(delivery.papers)


@pytest.mark.django_db
def test_while_vote_links_are_off_the_email_has_none(settings: Any) -> None:
    settings.PAPERBOY_VOTE_LINKS = False
    papers_create()
    issue = _issue()
    reader_create(interests="pose estimation")
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    _send_all(issue)
    (message,) = mail.outbox
    assert isinstance(message, EmailMultiAlternatives)
    assert "/vote/" not in message.body
    assert "/vote/" not in str(message.alternatives[0][0])


@pytest.mark.django_db
def test_a_preview_never_holds_a_readers_vote_links(settings: Any) -> None:
    settings.PAPERBOY_VOTE_LINKS = True
    papers_create()
    issue = _issue()
    reader = reader_create(interests="pose estimation")
    for preview in (
        issue_preview(issue=issue, subscriber=reader),
        issue_preview(issue=issue, subscriber=reader, reader_links=True),
    ):
        assert "/vote/" not in preview.parts.html + preview.parts.text
        more = re.findall(r'<a href="#"[^>]*>More like this</a>', preview.parts.html)
        assert len(more) == len(preview.picks)
        assert preview.parts.text.count("More like this: #\n") == len(preview.picks)
