"""The public feed of trending papers of the newest days, and the feeds' autodiscovery links."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from papers.feeds import FEED_PER_DAY
from tests.factories import PaperFactory
from tests.helpers import atom_errors, json_feed_errors

pytestmark = pytest.mark.django_db

LATEST = dt.date(2025, 11, 20)
ATOM_URL, JSON_URL = "/papers/feed.atom", "/papers/feed.json"


def _day(back: int) -> dt.date:
    return LATEST - dt.timedelta(days=back)


def _items(client: Client) -> list[dict[str, Any]]:
    return list(json.loads(client.get(JSON_URL).content)["items"])


def test_the_urls_are_named() -> None:
    assert reverse("papers:feed-atom") == ATOM_URL
    assert reverse("papers:feed-json") == JSON_URL


def test_it_lists_the_newest_seven_days_most_upvoted_first_at_most_30_a_day(
    client: Client,
) -> None:
    newest = [
        PaperFactory.create(hf_date=LATEST, upvotes=n, title=f"Newest day {n}") for n in range(35)
    ]
    earlier = [
        PaperFactory.create(hf_date=_day(back), upvotes=5, title=f"Day -{back}")
        for back in range(1, 7)
    ]
    PaperFactory.create(hf_date=_day(7), upvotes=999, title="Eight days back")
    PaperFactory.create(hf_date=LATEST, upvotes=999, title="Hidden", hidden=True)
    PaperFactory.create(hf_date=LATEST, upvotes=999, title="Gone", withdrawn_at=timezone.now())

    titles = [item["title"] for item in _items(client)]

    top = sorted(newest, key=lambda p: -p.upvotes)[:FEED_PER_DAY]
    assert titles == [p.title for p in top] + [p.title for p in earlier]


def test_a_day_in_the_future_does_not_push_the_real_days_out(client: Client) -> None:
    today = timezone.now().date()
    PaperFactory.create(hf_date=today, title="Today")
    PaperFactory.create(hf_date=today + dt.timedelta(days=30), title="Misdated")

    assert [item["title"] for item in _items(client)] == ["Today"]


def test_entries_link_to_the_papers_page_here_with_a_stable_id(
    client: Client, settings: Any
) -> None:
    paper = PaperFactory.create(hf_date=LATEST, github_repo="https://github.com/ada/x")

    (item,) = _items(client)

    assert item["url"] == settings.SITE_URL + f"/papers/{paper.arxiv_id}/"
    assert item["id"].endswith(f",2025-11-20:paper:{paper.arxiv_id}")
    assert "https://github.com/ada/x" in item["content_html"]
    assert item["_paperboy"] == {"arxiv_id": paper.arxiv_id, "day": "2025-11-20"}
    assert (item["id"],) == tuple(i["id"] for i in _items(client))


def test_both_formats_validate_against_their_published_schemas(client: Client) -> None:
    PaperFactory.create(
        hf_date=LATEST, title="Ctrl\x0cchar & <b>tags</b> “ünïcode”", abstract="a < b\x1f"
    )
    PaperFactory.create(hf_date=_day(1), authors=[f"Author {n}" for n in range(9)])
    PaperFactory.create(hf_date=_day(2), authors=[])

    atom, feed_json = client.get(ATOM_URL), client.get(JSON_URL)

    assert atom_errors(atom.content) == []
    assert json_feed_errors(feed_json.content) == []
    assert len(json.loads(feed_json.content)["items"]) == 3


def test_an_empty_site_has_a_valid_empty_feed(client: Client) -> None:
    assert atom_errors(client.get(ATOM_URL).content) == []
    assert json_feed_errors(client.get(JSON_URL).content) == []


def test_the_feeds_have_their_types_validators_and_public_caching(client: Client) -> None:
    PaperFactory.create(hf_date=LATEST)

    atom, feed_json = client.get(ATOM_URL), client.get(JSON_URL)

    assert atom["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert feed_json["Content-Type"] == "application/feed+json; charset=utf-8"
    for response in (atom, feed_json):
        assert "public" in response["Cache-Control"]
        assert "max-age=60" in response["Cache-Control"]
        assert response["ETag"]
        assert response["Last-Modified"]


@pytest.mark.parametrize("url", [ATOM_URL, JSON_URL])
def test_it_answers_304_to_either_validator(client: Client, url: str) -> None:
    PaperFactory.create(hf_date=LATEST)
    first = client.get(url)

    by_etag = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    by_date = client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])

    assert by_etag.status_code == by_date.status_code == 304
    assert by_etag["ETag"] == first["ETag"]
    assert "public" in by_etag["Cache-Control"]
    assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


@pytest.fixture
def page_cache(settings: Any) -> Any:
    settings.PAPERBOY_PAGE_CACHE = True
    caches["default"].clear()
    yield caches["default"]
    caches["default"].clear()


def test_the_server_keeps_the_feed_a_minute_and_never_keeps_a_304(
    client: Client, page_cache: Any, django_assert_num_queries: Any
) -> None:
    PaperFactory.create(hf_date=LATEST, title="Cached paper")
    # The first request of all is a conditional one that matches nothing the server made.
    first = client.get(ATOM_URL, HTTP_IF_NONE_MATCH='"stale"')
    assert first.status_code == 200

    with django_assert_num_queries(0):
        plain = client.get(ATOM_URL)
        not_modified = client.get(ATOM_URL, HTTP_IF_NONE_MATCH=first["ETag"])

    assert plain.status_code == 200
    assert plain.content == first.content
    assert "Cached paper" in plain.content.decode()
    assert not_modified.status_code == 304


def test_hostile_query_strings_change_nothing(client: Client) -> None:
    PaperFactory.create(hf_date=LATEST)

    for query in ("?fmt=xml", "?page=%00", "?" + "x" * 5000, "?q=%E2%80%AE"):
        assert client.get(ATOM_URL + query).status_code == 200
    assert client.post(ATOM_URL).status_code == 405
    assert client.get("/papers/feed.rss").status_code == 404


# --- Autodiscovery -------------------------------------------------------------------------------

_ALTERNATE = re.compile(r'<link rel="alternate" type="([^"]+)" title="[^"]*" href="([^"]+)">')


@pytest.mark.parametrize("page", ["/", "/search/", "/digest/", "/subscribe/"])
def test_public_pages_announce_the_public_feeds_and_no_private_one(
    client: Client, page: str
) -> None:
    PaperFactory.create(hf_date=LATEST)

    found = set(_ALTERNATE.findall(client.get(page).content.decode()))

    assert found == {
        ("application/atom+xml", "/papers/feed.atom"),
        ("application/feed+json", "/papers/feed.json"),
        ("application/atom+xml", "/digest/feed.atom"),
        ("application/feed+json", "/digest/feed.json"),
    }
