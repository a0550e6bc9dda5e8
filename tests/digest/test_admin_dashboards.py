"""The admin's Charts and Operations pages: staff only, true figures, bounded queries, valid SVG."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from html import unescape
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from digest.charts import Chart, Series, chart_render, chart_svg, nice_ceiling
from digest.figures import fetch_health_by_day, readers_by_day
from digest.models import Delivery, DeliveryStatus, Issue, IssueStatus, Vote
from papers.models import FetchRun
from subscriptions.models import Subscriber, SubscriptionStat
from tests.factories import FetchRunFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
CHARTS = reverse("admin:charts")
OPERATIONS = reverse("admin:operations")
RECOVER = reverse("admin:recover_stuck")
DELIVERIES = reverse("admin:digest_delivery_changelist")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def _now() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def editor(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("editor", "editor@example.org", "pw"))
    return client


def _issue(day: dt.date, **fields: Any) -> Issue:
    start = timezone.make_aware(dt.datetime.combine(day - dt.timedelta(days=1), dt.time()))
    fields = {"status": IssueStatus.SENDING, **fields}
    return Issue.objects.create(
        date=day, window_start=start, window_end=start + dt.timedelta(days=1), **fields
    )


def _deliveries(issue: Issue, n: int, **fields: Any) -> list[Delivery]:
    readers = SubscriberFactory.create_batch(n)
    fields = {"status": DeliveryStatus.SENT, **fields}
    return Delivery.objects.bulk_create(
        [Delivery(issue=issue, subscriber=reader, **fields) for reader in readers]
    )


def _table_row(html: str, chart_key: str, label: str) -> list[str]:
    """The figures of one row of a chart's table, as shown."""
    figure = re.search(rf'<figure class="chart" id="{chart_key}">(.*?)</figure>', html, re.S)
    assert figure is not None, f"no chart {chart_key}"
    row = re.search(rf'<tr><th scope="row">{re.escape(label)}</th>(.*?)</tr>', figure[1])
    assert row is not None, f"no row {label!r} in {chart_key}"
    return re.findall(r'<td class="chart-num">([^<]*)</td>', row[1])


def _actions(html: str) -> list[tuple[str, str]]:
    """The operations page's action links: (href, text as a screen reader reads it)."""
    found = re.findall(r'<a class="ops-action" href="([^"]*)">(.*?)</a>', html, re.S)
    return [(unescape(href), unescape(re.sub(r"<[^>]+>", "", text))) for href, text in found]


def _set_times(reader: Subscriber, **times: Any) -> None:
    Subscriber.objects.filter(pk=reader.pk).update(**times)


