"""Editors' curation in the admin: build an issue, know whom "send now" reaches, pin and hide."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django.urls import reverse

from digest import ledger, services
from digest.models import Delivery, Issue, IssueHide, IssuePin
from digest.selectors import issue_papers, issue_reach, issue_readers_to_send
from papers.models import Paper
from subscriptions.models import Subscriber
from tests.factories import PaperFactory, papers_create, reader_create
from tests.helpers import BUILT, DAY

pytestmark = pytest.mark.django_db

BUILD = reverse("admin:digest_issue_build")
ISSUES = reverse("admin:digest_issue_changelist")
Status = Issue.Status
Frequency = Subscriber.Frequency


@pytest.fixture(autouse=True)
def _at_build_time() -> Any:
    """The clock at DAY's build time: the build form's "at most a week ahead" is from today."""
    with time_machine.travel(BUILT, tick=False):
        yield


def _issue(**fields: Any) -> Issue:
    issue = services.issue_build(date=DAY)
    if fields:
        Issue.objects.filter(pk=issue.pk).update(**fields)
        issue.refresh_from_db()
    return issue


def _url(name: str, issue: Issue) -> str:
    return reverse(f"admin:digest_issue_{name}", args=[issue.pk])


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _staff(django_user_model: Any, *codenames: str) -> Any:
    user = django_user_model.objects.create_user("ed", "ed@example.org", "pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


# --- Build an issue -------------------------------------------------------------------------------


def test_it_offers_build_issue_on_the_list_and_says_where_issues_come_from(
    admin_client: Client,
) -> None:
    html = admin_client.get(ISSUES).content.decode()

    assert f'href="{BUILD}"' in html
    assert "Build issue…" in html
    assert "No issue yet. The hourly tick builds the daily issue" in html


def test_staff_who_may_only_view_issues_get_no_build_button_and_no_build_page(
    client: Client, django_user_model: Any
) -> None:
    papers_create(3)
    client.force_login(_staff(django_user_model, "view_issue"))

    listing = client.get(ISSUES)
    page = client.get(BUILD, {"date": "2026-11-24", "kind": "daily"})
    posted = client.post(BUILD, {"date": "2026-11-24", "kind": "daily"})

    assert listing.status_code == 200
    assert BUILD not in listing.content.decode()
    assert (page.status_code, posted.status_code) == (403, 403)
    assert not Issue.objects.exists()


def test_staff_who_may_add_issues_may_build_them(client: Client, django_user_model: Any) -> None:
    papers_create(3)
    client.force_login(_staff(django_user_model, "view_issue", "add_issue", "change_issue"))

    response = client.post(BUILD, {"date": "2026-11-24", "kind": "daily"})

    issue = Issue.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _url("change", issue)


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_users_are_sent_to_the_login_page(client: Client, method: str) -> None:
    papers_create(3)

    response = getattr(client, method)(BUILD, {"date": "2026-11-24", "kind": "daily"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not Issue.objects.exists()


def test_the_build_form_opens_on_today_as_a_daily_issue(admin_client: Client) -> None:
    response = admin_client.get(BUILD)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="2026-11-24"' in html
    assert response.context["preview"] is None
    assert "Build this issue" not in html


@pytest.mark.parametrize(
    ("kind", "window"), [("daily", "2026-11-23 00:00"), ("weekly", "2026-11-17 00:00")]
)
def test_it_shows_the_candidates_the_window_would_take_then_builds_on_post(
    admin_client: Client, kind: str, window: str
) -> None:
    papers = papers_create(12)

    page = admin_client.get(BUILD, {"date": "2026-11-24", "kind": kind})

    assert page.status_code == 200
    assert not Issue.objects.exists()  # a look builds nothing
    html = page.content.decode()
    assert f"Window: {window} → 2026-11-24 00:00 UTC." in html
    assert re.search(r'class="issue-build-count">12 candidates<', html)
    shown = re.findall(r"<li style=\"list-style:decimal\">([^<]+?) <span", html)
    assert shown == [paper.title for paper in papers[:10]]
    assert "…and 2 more." in html
    assert "Build this issue" in html

    response = admin_client.post(BUILD, {"date": "2026-11-24", "kind": kind}, follow=True)

    issue = Issue.objects.get()
    assert (issue.date, issue.kind, issue.status) == (DAY, kind, Status.SCHEDULED)
    assert issue.candidate_ids == [paper.arxiv_id for paper in papers]
    assert response.redirect_chain[-1][0] == _url("change", issue)
    assert f"Built {issue} with 12 candidates; it is scheduled." in _messages(response)


def test_when_editors_must_approve_it_is_built_as_a_draft_and_says_so(
    admin_client: Client, settings: Any
) -> None:
    settings.PAPERBOY_ISSUE_REQUIRE_APPROVAL = True
    papers_create(3)

    page = admin_client.get(BUILD, {"date": "2026-11-24", "kind": "daily"})
    response = admin_client.post(BUILD, {"date": "2026-11-24", "kind": "daily"}, follow=True)

    assert (
        "It is built as a draft: nothing goes out until you schedule it." in page.content.decode()
    )
    issue = Issue.objects.get()
    assert issue.status == Status.DRAFT
    assert (
        f"Built {issue} with 3 candidates; it is a draft: schedule it when it is ready."
        in _messages(response)
    )


def test_a_weekly_issue_dated_on_another_day_than_monday_says_only_send_now_sends_it(
    admin_client: Client,
) -> None:
    papers_create(3)

    html = admin_client.get(BUILD, {"date": "2026-11-24", "kind": "weekly"}).content.decode()

    assert "this date is a Tuesday, so only “Send now” sends it" in html


def test_building_an_issue_that_exists_goes_to_it(admin_client: Client) -> None:
    papers_create(3)
    issue = _issue(status=Status.SENDING)

    page = admin_client.get(BUILD, {"date": "2026-11-24", "kind": "daily"})
    response = admin_client.post(BUILD, {"date": "2026-11-24", "kind": "daily"}, follow=True)

    html = page.content.decode()
    assert f"{issue} already exists (sending)" in html
    assert f'href="{_url("change", issue)}"' in html
    assert "Build this issue" not in html
    assert response.redirect_chain[-1][0] == _url("change", issue)
    assert f"{issue} was already built: here it is." in _messages(response)
    assert Issue.objects.count() == 1
    issue.refresh_from_db()
    assert issue.status == Status.SENDING


def test_an_empty_window_says_why_and_builds_nothing(admin_client: Client) -> None:
    papers_create(3, day=DAY - dt.timedelta(days=40))  # too old even for a quiet day's top-up

    page = admin_client.get(BUILD, {"date": "2026-11-24", "kind": "daily"})
    response = admin_client.post(BUILD, {"date": "2026-11-24", "kind": "daily"})

    assert "Nothing to build: no papers in this window" in page.content.decode()
    assert "Build this issue" not in page.content.decode()
    assert response.status_code == 200
    [message] = _messages(response)
    assert message.startswith("Nothing to build: no papers between 2026-11-23 00:00 and 2026-11-24")
    assert not Issue.objects.exists()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"date": "2026-13-01", "kind": "daily"}, "Enter a valid date."),
        ({"date": "", "kind": "daily"}, "This field is required."),
        ({"date": "1900-01-01", "kind": "daily"}, "There are no papers that old"),
        ({"date": "2027-01-01", "kind": "daily"}, "At most 7 days ahead (until 2026-12-01)"),
        ({"date": "2026-11-24", "kind": "monthly"}, "Select a valid choice."),
        ({"date": "2026-11-24\x00", "kind": "daily"}, "Enter a valid date."),
        ({"kind": "daily"}, "This field is required."),
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bad_date_or_kind_is_a_form_error_and_builds_nothing(
    admin_client: Client, data: dict[str, str], error: str, method: str
) -> None:
    papers_create(3)

    response = getattr(admin_client, method)(BUILD, data)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert response.context["preview"] is None
    assert not Issue.objects.exists()


def test_building_needs_the_csrf_token(admin_user: Any) -> None:
    papers_create(3)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    response = client.post(BUILD, {"date": "2026-11-24", "kind": "daily"})

    assert response.status_code == 403
    assert not Issue.objects.exists()


# --- Whom "send now" reaches ----------------------------------------------------------------------


def _subscribers_of_every_sort(issue: Issue) -> dict[str, Subscriber]:
    readers = {
        "daily": reader_create(),
        "weekdays": reader_create(frequency=Frequency.WEEKDAYS),
        "weekly": reader_create(frequency=Frequency.WEEKLY),
        "paused": reader_create(status=Subscriber.Status.PAUSED),
        "pending": reader_create(status=Subscriber.Status.PENDING, confirmed_at=None),
        "unsubscribed": reader_create(status=Subscriber.Status.UNSUBSCRIBED),
        "bounced": reader_create(status=Subscriber.Status.BOUNCED),
        "already": reader_create(),
    }
    Delivery.objects.create(issue=issue, subscriber=readers["already"], status="sent")
    return readers


def test_the_reach_counts_each_subscriber_once_by_its_reason(
    django_assert_num_queries: Any,
) -> None:
    papers_create(3)
    issue = _issue()
    _subscribers_of_every_sort(issue)

    with django_assert_num_queries(1):
        reach = issue_reach(issue=issue)

    assert reach.readers == issue_readers_to_send(issue=issue).count() == 2
    assert reach.subscribers == Subscriber.objects.count() == 8
    assert {name: count for name, _, count in reach.left_out} == {
        "other_kind": 1,
        "pending": 1,
        "paused": 1,
        "unsubscribed": 1,
        "bounced": 1,
        "already": 1,
    }
    assert reach.readers + sum(count for _, _, count in reach.left_out) == reach.subscribers


def test_send_now_names_whom_it_leaves_out_and_why(admin_client: Client) -> None:
    papers_create(3)
    issue = _issue()
    _subscribers_of_every_sort(issue)

    html = admin_client.get(_url("send_now", issue)).content.decode()

    assert "<strong>2</strong> readers will be added and sent it now." in html
    assert "Left out, of 8 subscribers:" in html
    left_out = dict(re.findall(r'<li data-reason="(\w+)">[^<]+: <strong>(\d+)</strong>', html))
    assert left_out == {
        "other_kind": "1",
        "pending": "1",
        "paused": "1",
        "unsubscribed": "1",
        "bounced": "1",
        "already": "1",
    }
    assert "Weekly readers (they get the weekly issue, not this daily one): <strong>1" in html
    assert f"{BUILD}?date=2026-11-24&amp;kind=weekly" in html
    assert "Yes, send it now" in html


def test_a_send_now_that_would_reach_nobody_says_why_offers_no_button_and_sends_nothing(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    # The README's recipe: a daily issue, and the only reader wants the weekly one.
    papers_create(3)
    issue = _issue()
    reader_create(frequency=Frequency.WEEKLY)
    reader_create(frequency=Frequency.DAILY, status=Subscriber.Status.PAUSED)

    page = admin_client.get(_url("send_now", issue))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(_url("send_now", issue), follow=True)

    html = page.content.decode()
    assert "would reach nobody, so there is nothing to send: it stays scheduled" in html
    assert "Yes, send it now" not in html
    assert 'method="post"' not in html.split('id="content-main"')[1]
    assert "Weekly readers (they get the weekly issue, not this daily one): <strong>1<" in html
    assert "Paused: <strong>1<" in html
    assert not callbacks  # no send task queued
    assert response.redirect_chain[-1][0] == _url("change", issue)
    assert (
        "Not sent: it would reach nobody. Of 2 subscribers: weekly readers (they get the weekly "
        "issue, not this daily one): 1; paused: 1."
    ) in _messages(response)
    issue.refresh_from_db()
    assert issue.status == Status.SCHEDULED
    assert not Delivery.objects.exists()
    assert not mail.outbox


def test_send_now_with_nobody_subscribed_says_so(admin_client: Client) -> None:
    papers_create(3)
    issue = _issue()

    html = admin_client.get(_url("send_now", issue)).content.decode()

    assert "Nobody has subscribed yet." in html
    assert "Yes, send it now" not in html


def test_a_send_that_finds_nobody_by_the_time_it_runs_leaves_the_issue_scheduled() -> None:
    papers_create(3)
    issue = _issue()
    reader_create(frequency=Frequency.WEEKLY)

    created = ledger.deliveries_create_all(issue=issue, now=BUILT)

    issue.refresh_from_db()
    assert created == 0
    assert issue.status == Status.SCHEDULED
    assert issue.sending_at is None


# --- Pin and hide beside each candidate -----------------------------------------------------------


def _buttons(html: str) -> list[tuple[str, str]]:
    """(action, paper id) of every candidate button on the page, in order."""
    return re.findall(
        r'<button type="submit" form="issue-candidate-action" formaction="[^"]+" name="paper"'
        r' value="(\d+)" class="button issue-candidate-(\w+)"',
        html,
    )


def test_each_candidate_has_pin_and_hide_buttons_posting_through_their_own_form(
    admin_client: Client,
) -> None:
    papers = papers_create(3)
    issue = _issue()

    html = admin_client.get(_url("change", issue)).content.decode()

    assert _buttons(html) == [
        (str(paper.pk), action) for paper in papers for action in ("pin", "hide")
    ]
    assert f'formaction="{_url("pin", issue)}"' in html
    # The buttons' form is outside the change form (forms do not nest), with its CSRF token.
    action_form = re.search(
        r'<form id="issue-candidate-action" method="post" hidden>(.*?)</form>', html
    )
    assert action_form is not None
    assert 'name="csrfmiddlewaretoken"' in action_form.group(1)
    assert html.index('id="issue_form"') < html.index('id="issue-candidate-action"')


def test_pin_is_idempotent_shows_unpin_and_unpin_undoes_it(admin_client: Client) -> None:
    papers = papers_create(4)
    issue = _issue()
    IssuePin.objects.create(issue=issue, paper=papers[3], position=5)

    first = admin_client.post(_url("pin", issue), {"paper": papers[1].pk}, follow=True)
    again = admin_client.post(_url("pin", issue), {"paper": papers[1].pk}, follow=True)

    pins, _ = issue_papers(issue=issue)
    assert [paper.pk for paper in pins] == [papers[3].pk, papers[1].pk]  # last among the pins
    assert IssuePin.objects.get(paper=papers[1]).position == 6
    assert first.redirect_chain[-1][0] == f"{_url('change', issue)}#candidate-{papers[1].pk}"
    assert any(m.startswith(f"Pinned “{papers[1].title}”") for m in _messages(first))
    assert f"“{papers[1].title}” was already pinned." in _messages(again)
    html = again.content.decode()
    assert (str(papers[1].pk), "unpin") in _buttons(html)
    row = html[html.index(f'id="candidate-{papers[1].pk}"') :]
    assert "<strong>pinned</strong>" in row[: row.index("</li>")]

    undone = admin_client.post(_url("unpin", issue), {"paper": papers[1].pk}, follow=True)

    assert not IssuePin.objects.filter(paper=papers[1]).exists()
    assert f"Unpinned “{papers[1].title}”." in _messages(undone)
    assert (str(papers[1].pk), "pin") in _buttons(undone.content.decode())


def test_hide_keeps_a_candidate_out_and_unhide_lets_it_back(admin_client: Client) -> None:
    papers = papers_create(4)
    issue = _issue()

    admin_client.post(_url("hide", issue), {"paper": papers[0].pk})
    admin_client.post(_url("hide", issue), {"paper": papers[0].pk})

    assert IssueHide.objects.filter(issue=issue, paper=papers[0]).count() == 1
    _, candidates = issue_papers(issue=issue)
    assert papers[0] not in candidates
    html = admin_client.get(_url("change", issue)).content.decode()
    assert (str(papers[0].pk), "unhide") in _buttons(html)

    admin_client.post(_url("unhide", issue), {"paper": papers[0].pk})

    _, candidates = issue_papers(issue=issue)
    assert candidates[0] == papers[0]


def test_a_pin_keeps_the_candidates_order_the_editor_chose(admin_client: Client) -> None:
    papers = papers_create(3)
    issue = _issue()

    html = admin_client.get(_url("change", issue), {"votes": "more"}).content.decode()
    response = admin_client.post(f"{_url('pin', issue)}?votes=more", {"paper": papers[2].pk})

    assert f'formaction="{_url("pin", issue)}?votes=more"' in html
    assert response["Location"] == f"{_url('change', issue)}?votes=more#candidate-{papers[2].pk}"


@pytest.mark.parametrize("paper", ["", "abc", "999999", "99999999999999999999999", "1\x00"])
@pytest.mark.parametrize("action", ["pin", "unpin", "hide", "unhide"])
def test_a_bad_paper_is_a_clear_error_and_changes_nothing(
    admin_client: Client, paper: str, action: str
) -> None:
    papers_create(3)
    issue = _issue()
    IssuePin.objects.create(issue=issue, paper=Paper.objects.earliest("pk"), position=0)

    response = admin_client.post(_url(action, issue), {"paper": paper}, follow=True)

    assert response.status_code == 200
    [message] = _messages(response)
    assert message in (
        "Nothing changed: No such paper.",
        "Nothing changed: No paper was named.",
        "Nothing changed: Null characters are not allowed.",
    )
    assert IssuePin.objects.count() == 1
    assert not IssueHide.objects.exists()


@pytest.mark.parametrize("how", ["sending", "a reader is due"])
def test_an_issue_that_has_started_going_out_has_no_buttons_and_refuses_a_pin(
    admin_client: Client, how: str
) -> None:
    papers = papers_create(3)
    issue = _issue()
    if how == "sending":
        Issue.objects.filter(pk=issue.pk).update(status=Status.SENDING)
    else:
        Delivery.objects.create(issue=issue, subscriber=reader_create())

    html = admin_client.get(_url("change", issue)).content.decode()
    responses = [
        admin_client.post(_url(action, issue), {"paper": papers[0].pk}, follow=True)
        for action in ("pin", "hide")
    ]

    assert not _buttons(html)
    for response in responses:
        [message] = _messages(response)
        assert message == (
            f"Nothing changed: {issue} has started going out: "
            "its pins and hides can no longer change."
        )
    assert not IssuePin.objects.exists()
    assert not IssueHide.objects.exists()


def test_a_get_on_a_candidate_button_url_changes_nothing(admin_client: Client) -> None:
    papers = papers_create(3)
    issue = _issue()

    for action in ("pin", "unpin", "hide", "unhide"):
        response = admin_client.get(_url(action, issue), {"paper": papers[0].pk})
        assert response.status_code == 405, action

    assert not IssuePin.objects.exists()
    assert not IssueHide.objects.exists()


def test_candidate_buttons_need_the_csrf_token(admin_user: Any) -> None:
    papers = papers_create(3)
    issue = _issue()
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    response = client.post(_url("pin", issue), {"paper": papers[0].pk})

    assert response.status_code == 403
    assert not IssuePin.objects.exists()


@pytest.mark.parametrize("name", ["pin", "unpin", "hide", "unhide", "papers"])
def test_staff_who_may_only_view_issues_may_not_pin_hide_or_search(
    client: Client, django_user_model: Any, name: str
) -> None:
    papers = papers_create(3)
    issue = _issue()
    client.force_login(_staff(django_user_model, "view_issue"))

    page = client.get(_url("change", issue))
    method = client.get if name == "papers" else client.post
    response = method(_url(name, issue), {"paper": papers[0].pk, "term": "pose"})

    assert page.status_code == 200
    assert not _buttons(page.content.decode())
    assert response.status_code == 403
    assert not IssuePin.objects.exists()
    assert not IssueHide.objects.exists()


# --- The pin search -------------------------------------------------------------------------------


def _search(admin_client: Client, issue: Issue, term: str) -> dict[str, list[str]]:
    response = admin_client.get(_url("papers", issue), {"term": term, "page": "1"})
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"more": False}
    return {
        group["text"]: [item["text"] for item in group["children"]] for group in body["results"]
    }


def test_the_pin_search_lists_the_issues_candidates_first(admin_client: Client) -> None:
    papers = papers_create(4)
    issue = _issue()
    PaperFactory.create(arxiv_id="2611.20000", title="Pose estimation, the sequel", upvotes=999)

    empty = _search(admin_client, issue, "")
    pose = _search(admin_client, issue, "pose")

    assert empty["Candidates of this issue"] == [str(paper) for paper in papers]
    assert pose == {
        "Candidates of this issue": [str(papers[0])],
        "Other papers": ["2611.20000 Pose estimation, the sequel"],
    }
    assert list(pose) == ["Candidates of this issue", "Other papers"]


def test_the_pin_search_finds_sam_3_before_medsam3(admin_client: Client) -> None:
    papers_create(3)
    issue = _issue()
    titles = {
        "2511.10001": ("MedSAM3: Delving into Segment Anything with Medical Concepts", 900),
        "2511.10002": ("SAM 3: Segment Anything with Concepts", 50),
        "2511.10003": ("SAM 3D: 3Dfy Anything in Images", 300),
        "2511.10004": ("Sample-efficient 3D scene learning", 950),
        "2511.10005": ("Segment anything, version 2", 990),
    }
    for arxiv_id, (title, upvotes) in titles.items():
        PaperFactory.create(arxiv_id=arxiv_id, title=title, upvotes=upvotes)

    found = _search(admin_client, issue, "SAM 3")
    by_id = _search(admin_client, issue, "2511.10002")

    assert [text.split(" ", 1)[0] for text in found["Other papers"]] == [
        "2511.10002",  # SAM 3: both words, whole, first in the title
        "2511.10001",  # MedSAM3: "sam3" in one word
        "2511.10003",  # SAM 3D: "sam" whole, "3" starting a word
        "2511.10004",  # Sample-efficient 3D: both only starting words
    ]
    assert "Candidates of this issue" not in found
    assert by_id["Other papers"][0].startswith("2511.10002")


@pytest.mark.parametrize("term", ["\x00", "x" * 5000, "%_%", "'; DROP TABLE papers_paper; --"])
def test_the_pin_search_takes_any_text_without_a_500(admin_client: Client, term: str) -> None:
    papers_create(3)
    issue = _issue()

    _search(admin_client, issue, term)

    assert Paper.objects.count() == 3


def test_the_pins_and_hides_fields_ask_the_issues_own_search(admin_client: Client) -> None:
    papers_create(3)
    issue = _issue()

    html = admin_client.get(_url("change", issue)).content.decode()

    fields = re.findall(r'<select name="(pins|hides)-__prefix__-paper"[^>]*>', html)
    assert sorted(fields) == ["hides", "pins"]
    urls = re.findall(r'data-ajax--url="([^"]+)"', html)
    assert len(urls) == 2
    assert set(urls) == {_url("papers", issue)}
