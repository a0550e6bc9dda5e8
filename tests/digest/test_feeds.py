"""A reader's private feed (Atom and JSON Feed) of their sent papers, and the public issues feed."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone
from django.utils.http import http_date
from lxml import etree

from digest import feeds
from digest.models import Delivery, Issue
from digest.votes import vote_token_read
from papers.models import Paper
from subscriptions.models import Subscriber
from subscriptions.selectors import FEED_LOOKUP_SECONDS
from subscriptions.services import (
    subscriber_delete,
    subscriber_feed_key_ensure,
    subscriber_feed_key_rotate,
)
from tests.factories import PaperFactory, papers_create, reader_create
from tests.helpers import ATOM_NS, atom_errors, json_feed_errors

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _issue(day: dt.date, *, status: str = Issue.Status.SENT, **fields: Any) -> Issue:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    return Issue.objects.create(
        date=day,
        status=status,
        window_start=start - dt.timedelta(days=1),
        window_end=start,
        **fields,
    )


def _after_the_lookup_expires() -> Any:
    """The clock moved past the cached lookup of a feed key."""
    return time_machine.travel(
        timezone.now() + dt.timedelta(seconds=FEED_LOOKUP_SECONDS + 1), tick=False
    )


def _sent(
    reader: Subscriber,
    papers: list[Paper],
    *,
    days_ago: float,
    reasons: list[str] | None = None,
    status: str = Delivery.Status.SENT,
    notices: list[str] | None = None,
) -> Delivery:
    """A delivery of these papers to the reader, sent `days_ago` days ago (its issue that day)."""
    sent_at = NOW - dt.timedelta(days=days_ago)
    issue = Issue.objects.filter(date=sent_at.date()).first() or _issue(sent_at.date())
    return Delivery.objects.create(
        issue=issue,
        subscriber=reader,
        status=status,
        sent_at=sent_at if status == Delivery.Status.SENT else None,
        papers=[p.arxiv_id for p in papers],
        reasons=reasons if reasons is not None else [f"matches: topic {p.pk}" for p in papers],
        notices=notices or [],
    )


def _feed_url(reader: Subscriber, fmt: str = "atom") -> str:
    return reverse(f"digest:feed-{fmt}", kwargs={"feed_key": reader.feed_key})


@pytest.fixture
def reader() -> Subscriber:
    reader = reader_create(email="ada@example.org")
    subscriber_feed_key_ensure(subscriber=reader)
    return reader


def _entries(body: bytes) -> list[etree._Element]:
    return etree.fromstring(body).findall("atom:entry", namespaces=ATOM_NS)


def _text(entry: etree._Element, name: str) -> str:
    return str(entry.findtext(f"atom:{name}", namespaces=ATOM_NS) or "")


# --- What the feed holds -------------------------------------------------------------------------


def test_it_holds_the_readers_sent_papers_newest_first_with_their_reasons(
    client: Client, reader: Subscriber
) -> None:
    older, newer = papers_create(2, prefix="2611.1"), papers_create(3, prefix="2611.2")
    _sent(reader, older, days_ago=3, reasons=["matches: pose estimation", "trending: 90 upvotes"])
    _sent(reader, newer, days_ago=1)

    response = client.get(_feed_url(reader))

    assert response.status_code == 200
    entries = _entries(response.content)
    assert [_text(e, "title") for e in entries] == [p.title for p in [*newer, *older]]
    first_old = entries[3]
    content = _text(first_old, "content")
    assert "matches: pose estimation" in content
    assert older[0].abstract in _text(first_old, "summary")
    link = first_old.find("atom:link", namespaces=ATOM_NS)
    assert link is not None
    page = reverse("papers:detail", kwargs={"arxiv_id": older[0].arxiv_id})
    assert link.get("href") == settings.SITE_URL + page


def test_each_entry_carries_its_deliverys_working_vote_links(
    client: Client, reader: Subscriber
) -> None:
    papers = papers_create(2)
    delivery = _sent(reader, papers, days_ago=1)

    feed = json.loads(client.get(_feed_url(reader, "json")).content)

    for item, paper in zip(feed["items"], papers, strict=True):
        links = item["_paperboy"]
        for direction, url in (
            ("more", links["more_like_this"]),
            ("less", links["less_like_this"]),
        ):
            match = resolve(urlsplit(url).path)
            assert match.url_name == "vote"
            assert match.kwargs["direction"] == direction
            assert vote_token_read(match.kwargs["token"])[:2] == (delivery.pk, paper.arxiv_id)
            assert url in item["content_html"]
        assert item["_paperboy"]["reason"] == f"matches: topic {paper.pk}"


def test_a_vote_link_from_the_feed_records_the_vote(client: Client, reader: Subscriber) -> None:
    (paper,) = papers_create(1)
    _sent(reader, [paper], days_ago=1)
    item = json.loads(client.get(_feed_url(reader, "json")).content)["items"][0]

    response = client.post(urlsplit(item["_paperboy"]["more_like_this"]).path)

    assert response.status_code == 200
    assert reader.votes.get().arxiv_id == paper.arxiv_id


def test_without_vote_links_in_the_settings_the_feed_has_none(
    client: Client, reader: Subscriber, settings: Any
) -> None:
    settings.PAPERBOY_VOTE_LINKS = False
    _sent(reader, papers_create(2), days_ago=1)

    body = client.get(_feed_url(reader)).content.decode()
    feed = json.loads(client.get(_feed_url(reader, "json")).content)

    assert "More like this" not in body
    assert "/digest/vote/" not in body
    assert all("more_like_this" not in item["_paperboy"] for item in feed["items"])


def test_only_sent_deliveries_of_the_last_30_days_are_shown(
    client: Client, reader: Subscriber
) -> None:
    recent, old = PaperFactory.create(title="Recent one"), PaperFactory.create(title="Too old")
    _sent(reader, [recent], days_ago=29)
    _sent(reader, [old], days_ago=31)
    for status, days in ((Delivery.Status.QUEUED, 2), (Delivery.Status.FAILED, 3)):
        _sent(
            reader,
            [PaperFactory.create(title=f"Never sent {status}")],
            days_ago=days,
            status=status,
        )
    _sent(reader_create(), [PaperFactory.create(title="Someone else's")], days_ago=1)

    titles = [_text(e, "title") for e in _entries(client.get(_feed_url(reader)).content)]

    assert titles == ["Recent one"]


def test_older_deliveries_without_reasons_show_none(client: Client, reader: Subscriber) -> None:
    _sent(reader, papers_create(2), days_ago=1, reasons=[])

    items = json.loads(client.get(_feed_url(reader, "json")).content)["items"]

    assert len(items) == 2
    assert all("reason" not in item["_paperboy"] for item in items)
    assert json_feed_errors(client.get(_feed_url(reader, "json")).content) == []


def test_code_now_available_notices_are_entries_with_the_repository(
    client: Client, reader: Subscriber
) -> None:
    paper = PaperFactory.create(
        title="Sparse video", github_repo="https://github.com/ada/sparse-video", github_stars=412
    )
    _sent(reader, [paper], days_ago=10)
    _sent(reader, papers_create(1), days_ago=1, notices=[paper.arxiv_id])

    entries = _entries(client.get(_feed_url(reader)).content)

    notice = entries[1]
    assert _text(notice, "title") == "Code is out: Sparse video"
    assert "https://github.com/ada/sparse-video" in _text(notice, "content")
    assert "412" in _text(notice, "content")


def test_entry_ids_are_tag_uris_stable_per_delivery_and_paper(
    client: Client, reader: Subscriber
) -> None:
    (paper,) = papers_create(1)
    first = _sent(reader, [paper], days_ago=2)
    _sent(reader, [paper], days_ago=1)  # the same paper sent again is another entry

    ids = [_text(e, "id") for e in _entries(client.get(_feed_url(reader)).content)]
    _sent(reader, papers_create(1, prefix="2611.9"), days_ago=0)  # its own day's issue
    with _after_the_lookup_expires():
        ids_later = [_text(e, "id") for e in _entries(client.get(_feed_url(reader)).content)]

    assert len(set(ids)) == 2
    host = urlsplit(settings.SITE_URL).hostname
    assert all(i.startswith(f"tag:{host},") for i in ids)
    assert f"delivery:{first.pk}:paper:{paper.arxiv_id}" in ids[1]
    assert ids_later[1:] == ids


# --- Who gets a feed ---------------------------------------------------------------------------


def _gone(reader: Subscriber, how: str) -> None:
    if how == "deleted":
        reader.delete()
    else:
        Subscriber.objects.filter(pk=reader.pk).update(status=how)


@pytest.mark.parametrize(
    "how",
    ["deleted", "unsubscribed", "bounced", "complained", "pending"],
)
def test_a_reader_who_left_has_no_feed_and_the_404_says_nothing_more(
    client: Client, reader: Subscriber, how: str
) -> None:
    _sent(reader, papers_create(1), days_ago=1)
    url = _feed_url(reader)
    never = reverse("digest:feed-atom", kwargs={"feed_key": "A" * 32})

    _gone(reader, how)
    response, unknown = client.get(url), client.get(never)

    assert response.status_code == unknown.status_code == 404
    assert response.content == unknown.content
    assert response["Content-Type"] == unknown["Content-Type"]


def test_a_paused_reader_keeps_their_feed(client: Client, reader: Subscriber) -> None:
    _sent(reader, papers_create(1), days_ago=1)
    Subscriber.objects.filter(pk=reader.pk).update(status=Subscriber.Status.PAUSED)

    assert client.get(_feed_url(reader)).status_code == 200


def test_a_new_key_kills_the_old_address_with_the_same_404(
    client: Client, reader: Subscriber
) -> None:
    old_url, old_json = _feed_url(reader), _feed_url(reader, "json")
    assert client.get(old_url).status_code == 200

    subscriber_feed_key_rotate(subscriber=reader)
    never = client.get(reverse("digest:feed-atom", kwargs={"feed_key": "B" * 32}))

    for url in (old_url, old_json):
        response = client.get(url)
        assert response.status_code == 404
        assert response.content == never.content
    assert client.get(_feed_url(reader)).status_code == 200


@pytest.mark.parametrize(
    "key",
    [
        "x" * 10_000,  # very long
        "é" * 32,  # unicode
        "%00" + "a" * 31,  # a NUL, percent-encoded
        "a" * 31 + "%00",
        "%E2%80%AE" + "a" * 32,  # right-to-left override
        "a" * 19,  # too short to be one
        "'; DROP TABLE x; --" + "a" * 20,
    ],
)
def test_hostile_keys_get_the_404_without_a_query(
    client: Client, key: str, django_assert_num_queries: Any
) -> None:
    never = client.get(reverse("digest:feed-atom", kwargs={"feed_key": "C" * 32}))

    with django_assert_num_queries(0):
        response = client.get(f"/digest/feed/{key}.atom")

    assert response.status_code == 404
    assert response.content == never.content


def test_a_key_with_a_slash_matches_no_feed_address(client: Client) -> None:
    # The resolver's own 404 (the site's page): no view, so nothing to look up either.
    assert client.get("/digest/feed/..%2F..%2Fadmin.atom").status_code == 404
    assert client.get("/digest/feed/a%2Fb" + "c" * 30 + ".json").status_code == 404


def test_an_empty_key_is_never_looked_up(client: Client, django_assert_num_queries: Any) -> None:
    reader_create()  # a reader with no key yet ("")

    with django_assert_num_queries(0):
        for path in ("/digest/feed/.atom", "/digest/feed/.json"):
            assert client.get(path).status_code == 404


# --- HTTP: types, validators, caching ------------------------------------------------------------


def test_both_formats_have_their_content_type_and_are_private(
    client: Client, reader: Subscriber
) -> None:
    atom, feed_json = client.get(_feed_url(reader)), client.get(_feed_url(reader, "json"))

    assert atom["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert feed_json["Content-Type"] == "application/feed+json; charset=utf-8"
    for response in (atom, feed_json):
        assert "private" in response["Cache-Control"]
        assert "public" not in response["Cache-Control"]
        assert response["X-Robots-Tag"] == "noindex, nofollow"
        assert response["ETag"]
        assert response["Last-Modified"]  # an empty feed's: when the reader confirmed


def test_it_answers_304_to_either_validator(client: Client, reader: Subscriber) -> None:
    _sent(reader, papers_create(2), days_ago=1)
    for fmt in ("atom", "json"):
        first = client.get(_feed_url(reader, fmt))
        assert first["Last-Modified"] == http_date((NOW - dt.timedelta(days=1)).timestamp())

        by_etag = client.get(_feed_url(reader, fmt), HTTP_IF_NONE_MATCH=first["ETag"])
        by_date = client.get(_feed_url(reader, fmt), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
        stale = client.get(_feed_url(reader, fmt), HTTP_IF_NONE_MATCH='"something-else"')

        assert by_etag.status_code == by_date.status_code == 304
        assert by_etag.content == by_date.content == b""
        assert stale.status_code == 200
        assert "private" in by_etag["Cache-Control"]


def test_a_new_delivery_shows_once_the_keys_lookup_expires(
    client: Client, reader: Subscriber
) -> None:
    _sent(reader, papers_create(1), days_ago=2)
    first = client.get(_feed_url(reader))

    _sent(reader, [PaperFactory.create(title="Fresh today")], days_ago=0.1)
    # Within the lookup's lifetime a poll costs no query, and still gets the copy it has.
    assert client.get(_feed_url(reader), HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    with _after_the_lookup_expires():
        again = client.get(_feed_url(reader), HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 200
    assert _text(_entries(again.content)[0], "title") == "Fresh today"


def test_a_poll_within_the_lookups_lifetime_costs_no_query(
    client: Client, reader: Subscriber, django_assert_max_num_queries: Any
) -> None:
    _sent(reader, papers_create(3), days_ago=1)
    first = client.get(_feed_url(reader))

    with django_assert_max_num_queries(0):
        again = client.get(_feed_url(reader), HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 304


def test_a_new_feed_address_kills_the_old_one_at_once_even_when_it_was_just_polled(
    client: Client, reader: Subscriber
) -> None:
    old = _feed_url(reader)
    assert client.get(old).status_code == 200

    subscriber_feed_key_rotate(subscriber=reader)

    assert client.get(old).status_code == 404
    assert client.get(_feed_url(reader)).status_code == 200


def test_a_deleted_reader_s_feed_is_gone_at_once_even_when_it_was_just_polled(
    client: Client, reader: Subscriber
) -> None:
    url = _feed_url(reader)
    assert client.get(url).status_code == 200

    subscriber_delete(subscriber=reader)

    assert client.get(url).status_code == 404


def test_a_polled_feed_costs_one_query(
    client: Client, reader: Subscriber, django_assert_max_num_queries: Any
) -> None:
    for days in range(20):
        _sent(reader, papers_create(5, prefix=f"26{days:02d}.1"), days_ago=days + 0.5)
    client.get(_feed_url(reader))  # builds and keeps the body

    with django_assert_max_num_queries(1):
        response = client.get(_feed_url(reader))

    assert len(_entries(response.content)) == 100


def test_building_the_feed_takes_a_constant_number_of_queries(
    client: Client, reader: Subscriber, django_assert_max_num_queries: Any
) -> None:
    for days in range(20):
        _sent(reader, papers_create(5, prefix=f"26{days:02d}.1"), days_ago=days + 0.5)

    with django_assert_max_num_queries(4):
        client.get(_feed_url(reader, "json"))


# --- Validation ----------------------------------------------------------------------------------


def test_both_formats_validate_against_their_published_schemas(
    client: Client, reader: Subscriber
) -> None:
    paper = PaperFactory.create(
        title="Ctrl\x0bchars <b>&</b> ünïcode “quotes”",
        abstract="Less < more & so on.\x1f",
        github_repo="https://github.com/ada/x",
        github_stars=3,
    )
    _sent(reader, [paper, *papers_create(2)], days_ago=2, reasons=["matches: <script>", "", "x"])
    _sent(reader, papers_create(1, prefix="2611.7"), days_ago=1, notices=[paper.arxiv_id])

    atom = client.get(_feed_url(reader)).content
    feed_json = client.get(_feed_url(reader, "json")).content

    assert atom_errors(atom) == []
    assert json_feed_errors(feed_json) == []
    assert len(_entries(atom)) == len(json.loads(feed_json)["items"]) == 5
    assert "<script>" not in atom.decode().replace("&lt;script&gt;", "")


def test_an_empty_feed_validates_too(client: Client, reader: Subscriber) -> None:
    assert atom_errors(client.get(_feed_url(reader)).content) == []
    assert json_feed_errors(client.get(_feed_url(reader, "json")).content) == []


def test_the_validators_do_reject_a_broken_feed() -> None:
    no_id = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b"<updated>yesterday</updated></feed>"
    )
    assert atom_errors(no_id)
    assert json_feed_errors(b'{"version": "https://jsonfeed.org/version/1.1", "items": [{}]}')


# --- The public feed of published issues -------------------------------------------------------


def test_the_issues_feed_lists_published_issues_newest_first(client: Client) -> None:
    papers = papers_create(3)
    ids = [p.arxiv_id for p in papers]
    _issue(dt.date(2025, 11, 18), candidate_ids=ids, note="A quiet week.")
    _issue(dt.date(2025, 11, 19), status=Issue.Status.SENDING, candidate_ids=ids)
    _issue(dt.date(2025, 11, 20), status=Issue.Status.SCHEDULED, candidate_ids=ids)
    _issue(dt.date(2025, 11, 21), status=Issue.Status.DRAFT, candidate_ids=ids)

    atom = client.get(reverse("digest:issues-feed-atom"))
    feed_json = client.get(reverse("digest:issues-feed-json"))

    titles = [_text(e, "title") for e in _entries(atom.content)]
    assert titles == [
        "Daily digest, Wednesday 19 November 2025",
        "Daily digest, Tuesday 18 November 2025",
    ]
    items = json.loads(feed_json.content)["items"]
    assert [urlsplit(i["url"]).path for i in items] == [
        reverse("digest:issue", kwargs={"day": dt.date(2025, 11, 19)}),
        reverse("digest:issue", kwargs={"day": dt.date(2025, 11, 18)}),
    ]
    assert "A quiet week." in items[1]["summary"]
    assert papers[0].title in items[0]["content_html"]
    assert atom_errors(atom.content) == []
    assert json_feed_errors(feed_json.content) == []
    assert "public" in atom["Cache-Control"]
    assert feed_json["Content-Type"] == "application/feed+json; charset=utf-8"


def test_the_issues_feed_answers_304(client: Client) -> None:
    _issue(dt.date(2025, 11, 18), candidate_ids=[p.arxiv_id for p in papers_create(2)])
    first = client.get(reverse("digest:issues-feed-atom"))

    assert (
        client.get(reverse("digest:issues-feed-atom"), HTTP_IF_NONE_MATCH=first["ETag"]).status_code
        == 304
    )
    assert (
        client.get(
            reverse("digest:issues-feed-atom"), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]
        ).status_code
        == 304
    )


@pytest.mark.postgres
def test_the_key_lookup_uses_the_feed_key_index_even_in_a_generic_plan() -> None:
    """psycopg prepares a statement run often; its generic plan must still use the index."""
    sql = feeds._READER_SQL.format(
        subscriber=connection.ops.quote_name(Subscriber._meta.db_table),
        delivery=connection.ops.quote_name(Delivery._meta.db_table),
    )
    # The statement's own placeholders, as PostgreSQL parameters.
    numbered = sql
    for n in range(1, sql.count("%s") + 1):
        numbered = numbered.replace("%s", f"${n}", 1)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"PREPARE feed_lookup(text, timestamptz, text, text, text, text) AS {numbered}"
        )
        cursor.execute(
            "EXPLAIN EXECUTE feed_lookup('sent', now(), 'k', 'active', 'paused', 'channel')"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE feed_lookup")
    assert "subscriber_feed_key" in plan, plan
