"""XSS payloads in scraped titles, abstracts, author names, summaries and keywords, and in
readers' interests and form input: shown as text, never as markup, on every page and in the digest
as emailed.

Papers come in through `papers.ingest.papers_ingest`, as a fetch stores them. The pages are checked
by parsing their HTML (not by searching for one string): no script but our own files, no
event-handler attribute, no javascript: URL, no frame, object or base element, and the payload
readable as text.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.test import Client
from hypothesis import example, given, settings
from hypothesis import strategies as st

from digest.models import Issue, IssueStatus
from papers.ingest import papers_ingest
from papers.models import Paper
from papers.sources.records import PaperRecord
from subscriptions.models import Subscriber
from subscriptions.tokens import Purpose, token_make
from tests.factories import SubscriberFactory
from tests.helpers import FORM
from tests.helpers_fuzz import FUZZ

pytestmark = pytest.mark.django_db

ARXIV_ID = "2511.04242"
DAY = dt.date(2025, 11, 20)
VECTORS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "'><iframe src=javascript:alert(1)></iframe>",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    '<a href="javascript:alert(1)">click</a>',
    "<base href=//evil.example/>",
    '<meta http-equiv="refresh" content="0;url=//evil.example">',
    "<object data=//evil.example/x.swf></object>",
    "<style>body{display:none}</style>",
    '" style="background:url(//evil.example)',
    "{{ 7|add:7 }}{% now 'Y' %}",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "javascript:alert(1)",
]
_NO_CONTROL = st.characters(blacklist_categories=("Cs", "Cc"))
payloads = st.builds(
    lambda before, vector, after: f"{before}{vector}{after}",
    st.text(_NO_CONTROL, max_size=12),
    st.sampled_from(VECTORS),
    st.text(_NO_CONTROL, max_size=12),
)
DANGEROUS_ELEMENTS = {"iframe", "object", "embed", "base", "frame", "frameset", "applet"}


class _TagsAndText(HTMLParser):
    """The elements, attributes and text of a page, as a browser would build them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_no_injected_markup(page: str, where: str) -> _TagsAndText:
    """Fail if the HTML holds anything that could run or restyle the page that is not our own."""
    markup = _TagsAndText()
    markup.feed(page)
    for tag, attrs in markup.tags:
        assert tag not in DANGEROUS_ELEMENTS, (where, tag, attrs)
        if tag == "script":  # only files of this site (our static files, the admin's translations)
            source = attrs.get("src", "")
            assert source.startswith("/"), (where, attrs)
            assert not source.startswith("//"), (where, attrs)
        assert tag != "style", (where, "a <style> element")
        if tag == "meta":
            assert "http-equiv" not in attrs or attrs["http-equiv"].lower() != "refresh", (
                where,
                attrs,
            )
        if tag == "img":
            assert attrs.get("src") != "x", (where, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on"), (where, tag, name, value)
            if name in {"href", "src", "action", "formaction", "data", "srcdoc"}:
                assert not value.strip().lower().startswith(("javascript:", "data:text")), (
                    where,
                    tag,
                    name,
                    value,
                )
            if name == "style":
                assert "evil.example" not in value, (where, tag, value)
    return markup


def _page_text(markup: _TagsAndText) -> str:
    return " ".join("".join(markup.text).split())


def _shown(payload: str) -> str:
    """The payload as a reader sees it: whitespace runs folded, as the page text is compared."""
    return " ".join(payload.split())


# --- Scraped text ---------------------------------------------------------------------------------


def _ingest_paper(**fields: Any) -> Paper:
    Paper.objects.all().delete()
    record = PaperRecord(
        arxiv_id=ARXIV_ID,
        source="hf",
        published_at=dt.datetime(2025, 11, 19, 12, tzinfo=dt.UTC),
        hf_date=DAY,
        upvotes=42,
        **{"title": "A paper", "abstract": "An abstract.", "authors": ("Ada Lovelace",), **fields},
    )
    counts = papers_ingest(records=[record], fetch_run=None)
    assert counts.created == 1, counts
    return Paper.objects.get(arxiv_id=ARXIV_ID)


PAPER_PAGES = [
    "/",
    f"/papers/{ARXIV_ID}/",
    "/papers/date/2025-11-20/",
    "/papers/week/2025-W47/",
    "/papers/month/2025-11/",
]


@settings(FUZZ, max_examples=40)  # six pages per example
@given(
    field=st.sampled_from(["title", "abstract", "ai_summary", "authors", "ai_keywords"]),
    payload=payloads,
)
@example(field="title", payload="<script>alert(1)</script>")
@example(field="authors", payload="<img src=x onerror=alert(1)>")
def test_scraped_text_with_markup_is_shown_as_text_on_every_page(
    client: Client, field: str, payload: str
) -> None:
    value: Any = (payload,) if field in {"authors", "ai_keywords"} else payload
    if field == "title":
        value = payload if payload.strip() else "x" + payload
    _ingest_paper(**{field: value})

    for url in [*PAPER_PAGES, "/search/?q=" + html.escape("paper")]:
        response = client.get(url, secure=True)
        assert response.status_code == 200, url
        assert_no_injected_markup(response.content.decode(), f"{url} ({field})")

    detail = assert_no_injected_markup(
        client.get(f"/papers/{ARXIV_ID}/").content.decode(), "detail"
    )
    if field in {"title", "authors", "abstract", "ai_summary"}:
        assert _shown(payload) in _page_text(detail), (field, payload)


@FUZZ
@given(query=payloads)
def test_a_search_query_with_markup_is_echoed_as_text(client: Client, query: str) -> None:
    response = client.get("/search/", {"q": query}, secure=True)

    assert response.status_code == 200
    assert_no_injected_markup(response.content.decode(), "search")


def test_scraped_text_with_markup_is_escaped_in_the_digest_as_emailed(client: Client) -> None:
    """The "view in browser" page is the digest's own HTML, rendered as it is for the email."""
    vector = "<img src=x onerror=alert(1)>"
    _ingest_paper(
        title=f"Title {vector}",
        abstract=f"Abstract {vector}",
        authors=(f"Mallory {vector}",),
        ai_summary=vector,
    )
    Issue.objects.create(
        date=DAY,
        status=IssueStatus.SENT,
        window_start=dt.datetime(2025, 11, 19, tzinfo=dt.UTC),
        window_end=dt.datetime(2025, 11, 20, tzinfo=dt.UTC),
        candidate_ids=[ARXIV_ID],
        note=f"Editor's note {vector}",
    )

    response = client.get(f"/digest/{DAY.isoformat()}/", secure=True)

    assert response.status_code == 200
    page = response.content.decode()
    # The email keeps its own <style> element (dark mode); anything else injected fails.
    markup = _TagsAndText()
    markup.feed(page)
    for tag, attrs in markup.tags:
        assert tag not in DANGEROUS_ELEMENTS, (tag, attrs)
        assert tag != "script", (tag, attrs)
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert not (tag == "img" and attrs.get("src") == "x"), attrs
    assert f"Title {vector}" in _page_text(markup)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


# --- Readers' input -------------------------------------------------------------------------------


@settings(FUZZ, max_examples=20)  # a full manage page (400-odd time zones) per example
@given(interests=payloads)
@example(interests="</textarea><script>alert(1)</script>")
def test_interests_with_markup_are_stored_as_text_and_shown_escaped(
    client: Client, django_capture_on_commit_callbacks: Any, interests: str
) -> None:
    Subscriber.objects.all().delete()
    subscriber = SubscriberFactory.create(email="reader@example.org", interests=interests)
    token = token_make(
        subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.MANAGE
    )

    page = client.get(f"/manage/{token}/", secure=True)

    assert page.status_code == 200
    markup = assert_no_injected_markup(page.content.decode(), "manage")
    # The page's own two (interests, and the "papers like these" ids): none injected.
    textareas = [attrs.get("name") for tag, attrs in markup.tags if tag == "textarea"]
    assert textareas == ["interests", "ids"]
    assert _shown(interests) in _page_text(markup)


@settings(FUZZ, max_examples=20)  # a full form page (400-odd time zones) per example
@given(
    url=st.sampled_from(["subscribe", "manage"]),
    field=st.sampled_from(["email", "interests", "timezone", "frequency", "digest_size"]),
    payload=payloads,
)
def test_a_refused_form_echoes_what_was_typed_only_as_text(
    client: Client, url: str, field: str, payload: str
) -> None:
    """A 400 page shows the form again with the input in it: reflected XSS, were it not escaped."""
    Subscriber.objects.all().delete()
    cache.clear()  # this test's own locmem cache: every example starts under the sign-up limits
    subscriber = SubscriberFactory.create(email="reader@example.org")
    token = token_make(
        subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.MANAGE
    )
    # An invalid size makes sure the form is refused and shown again, whatever the payload does.
    data = {**FORM, "digest_size": "9999", field: payload}

    path = "/subscribe/" if url == "subscribe" else f"/manage/{token}/"
    response = client.post(path, data, secure=True)

    assert response.status_code == 400, path
    assert_no_injected_markup(response.content.decode(), f"{path} {field}")
    assert Subscriber.objects.count() == 1
    assert mail.outbox == []


def test_interests_with_markup_are_escaped_in_the_admin(client: Client) -> None:
    vector = "</textarea><script>alert(1)</script><img src=x onerror=alert(1)>"
    subscriber = SubscriberFactory.create(email="reader@example.org", interests=vector)
    editor = get_user_model().objects.create_superuser(
        "editor", "editor@example.org", "a long passphrase 42"
    )
    # Not client.login: it calls authenticate() without a request, which django-axes refuses.
    client.force_login(editor)

    for url in (
        "/admin/subscriptions/subscriber/",
        f"/admin/subscriptions/subscriber/{subscriber.pk}/change/",
    ):
        response = client.get(url, secure=True)
        assert response.status_code == 200, url
        assert_no_injected_markup(response.content.decode(), url)


def test_the_data_export_is_json_to_download_never_a_page(client: Client) -> None:
    vector = "<script>alert(1)</script>"
    subscriber = SubscriberFactory.create(email="reader@example.org", interests=vector)
    token = token_make(
        subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.MANAGE
    )

    response = client.get(f"/manage/{token}/export/", secure=True)

    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"  # no browser renders it as HTML
    assert json.loads(response.content)["interests"] == vector
