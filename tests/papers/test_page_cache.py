"""The public paper pages are rendered once a minute on the server, the same for everyone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.cache import caches
from django.test import Client

from tests.factories import PaperFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_cache(settings: Any) -> Any:
    # A local cache whatever REDIS_URL says: its expiry follows the clock the test moves.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pages"}
    }
    settings.PAPERBOY_PAGE_CACHE = True
    caches["default"].clear()
    yield caches["default"]
    caches["default"].clear()


def test_a_second_visit_within_the_minute_makes_no_query_and_a_later_one_sees_changes(
    client: Client, page_cache: Any, django_assert_num_queries: Any
) -> None:
    paper = PaperFactory.create(title="Sparse attention at scale")
    first = client.get("/")
    assert first.status_code == 200
    assert "Sparse attention at scale" in first.content.decode()
    with django_assert_num_queries(0):
        again = client.get("/")
    assert again.content == first.content
    assert "max-age=60" in again["Cache-Control"]
    assert "Content-Security-Policy" in again
    paper.title = "Dense attention after all"
    paper.save()
    assert "Dense attention after all" not in client.get("/").content.decode()  # within the minute
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61), tick=False):
        fresh = client.get("/")
    assert "Dense attention after all" in fresh.content.decode()


def test_a_paper_page_is_cached_but_never_shared_between_papers(
    client: Client, page_cache: Any
) -> None:
    one = PaperFactory.create(title="First paper")
    two = PaperFactory.create(title="Second paper")
    assert "First paper" in client.get(f"/papers/{one.arxiv_id}/").content.decode()
    assert "Second paper" in client.get(f"/papers/{two.arxiv_id}/").content.decode()
    assert "First paper" in client.get(f"/papers/{one.arxiv_id}/").content.decode()