# --- Who may see them -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", [CHARTS, OPERATIONS])
def test_the_pages_send_anonymous_visitors_to_the_login(client: Client, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("url", [CHARTS, OPERATIONS])
def test_the_pages_refuse_readers_who_are_not_staff(client: Client, url: str) -> None:
    client.force_login(User.objects.create_user("reader", "reader@example.org", "pw"))

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("url", [CHARTS, OPERATIONS])
def test_the_pages_need_the_permission_to_view_issues(client: Client, url: str) -> None:
    staff = User.objects.create_user("staff", "staff@example.org", "pw", is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_issue"))

    assert client.get(url).status_code == 200


def test_the_admin_index_links_to_both_pages(editor: Client) -> None:
    html = editor.get(reverse("admin:index")).content.decode()

    assert f'<a href="{OPERATIONS}">Operations</a>' in html
    assert f'<a href="{CHARTS}">Charts</a>' in html


# --- Charts ---------------------------------------------------------------------------------------


def test_the_charts_say_what_will_appear_when_there_is_nothing_yet(editor: Client) -> None:
    html = editor.get(CHARTS).content.decode()

    assert "No readers yet" in html
    assert "No issue has gone out yet" in html
    assert "No votes yet" in html
    assert "No fetch in these days" in html
    assert "chart-svg" not in html


def test_each_issues_figures_are_the_ledgers(editor: Client) -> None:
    issue = _issue(TODAY)
    sent = _deliveries(issue, 10)
    Delivery.objects.filter(pk__in=[d.pk for d in sent[:3]]).update(bounced_at=NOW)
    Delivery.objects.filter(pk__in=[d.pk for d in sent[3:8]]).update(
        delivered_at=NOW, opened_at=NOW
    )
    Delivery.objects.filter(pk=sent[3].pk).update(clicked_at=NOW, complained_at=NOW)
    _deliveries(issue, 2, status=DeliveryStatus.FAILED)
    # A sent issue whose rows were pruned: the figures it kept.
    kept = {"sent": 40, "delivered": 39, "opened": 20, "clicked": 7, "bounced": 1, "complained": 0}
    _issue(TODAY - dt.timedelta(days=1), status=IssueStatus.SENT, counts_kept=kept)
    _issue(TODAY - dt.timedelta(days=2), status=IssueStatus.DRAFT)  # never went out: not shown

    html = editor.get(CHARTS).content.decode()

    # sent, delivered, opened, clicked, bounced, complained
    assert _table_row(html, "chart-issues", "11-24") == ["10", "5", "5", "1", "3", "1"]
    assert _table_row(html, "chart-issues", "11-23") == ["40", "39", "20", "7", "1", "0"]
    assert "11-22" not in html


def test_votes_per_issue_count_more_and_less(editor: Client) -> None:
    issue = _issue(TODAY)
    deliveries = _deliveries(issue, 3)
    for n, (delivery, direction) in enumerate(
        zip(deliveries, ["more", "more", "less"], strict=True)
    ):
        Vote.objects.create(
            subscriber_id=delivery.subscriber_id,
            delivery=delivery,
            arxiv_id=f"2611.0000{n}",
            direction=direction,
        )

    html = editor.get(CHARTS).content.decode()

    assert _table_row(html, "chart-votes", "11-24") == ["2", "1"]
    assert "No votes yet" not in html


def test_readers_by_status_follow_their_timestamps() -> None:
    day = dt.timedelta(days=1)
    joined = NOW - 3 * day
    pending = SubscriberFactory.create(status=Subscriber.Status.PENDING, confirmed_at=None)
    active = SubscriberFactory.create()
    left = SubscriberFactory.create(status=Subscriber.Status.UNSUBSCRIBED)
    bounced = SubscriberFactory.create(status=Subscriber.Status.BOUNCED)
    old = SubscriberFactory.create()  # joined long before the window: counted from its start
    for reader in (pending, active, left, bounced):
        _set_times(reader, created_at=joined, updated_at=joined)
    _set_times(active, confirmed_at=joined + day)
    _set_times(left, confirmed_at=joined, unsubscribed_at=NOW - day)
    _set_times(bounced, confirmed_at=joined, updated_at=NOW)
    _set_times(old, created_at=NOW - 90 * day, confirmed_at=NOW - 89 * day)
    SubscriptionStat.objects.create(day=TODAY, kind=SubscriptionStat.Kind.DELETED, count=2)

    states, flow = readers_by_day(today=TODAY, days=5)

    assert states.days == [TODAY - n * day for n in (4, 3, 2, 1, 0)]
    assert states.series == {
        "Pending": [0, 2, 1, 1, 1],
        "Active": [1, 3, 4, 3, 2],
        "Paused": [0, 0, 0, 0, 0],
        "Unsubscribed": [0, 0, 0, 1, 1],
        "Suppressed": [0, 0, 0, 0, 1],
    }
    assert flow.series == {
        "Sign-ups": [0, 4, 0, 0, 0],
        "Unsubscribes": [0, 0, 0, 1, 0],
        "Deletions": [0, 0, 0, 0, 2],
    }


def test_fetch_health_counts_successes_and_each_failed_attempt() -> None:
    def run(days_ago: int, **fields: Any) -> None:
        started = NOW - dt.timedelta(days=days_ago)
        FetchRun.objects.filter(pk=FetchRunFactory.create(**fields).pk).update(started_at=started)

    run(0)
    run(0, source="arxiv")
    run(1, status=FetchRun.Status.FAILED, failures=3, failure_kind="HTTP 503")
    run(1, status=FetchRun.Status.RUNNING)  # not finished: neither
    run(20)  # out of the window

    health = fetch_health_by_day(today=TODAY, days=3)

    assert health.series == {"Succeeded": [0, 0, 2], "Failed attempts": [0, 3, 0]}


def test_the_charts_cost_the_same_few_queries_for_many_issues(
    editor: Client, django_assert_max_num_queries: Any
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert editor.get(CHARTS).status_code == 200
        return len(captured)

    _deliveries(_issue(TODAY), 2)
    few = queries()
    for n in range(1, 30):
        issue = _issue(
            TODAY - dt.timedelta(days=n), status=IssueStatus.SENT if n > 2 else "sending"
        )
        _deliveries(issue, 2)
    FetchRunFactory.create_batch(5)

    with django_assert_max_num_queries(8):
        editor.get(CHARTS)
    assert queries() == few


def test_every_chart_is_well_formed_svg_with_a_title_and_a_description(editor: Client) -> None:
    _deliveries(_issue(TODAY), 4)
    FetchRunFactory.create()

    html = editor.get(CHARTS).content.decode()

    drawings = re.findall(r"<svg class=\"chart-svg.*?</svg>", html, re.S)
    assert len(drawings) == 4  # readers, their comings and goings, issues, fetches (no votes)
    for drawing in drawings:
        root = ET.fromstring(drawing)
        assert root.tag == f"{SVG}svg"
        assert root.get("role") == "img"
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert title is not None
        assert title.text
        assert desc is not None
        assert desc.text
        assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


# --- The SVG module -------------------------------------------------------------------------------


def _chart(**fields: Any) -> Chart:
    defaults: dict[str, Any] = {
        "key": "c",
        "title": "Sent",
        "description": "Per issue.",
        "axis": "Issue",
        "labels": ("a", "b"),
        "series": (Series("Sent", (10, 3)),),
    }
    return Chart(**{**defaults, **fields})


def test_a_chart_escapes_what_it_shows() -> None:
    evil = "<script>alert(1)</script>"
    chart = _chart(title=evil, labels=(evil, "b"), series=(Series(evil, (1, 2)),))

    html = chart_render(chart=chart)

    assert "<script>" not in html
    ET.fromstring(chart_svg(chart=chart))  # still well-formed


def test_a_line_chart_has_a_point_per_value_with_its_figure() -> None:
    chart = _chart(kind="lines", series=(Series("Active", (4, 7)), Series("Pending", (1, 0))))

    root = ET.fromstring(chart_svg(chart=chart))

    shown = [t.text for t in root.iter(f"{SVG}title")][1:]
    assert shown == ["Active, a: 4", "Active, b: 7", "Pending, a: 1", "Pending, b: 0"]
    assert len(list(root.iter(f"{SVG}polyline"))) == 2


def test_a_bar_is_as_tall_as_its_share_of_the_axis() -> None:
    root = ET.fromstring(chart_svg(chart=_chart(series=(Series("Sent", (12, 3)),))))

    heights = [float(rect.get("height", "0")) for rect in root.iter(f"{SVG}rect")]

    assert nice_ceiling(12) == 12
    assert heights[0] == pytest.approx(4 * heights[1], abs=0.2)


def test_of_many_labels_every_other_one_may_be_left_out_on_a_phone() -> None:
    days = tuple(f"Nov {n}" for n in range(1, 31))
    many = ET.fromstring(chart_svg(chart=_chart(labels=days, series=(Series("S", (1,) * 30),))))
    few = ET.fromstring(chart_svg(chart=_chart()))

    written = [t for t in many.iter(f"{SVG}text") if t.text and t.text.startswith("Nov")]
    assert [t.text for t in written] == [f"Nov {n}" for n in range(1, 31, 3)]
    assert [t.get("class") for t in written[:2]] == ["chart-tick", "chart-tick chart-tick-minor"]
    assert "chart-tick-minor" not in ET.tostring(few, encoding="unicode")


@pytest.mark.parametrize(
    ("value", "top"), [(0, 4), (4, 4), (5, 8), (9, 12), (21, 24), (101, 120), (12345, 16000)]
)
def test_the_axis_ends_at_a_round_number_above_the_largest_value(value: int, top: int) -> None:
    assert nice_ceiling(value) == top


def test_a_chart_refuses_series_that_do_not_fit_its_labels() -> None:
    with pytest.raises(ValueError, match="2 labels"):
        chart_render(chart=_chart(series=(Series("Sent", (1, 2, 3)),)))
    with pytest.raises(ValueError, match="negative"):
        chart_render(chart=_chart(series=(Series("Sent", (1, -2)),)))


# --- Operations -----------------------------------------------------------------------------------


def test_a_paused_issue_is_listed_with_its_resume_page_until_resumed(editor: Client) -> None:
    issue = _issue(TODAY, paused_at=NOW, pause_reason="12 of 20 digests failed in one batch")

    html = editor.get(OPERATIONS).content.decode()

    assert "12 of 20 digests failed in one batch" in html
    change = reverse("admin:digest_issue_change", args=[issue.pk])
    assert (change, f"Review and resume {issue}") in _actions(html)

    editor.post(reverse("admin:digest_issue_resume", args=[issue.pk]))

    html = editor.get(OPERATIONS).content.decode()
    assert "No issue is paused" in html
    assert change not in html


def test_a_stuck_claim_is_listed_until_recovered(editor: Client, settings: Any) -> None:
    settings.PAPERBOY_CLAIM_TIMEOUT_MINUTES = 15
    issue = _issue(TODAY)
    _deliveries(issue, 2, status=DeliveryStatus.SENDING, claimed_at=NOW - dt.timedelta(hours=1))
    _deliveries(issue, 1, status=DeliveryStatus.SENDING, claimed_at=NOW)  # a batch at work

    html = editor.get(OPERATIONS).content.decode()

    assert _actions(html) == [
        (
            f"{DELIVERIES}?issue__id__exact={issue.pk}&status__exact=sending",
            "See the 2 claimed deliveries of Daily issue of 2026-11-24",
        )
    ]

    response = editor.post(RECOVER, follow=True)

    assert "2 requeued, 0 failed" in response.content.decode()
    html = editor.get(OPERATIONS).content.decode()
    assert "No claim is stuck" in html
    assert Delivery.objects.filter(status=DeliveryStatus.SENDING).count() == 1


def test_recovering_claims_is_a_post_for_those_who_may_change_issues(client: Client) -> None:
    staff = User.objects.create_user("staff", "staff@example.org", "pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_issue"))
    client.force_login(staff)
    _deliveries(
        _issue(TODAY), 1, status=DeliveryStatus.SENDING, claimed_at=NOW - dt.timedelta(days=1)
    )

    assert client.get(RECOVER).status_code == 405
    assert client.post(RECOVER).status_code == 403
    assert "Recover stuck claims now" not in client.get(OPERATIONS).content.decode()
    assert Delivery.objects.get().status == DeliveryStatus.SENDING


def test_failed_deliveries_of_recent_issues_are_listed_with_the_ledger_filtered(
    editor: Client,
) -> None:
    recent = _issue(TODAY - dt.timedelta(days=1))
    _deliveries(recent, 3, status=DeliveryStatus.FAILED, error="550 mailbox unavailable")
    old = _issue(TODAY - dt.timedelta(days=30))
    _deliveries(old, 4, status=DeliveryStatus.FAILED)

    html = editor.get(OPERATIONS).content.decode()

    assert _actions(html) == [
        (
            f"{DELIVERIES}?issue__id__exact={recent.pk}&status__exact=failed",
            "See the 3 failed deliveries of Daily issue of 2026-11-23",
        )
    ]
    assert "550 mailbox unavailable" in html
    assert f"issue__id__exact={old.pk}&" not in html


def test_a_failing_source_is_listed_until_it_fetches_again(editor: Client) -> None:
    FetchRunFactory.create(source="arxiv")
    FetchRunFactory.create(
        source="arxiv", status=FetchRun.Status.FAILED, failures=4, failure_kind="HTTP 503"
    )
    FetchRunFactory.create(source="hf", status=FetchRun.Status.FAILED)
    FetchRunFactory.create(source="hf")  # failed, then fetched again

    html = editor.get(OPERATIONS).content.decode()

    runs = reverse("admin:papers_fetchrun_changelist")
    assert _actions(html) == [(f"{runs}?source__exact=arxiv", "See its runs (arXiv API)")]
    assert "HTTP 503" in html
    assert "source__exact=hf" not in html

    FetchRunFactory.create(source="arxiv")

    assert "Every source's latest fetch succeeded" in editor.get(OPERATIONS).content.decode()


def test_an_address_suppressed_this_week_is_listed_until_it_signs_up_again(
    editor: Client,
) -> None:
    bounced = SubscriberFactory.create(email="gone@example.org", status=Subscriber.Status.BOUNCED)
    long_ago = SubscriberFactory.create(
        email="long-ago@example.org", status=Subscriber.Status.COMPLAINED
    )
    _set_times(long_ago, updated_at=NOW - dt.timedelta(days=30))

    html = editor.get(OPERATIONS).content.decode()

    change = reverse("admin:subscriptions_subscriber_change", args=[bounced.pk])
    assert _actions(html) == [(change, "Review gone@example.org")]
    assert "long-ago@example.org" not in html

    Subscriber.objects.filter(pk=bounced.pk).update(status=Subscriber.Status.PENDING)

    assert "No address was suppressed" in editor.get(OPERATIONS).content.decode()


def test_the_operations_page_costs_the_same_few_queries_whatever_it_lists(
    editor: Client, django_assert_max_num_queries: Any
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert editor.get(OPERATIONS).status_code == 200
        return len(captured)

    empty = queries()
    for n in range(6):
        issue = _issue(TODAY - dt.timedelta(days=n), paused_at=NOW)
        _deliveries(issue, 2, status=DeliveryStatus.FAILED)
        _deliveries(issue, 2, status=DeliveryStatus.SENDING, claimed_at=NOW - dt.timedelta(days=1))
    SubscriberFactory.create_batch(5, status=Subscriber.Status.BOUNCED)
    FetchRunFactory.create(status=FetchRun.Status.FAILED)

    with django_assert_max_num_queries(10):
        editor.get(OPERATIONS)
    assert queries() == empty
