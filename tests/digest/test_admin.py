"""The editors' digest admin: curate an issue, preview, test, send and pause it, read the ledger."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from digest import embeddings, sending, services, vectors
from digest.models import Delivery, Issue, IssueHide, IssuePin
from digest.selectors import issue_papers, issue_readers_to_send
from papers.models import Paper
from subscriptions.models import Subscriber
from tests.factories import PaperFactory, SubscriberFactory
from tests.fakes import fake_embed
from tests.helpers import fully_matched, matched

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 24)  # a Tuesday
BUILT = dt.datetime(2026, 11, 24, 0, 5, tzinfo=dt.UTC)
TOPICS = [
    "pose estimation",
    "speech recognition",
    "robot grasping",
    "diffusion video",
    "protein folding",
]
ISSUES = reverse("admin:digest_issue_changelist")
DELIVERIES = reverse("admin:digest_delivery_changelist")
Status = Issue.Status


def _no_embedding(texts: list[str]) -> np.ndarray:
    raise AssertionError(f"the web process embedded {texts!r}")


@pytest.fixture(autouse=True)
def _no_cache_and_no_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    """No vector or issue cached across tests, no model in memory; any embedding fails the test."""
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(embeddings, "_model", None)
    monkeypatch.setattr(vectors, "text_embed", _no_embedding)


def _papers(n: int = 10) -> list[Paper]:
    return [
        PaperFactory.create(
            arxiv_id=f"2611.1{i:04d}",
            title=f"{TOPICS[i % len(TOPICS)].title()} at scale, study {i}",
            abstract=f"We improve {TOPICS[i % len(TOPICS)]} with a new method.",
            hf_date=DAY - dt.timedelta(days=1),
            upvotes=100 - i,
        )
        for i in range(n)
    ]


def _issue(**fields: Any) -> Issue:
    day = fields.pop("date", DAY)
    with time_machine.travel(BUILT, tick=False):
        try:
            issue = services.issue_build(date=day)
        except services.IssueEmptyError:
            # An earlier day, outside the papers' window: only the row matters to these tests.
            start, end = services.issue_window(date=day, kind="daily")
            issue = Issue.objects.create(date=day, kind="daily", window_start=start, window_end=end)
    if fields:
        Issue.objects.filter(pk=issue.pk).update(**fields)
        issue.refresh_from_db()
    return issue


def _reader(**fields: Any) -> Subscriber:
    defaults = {
        "timezone": "UTC",
        "delivery_hour": 8,
        "frequency": Subscriber.Frequency.DAILY,
        "digest_size": 4,
    }
    return SubscriberFactory.create(**{**defaults, **fields})


def _admin_url(name: str, issue: Issue) -> str:
    return reverse(f"admin:digest_issue_{name}", args=[issue.pk])


def _pin(issue: Issue, *arxiv_ids: str) -> None:
    for position, arxiv_id in enumerate(arxiv_ids):
        IssuePin.objects.create(
            issue=issue, paper=Paper.objects.get(arxiv_id=arxiv_id), position=position
        )


def _shown_picks(response: Any) -> list[tuple[str, str]]:
    return [(arxiv_id, reason) for _, _, arxiv_id, reason in response.context["rows"]]


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _inline_formset_data(prefix: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {
        f"{prefix}-TOTAL_FORMS": len(rows),
        f"{prefix}-INITIAL_FORMS": 0,
        f"{prefix}-MIN_NUM_FORMS": 0,
        f"{prefix}-MAX_NUM_FORMS": 1000,
    }
    for n, row in enumerate(rows):
        data.update({f"{prefix}-{n}-{key}": value for key, value in row.items()})
    return data


def _change_form(
    issue: Issue, *, note: str, pins: list[tuple[Paper, int]], hides: list[Paper]
) -> dict[str, Any]:
    pin_rows = [
        {"paper": paper.pk, "position": position, "issue": issue.pk, "id": ""}
        for paper, position in pins
    ]
    hide_rows = [{"paper": paper.pk, "issue": issue.pk, "id": ""} for paper in hides]
    return {
        "note": note,
        **_inline_formset_data("pins", pin_rows),
        **_inline_formset_data("hides", hide_rows),
        "_continue": "Save",
    }


# --- The issue page -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.DRAFT, Status.SCHEDULED, Status.SENDING, Status.SENT])
def test_the_issue_pages_render_whatever_its_status(admin_client: Client, status: str) -> None:
    papers = _papers(6)
    issue = _issue(status=status, note="Good morning!")
    _pin(issue, papers[3].arxiv_id)

    change = admin_client.get(_admin_url("change", issue))
    preview = admin_client.get(_admin_url("preview", issue))

    assert change.status_code == 200
    assert preview.status_code == 200
    html = change.content.decode()
    assert "Good morning!" in html
    assert papers[0].title in html  # the candidates, linked to the paper admin
    assert reverse("admin:papers_paper_change", args=[papers[0].pk]) in html
    assert "Content-Security-Policy" in change.headers
    assert ("Send now" in html) == (status in (Status.SCHEDULED, Status.SENDING))
    assert ("Schedule</button>" in html) == (status == Status.DRAFT)


def test_the_inline_saves_pins_in_position_order_hides_and_the_note(admin_client: Client) -> None:
    papers = _papers(6)
    issue = _issue()

    data = _change_form(
        issue, note="Two picks today.", pins=[(papers[4], 2), (papers[1], 0)], hides=[papers[0]]
    )
    response = admin_client.post(_admin_url("change", issue), data)

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    issue.refresh_from_db()
    assert issue.note == "Two picks today."
    pins, candidates = issue_papers(issue=issue)
    assert [paper.arxiv_id for paper in pins] == [papers[1].arxiv_id, papers[4].arxiv_id]
    assert papers[0].arxiv_id not in [paper.arxiv_id for paper in candidates]
    assert list(IssueHide.objects.filter(issue=issue).values_list("paper_id", flat=True)) == [
        papers[0].pk
    ]
    page = admin_client.get(_admin_url("change", issue)).content.decode()
    assert page.index(papers[1].title) < page.index(papers[4].title)


def test_scraped_titles_are_escaped_on_the_issue_and_preview_pages(admin_client: Client) -> None:
    papers = _papers(3)
    Paper.objects.filter(pk=papers[0].pk).update(title='Pose <script>alert("x")</script> at scale')
    issue = _issue()
    _pin(issue, papers[0].arxiv_id)

    pages = [
        admin_client.get(_admin_url(name, issue)).content.decode()
        for name in ("change", "preview", "preview_email")
    ]

    for html in pages:
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(" in html


def test_pinning_the_same_paper_twice_is_an_error_and_saves_nothing(admin_client: Client) -> None:
    papers = _papers(3)
    issue = _issue()

    data = _change_form(issue, note="Changed", pins=[(papers[1], 0), (papers[1], 1)], hides=[])
    response = admin_client.post(_admin_url("change", issue), data)

    assert response.status_code == 200
    assert "Please correct" in response.content.decode()
    issue.refresh_from_db()
    assert issue.note == ""
    assert not IssuePin.objects.exists()


@pytest.mark.parametrize("how", ["sending", "a reader is due"])
def test_an_issue_that_has_started_going_out_cannot_be_edited(
    admin_client: Client, how: str
) -> None:
    papers = _papers(4)
    issue = _issue(note="As sent.")
    _pin(issue, papers[2].arxiv_id)
    if how == "sending":
        Issue.objects.filter(pk=issue.pk).update(status=Status.SENDING)
    else:
        Delivery.objects.create(issue=issue, subscriber=_reader())

    page = admin_client.get(_admin_url("change", issue))
    data = _change_form(issue, note="Changed mid-send", pins=[(papers[0], 0)], hides=[papers[1]])
    admin_client.post(_admin_url("change", issue), data)

    html = page.content.decode()
    assert "read-only" in html
    assert "would give its readers different issues" in html
    assert 'name="_save"' not in html
    assert 'name="note"' not in html
    issue.refresh_from_db()
    assert issue.note == "As sent."
    assert list(issue.pins.values_list("paper__arxiv_id", flat=True)) == [papers[2].arxiv_id]
    assert not issue.hides.exists()


def test_saving_the_note_leaves_the_status_and_pause_the_worker_set(admin_client: Client) -> None:
    _papers(3)
    issue = _issue()
    page = admin_client.get(_admin_url("change", issue))
    assert page.status_code == 200
    # Between the editor opening the page and saving it, the issue is paused by the error-rate
    # guard.
    services.issue_pause(issue=issue, reason="error rate 40%")

    admin_client.post(
        _admin_url("change", issue), _change_form(issue, note="Hello", pins=[], hides=[])
    )

    issue.refresh_from_db()
    assert issue.note == "Hello"
    assert issue.paused_at is not None
    assert issue.pause_reason == "error rate 40%"


# --- The list and its counts ----------------------------------------------------------------------


def _deliveries_create(issue: Issue, rows: list[dict[str, Any]]) -> None:
    for fields in rows:
        Delivery.objects.create(issue=issue, subscriber=_reader(), **fields)


def test_the_list_counts_each_issues_deliveries(admin_client: Client) -> None:
    _papers(3)
    now = timezone.now()
    today, yesterday = (
        _issue(status=Status.SENDING),
        _issue(date=DAY - dt.timedelta(days=1), status=Status.SENT),
    )
    _deliveries_create(
        today,
        [
            {"status": "sent", "delivered_at": now, "opened_at": now, "clicked_at": now},
            {"status": "sent", "delivered_at": now, "opened_at": now},
            {"status": "sent", "bounced_at": now, "complained_at": now},
            {"status": "failed", "error": "550 mailbox unavailable"},
            {"status": "queued"},
            {"status": "skipped"},
        ],
    )
    _deliveries_create(
        yesterday,
        [{"status": "sent", "delivered_at": now}, {"status": "failed", "error": "timeout"}],
    )

    response = admin_client.get(ISSUES)

    assert response.status_code == 200
    by_date = {issue.date: issue for issue in response.context["cl"].result_list}
    figures = ["due", "sent", "failed", "delivered", "opened", "clicked", "bounced", "complained"]
    assert [by_date[DAY].counts[name] for name in figures] == [6, 3, 1, 2, 2, 1, 1, 1]
    assert [by_date[DAY - dt.timedelta(days=1)].counts[name] for name in figures] == [
        2,
        1,
        1,
        1,
        0,
        0,
        0,
        0,
    ]
    html = response.content.decode()
    row = html[html.index(f'href="{_admin_url("change", today)}'.split("change")[0]) :]
    row = row[: row.index("</tr>")]
    cells = re.findall(r'<td class="field-(\w+)[^"]*">(.*?)</td>', row)
    shown = {name: re.sub(r"<[^>]+>", "", value) for name, value in cells}
    assert {
        name: shown[name]
        for name in ("due", "sent", "delivered", "opened", "bounced", "complained")
    } == {
        "due": "6",
        "sent": "3",
        "delivered": "2",
        "opened": "2",
        "bounced": "1",
        "complained": "1",
    }
    # "failed" links to the failures.
    assert f"issue__id__exact={today.pk}&amp;status__exact=failed" in row
    # The list's own <style> block passes the CSP by its nonce, and only by it.
    style_src = matched(r"style-src ([^;]*)", response["Content-Security-Policy"]).group(1)
    nonce = fully_matched(r"'self' 'nonce-([^']+)'", style_src).group(1)
    assert f'<style nonce="{nonce}">' in html


def _changelist_queries(admin_client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(ISSUES).status_code == 200
    return len(queries)


def test_the_list_costs_the_same_queries_for_one_issue_or_twenty(
    admin_client: Client, django_assert_max_num_queries: Any
) -> None:
    _papers(3)
    readers = [_reader() for _ in range(3)]
    first = _issue(status=Status.SENDING)
    for reader in readers:
        Delivery.objects.create(issue=first, subscriber=reader, status="sent")
    one = _changelist_queries(admin_client)
    for n in range(1, 20):
        issue = _issue(date=DAY - dt.timedelta(days=n), status=Status.SENT)
        for reader in readers:
            Delivery.objects.create(issue=issue, subscriber=reader, status="sent")

    with django_assert_max_num_queries(one):
        response = admin_client.get(ISSUES)

    assert len(response.context["cl"].result_list) == 20
    assert one <= 8


def test_the_list_filters_by_status_kind_and_pause(admin_client: Client) -> None:
    _papers(3)
    scheduled = _issue()
    draft = _issue(date=DAY - dt.timedelta(days=1), status=Status.DRAFT)
    services.issue_pause(issue=draft, reason="typo in the note")

    def listed(**query: str) -> set[int]:
        return {issue.pk for issue in admin_client.get(ISSUES, query).context["cl"].result_list}

    assert listed(status__exact="draft") == {draft.pk}
    assert listed(paused="yes") == {draft.pk}
    assert listed(paused="no") == {scheduled.pk}
    assert listed(kind__exact="weekly") == set()


# --- Preview --------------------------------------------------------------------------------------


def test_a_preview_as_a_subscriber_shows_pins_first_then_their_matches(
    admin_client: Client,
) -> None:
    papers = _papers(10)
    issue = _issue()
    _pin(issue, papers[4].arxiv_id, papers[0].arxiv_id)
    reader = _reader(email="ada@example.org", interests="robot grasping", digest_size=4)

    response = admin_client.get(_admin_url("preview", issue), {"subscriber": "ADA@example.org"})

    assert response.status_code == 200
    assert [arxiv_id for arxiv_id, _ in _shown_picks(response)] == [
        papers[4].arxiv_id,
        papers[0].arxiv_id,
        papers[2].arxiv_id,  # robot grasping, 98 upvotes
        papers[7].arxiv_id,  # robot grasping, 93 upvotes
    ]
    reasons = [reason for _, reason in _shown_picks(response)]
    assert reasons[:2] == ["editor's pick"] * 2
    # Words alone do not make a match (no vectors here): their votes are the reason.
    assert reasons[2:] == ["trending: 98 upvotes", "trending: 93 upvotes"]
    html = response.content.decode()
    assert "Ranked by words and votes only" in html  # the interests have no stored vectors yet
    assert "top trending papers" not in html
    assert re.search(
        r'<iframe[^>]+sandbox="[^"]*"[^>]+src="[^"]+/preview/email/\?subscriber=ADA%40example.org"',
        html,
    )
    assert reader.email in html
    assert embeddings._model is None


def test_a_preview_for_an_interests_text_ranks_by_meaning_once_its_vectors_are_stored(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    papers = _papers(10)
    issue = _issue()
    _pin(issue, papers[9].arxiv_id)
    # The worker's part, done beforehand: the candidates' and the interests' vectors are stored.
    monkeypatch.setattr(vectors, "text_embed", fake_embed)
    vectors.papers_vectors(papers=Paper.objects.all())
    vectors.interests_texts_store(interests=["speech recognition"])
    vectors.cache_clear()
    monkeypatch.setattr(vectors, "text_embed", _no_embedding)

    response = admin_client.get(
        _admin_url("preview", issue), {"interests": "speech recognition", "size": "3"}
    )

    assert [arxiv_id for arxiv_id, _ in _shown_picks(response)] == [
        papers[9].arxiv_id,
        papers[1].arxiv_id,
        papers[6].arxiv_id,
    ]
    assert "Ranked by words and votes only" not in response.content.decode()
    assert embeddings._model is None


def test_a_preview_that_matches_nothing_says_the_reader_gets_trending_papers(
    admin_client: Client,
) -> None:
    papers = _papers(6)
    issue = _issue()

    response = admin_client.get(
        _admin_url("preview", issue), {"interests": "quantum error correction", "size": "3"}
    )

    assert [arxiv_id for arxiv_id, _ in _shown_picks(response)] == [p.arxiv_id for p in papers[:3]]
    assert "the reader gets the top trending papers" in response.content.decode()


def test_an_unknown_subscriber_or_a_bad_size_is_a_form_error(admin_client: Client) -> None:
    _papers(3)
    issue = _issue()

    response = admin_client.get(
        _admin_url("preview", issue), {"subscriber": "nobody@example.org", "size": "500"}
    )

    assert response.status_code == 200
    assert "No subscriber has this email address or id." in response.content.decode()
    assert "preview" not in response.context
    assert admin_client.get(_admin_url("preview_email", issue), {"size": "500"}).status_code == 400


def test_the_framed_email_is_the_readers_without_their_signed_links(admin_client: Client) -> None:
    papers = _papers(4)
    issue = _issue()
    reader = _reader(interests="pose estimation")

    response = admin_client.get(_admin_url("preview_email", issue), {"subscriber": str(reader.pk)})

    html = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert papers[0].title in html
    assert "/manage/" not in html
    assert "/unsubscribe/" not in html
    # Framed by the admin only, its <style> blocks allowed by nonce, no form may post anywhere.
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy
    assert "form-action 'none'" in policy
    nonce = matched(r"style-src 'nonce-([^']+)'", policy).group(1)
    assert f'<style nonce="{nonce}"' in html
    text = admin_client.get(_admin_url("preview", issue), {"subscriber": str(reader.pk)}).context[
        "text"
    ]
    assert papers[0].title in text
    assert "/manage/" not in text


# --- Send a test ----------------------------------------------------------------------------------


def test_send_a_test_to_me_mails_the_editor_only_and_leaves_no_ledger_row(
    admin_client: Client, admin_user: User
) -> None:
    papers = _papers(6)
    issue = _issue()
    _reader()

    response = admin_client.post(
        _admin_url("send_test", issue), {"interests": "protein folding", "size": "3"}, follow=True
    )

    [email] = mail.outbox
    assert email.to == [admin_user.email]
    assert email.subject.startswith("[Test] ")
    assert papers[4].title in email.body
    assert not Delivery.objects.exists()
    assert f"Test sent to {admin_user.email} with 3 papers." in _messages(response)
    assert (
        response.context["form"]["interests"].value() == "protein folding"
    )  # back on the same preview


def test_send_a_test_needs_an_email_address_on_the_account(
    admin_client: Client, admin_user: User
) -> None:
    _papers(3)
    issue = _issue()
    User.objects.filter(pk=admin_user.pk).update(email="")

    response = admin_client.post(
        _admin_url("send_test", issue), {"interests": "", "size": "3"}, follow=True
    )

    assert not mail.outbox
    assert "Your account has no email address: add one to your user first." in _messages(response)


# --- Send now -------------------------------------------------------------------------------------


def test_send_now_asks_first_then_sends_each_deliverable_reader_once(
    admin_client: Client, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        vectors, "text_embed", fake_embed
    )  # the sending batches are the worker's: they embed
    _papers(6)
    issue = _issue()
    daily, weekdays = _reader(), _reader(frequency=Subscriber.Frequency.WEEKDAYS, delivery_hour=23)
    _reader(frequency=Subscriber.Frequency.WEEKLY)
    _reader(status=Subscriber.Status.PAUSED)
    _reader(status=Subscriber.Status.PENDING, confirmed_at=None)
    already = _reader()
    Delivery.objects.create(issue=issue, subscriber=already, status="sent")

    page = admin_client.get(_admin_url("send_now", issue))

    assert page.status_code == 200
    assert page.context["readers"] == 2
    assert page.context["already"] == 1
    assert not mail.outbox
    assert Delivery.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(_admin_url("send_now", issue))
    assert response.status_code == 302
    assert sorted(m.to[0] for m in mail.outbox) == sorted([daily.email, weekdays.email])
    assert set(Delivery.objects.filter(status="sent").values_list("subscriber_id", flat=True)) == {
        daily.pk,
        weekdays.pk,
        already.pk,
    }
    issue.refresh_from_db()
    assert issue.status == Status.SENDING
    # Pressed again: nobody is left, nobody gets it twice.
    assert issue_readers_to_send(issue=issue).count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(_admin_url("send_now", issue))
    assert len(mail.outbox) == 2


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("draft", "This issue is a draft: schedule it (approve it) first, then send it."),
        ("paused", "This issue is paused (bounces): resume it first."),
        ("sent", "This issue has been sent and its day is over"),
    ],
)
def test_send_now_refuses_a_draft_a_paused_or_a_sent_issue(
    admin_client: Client, django_capture_on_commit_callbacks: Any, state: str, message: str
) -> None:
    _papers(3)
    issue = _issue(status=Status.SCHEDULED if state == "paused" else state)
    if state == "paused":
        services.issue_pause(issue=issue, reason="bounces")
    _reader()

    page = admin_client.get(_admin_url("send_now", issue), follow=True)
    with django_capture_on_commit_callbacks(execute=True):
        posted = admin_client.post(_admin_url("send_now", issue), follow=True)

    for response in (page, posted):
        assert response.redirect_chain[-1][0] == _admin_url("change", issue)
        assert any(message in text for text in _messages(response))
    assert not Delivery.objects.exists()
    assert not mail.outbox


# --- Pause, resume, schedule, back to draft -------------------------------------------------------


def test_pause_asks_for_a_reason_and_resume_lifts_it(admin_client: Client) -> None:
    _papers(3)
    issue = _issue(status=Status.SENDING)

    assert admin_client.get(_admin_url("pause", issue)).status_code == 200
    issue.refresh_from_db()
    assert issue.paused_at is None
    admin_client.post(_admin_url("pause", issue), {"reason": "  wrong   note  "})
    issue.refresh_from_db()
    assert issue.paused_at is not None
    assert issue.pause_reason == "wrong note"
    assert "wrong note" in admin_client.get(_admin_url("change", issue)).content.decode()

    admin_client.post(_admin_url("resume", issue))
    issue.refresh_from_db()
    assert issue.paused_at is None
    assert issue.pause_reason == ""


def test_pause_without_a_reason_says_who_paused_it(admin_client: Client, admin_user: User) -> None:
    _papers(3)
    issue = _issue()

    admin_client.post(_admin_url("pause", issue), {"reason": ""})

    issue.refresh_from_db()
    assert issue.pause_reason == f"paused by {admin_user.get_username()}"


def test_the_list_actions_pause_and_resume_the_selected_issues(
    admin_client: Client, admin_user: User
) -> None:
    _papers(3)
    first, second = _issue(), _issue(date=DAY - dt.timedelta(days=1))
    untouched = _issue(date=DAY - dt.timedelta(days=2))

    def act(action: str, *issues: Issue) -> Any:
        return admin_client.post(
            ISSUES, {"action": action, ACTION_CHECKBOX_NAME: [i.pk for i in issues]}, follow=True
        )

    response = act("pause_issues", first, second)
    assert "Paused 2 issues." in _messages(response)
    paused = dict(Issue.objects.values_list("pk", "pause_reason"))
    assert paused == {first.pk: "paused by admin", second.pk: "paused by admin", untouched.pk: ""}

    response = act("resume_issues", first)
    assert "Resumed 1 issue." in _messages(response)
    assert set(Issue.objects.filter(paused_at__isnull=False).values_list("pk", flat=True)) == {
        second.pk
    }


def test_schedule_approves_a_draft_and_back_to_draft_holds_it_until_someone_is_due(
    admin_client: Client,
) -> None:
    _papers(3)
    issue = _issue(status=Status.DRAFT)

    admin_client.post(_admin_url("schedule", issue))
    issue.refresh_from_db()
    assert issue.status == Status.SCHEDULED
    admin_client.post(_admin_url("hold", issue))
    issue.refresh_from_db()
    assert issue.status == Status.DRAFT

    admin_client.post(_admin_url("schedule", issue))
    Delivery.objects.create(issue=issue, subscriber=_reader())
    response = admin_client.post(_admin_url("hold", issue), follow=True)
    issue.refresh_from_db()
    assert issue.status == Status.SCHEDULED
    assert any(
        "1 reader already due for it" in text and "Pause it instead" in text
        for text in _messages(response)
    )
    response = admin_client.post(_admin_url("schedule", issue), follow=True)
    assert "Only a draft can be scheduled; this issue is scheduled." in _messages(response)


def test_a_get_on_a_url_that_changes_state_changes_nothing(admin_client: Client) -> None:
    _papers(3)
    issue = _issue(status=Status.DRAFT)
    services.issue_pause(issue=issue, reason="held")
    _reader()
    before = Issue.objects.values().get(pk=issue.pk)

    for name in ("resume", "schedule", "hold", "send_test"):
        assert admin_client.get(_admin_url(name, issue)).status_code == 405, name
    assert admin_client.get(_admin_url("pause", issue)).status_code == 200
    admin_client.get(_admin_url("send_now", issue))

    assert Issue.objects.values().get(pk=issue.pk) == before
    assert not Delivery.objects.exists()
    assert not mail.outbox


# --- Who may --------------------------------------------------------------------------------------

ISSUE_VIEWS = [
    "change",
    "preview",
    "preview_email",
    "send_test",
    "send_now",
    "pause",
    "resume",
    "schedule",
    "hold",
]


@pytest.mark.parametrize("name", ISSUE_VIEWS)
@pytest.mark.parametrize("who", ["anonymous", "reader"])
def test_anonymous_and_non_staff_users_are_sent_to_the_login_page(
    client: Client, django_user_model: Any, name: str, who: str
) -> None:
    _papers(3)
    issue = _issue()
    if who == "reader":
        client.force_login(
            django_user_model.objects.create_user("reader", "reader@example.org", "pw")
        )

    for method in (client.get, client.post):
        response = method(_admin_url(name, issue))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    issue.refresh_from_db()
    assert issue.status == Status.SCHEDULED
    assert issue.paused_at is None
    assert not Delivery.objects.exists()
    assert not mail.outbox


@pytest.mark.parametrize(
    "name", ["preview", "preview_email", "send_test", "send_now", "pause", "resume"]
)
def test_staff_who_may_only_view_issues_are_refused(
    client: Client, django_user_model: Any, name: str
) -> None:
    _papers(3)
    issue = _issue()
    viewer = django_user_model.objects.create_user(
        "viewer", "viewer@example.org", "pw", is_staff=True
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_issue"))
    client.force_login(viewer)

    assert client.get(_admin_url("change", issue)).status_code == 200
    response = client.post(_admin_url(name, issue), {"reason": "x", "interests": "", "size": "3"})

    assert response.status_code == 403
    issue.refresh_from_db()
    assert issue.paused_at is None
    assert not mail.outbox


# --- The ledger -----------------------------------------------------------------------------------


def test_the_delivery_list_is_read_only_and_shows_failures_with_their_error(
    admin_client: Client,
) -> None:
    _papers(3)
    issue = _issue(status=Status.SENDING)
    failed = _reader(email="grace@navy.example")
    Delivery.objects.create(
        issue=issue, subscriber=failed, status="failed", attempts=5, error="550 5.1.1 no such user"
    )
    Delivery.objects.create(
        issue=issue, subscriber=_reader(), status="sent", delivered_at=timezone.now()
    )

    response = admin_client.get(DELIVERIES, {"status__exact": "failed"})

    assert response.status_code == 200
    assert [d.subscriber.email for d in response.context["cl"].result_list] == [
        "grace@navy.example"
    ]
    html = response.content.decode()
    assert "550 5.1.1 no such user" in html
    assert [
        d.subscriber.email
        for d in admin_client.get(DELIVERIES, {"q": "NAVY"}).context["cl"].result_list
    ] == ["grace@navy.example"]
    assert (
        len(admin_client.get(DELIVERIES, {"issue__id__exact": issue.pk}).context["cl"].result_list)
        == 2
    )
    delivery = Delivery.objects.get(subscriber=failed)
    change = admin_client.get(reverse("admin:digest_delivery_change", args=[delivery.pk]))
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert admin_client.get(reverse("admin:digest_delivery_add")).status_code == 403
    admin_client.post(reverse("admin:digest_delivery_delete", args=[delivery.pk]), {"post": "yes"})
    assert Delivery.objects.filter(pk=delivery.pk).exists()


def test_issues_cannot_be_added_or_deleted_here(admin_client: Client) -> None:
    _papers(3)
    issue = _issue(status=Status.SENT)

    assert admin_client.get(reverse("admin:digest_issue_add")).status_code == 403
    admin_client.post(reverse("admin:digest_issue_delete", args=[issue.pk]), {"post": "yes"})
    admin_client.post(
        ISSUES, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [issue.pk], "post": "yes"}
    )

    assert Issue.objects.filter(pk=issue.pk).exists()


def test_the_subscriber_page_lists_their_latest_twenty_deliveries(admin_client: Client) -> None:
    _papers(3)
    reader = _reader()
    for n in range(22):
        issue = _issue(date=DAY - dt.timedelta(days=n), status=Status.SENT)
        Delivery.objects.create(
            issue=issue,
            subscriber=reader,
            status="failed" if n == 0 else "sent",
            error="mailbox full" if n == 0 else "",
            papers=["2611.10000", "2611.10001"],
            opened_at=timezone.now() if n == 1 else None,
        )

    response = admin_client.get(reverse("admin:subscriptions_subscriber_change", args=[reader.pk]))

    html = response.content.decode()
    table = html[
        html.index('class="subscriber-deliveries"') : html.index(
            "</table>", html.index("subscriber-deliveries")
        )
    ]
    dates = re.findall(r">(\d{4}-\d{2}-\d{2}) daily<", table)
    assert dates == [f"{DAY - dt.timedelta(days=n):%Y-%m-%d}" for n in range(20)]
    assert "mailbox full" in table
    assert "opened" in table
    assert ">2<" in table
    listed = (
        admin_client.get(DELIVERIES, {"subscriber__id__exact": reader.pk}).context["cl"].result_list
    )
    assert len(listed) == 22
