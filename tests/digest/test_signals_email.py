"""Every digest links to the reader's "Your signals" page, in both parts, at no cost per batch.

So does the vote page; a preview for editors links nowhere ("#"), as it does for the manage link.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from digest import ledger, sending, vectors
from digest.models import Delivery, Issue
from digest.preview import issue_preview
from digest.votes import vote_token_make
from subscriptions.models import Subscriber
from tests.factories import papers_create, reader_create
from tests.fakes import fake_embed
from tests.helpers import (
    DAY,
    LOCAL_8AM_UTC,
    SHOTS,
    day_issue_build,
    deliveries_send_all,
    email_parts,
)

pytestmark = pytest.mark.django_db
_SIGNALS_URL = re.compile(r"https?://[^\s\"<>]+(/digest/signals/[^/\s\"<>]+/)")
_MANAGE_URL = re.compile(r"https?://[^\s\"<>]+/manage/([^/\s\"<>]+)/")


@pytest.fixture(autouse=True)
def _no_cache_and_a_fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)


def test_every_digest_links_to_its_readers_signals_page_in_both_parts(client: Client) -> None:
    papers_create()
    issue = day_issue_build()
    ada = reader_create(interests="pose estimation")
    bob = reader_create(interests="speech recognition")
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    deliveries_send_all(issue)

    assert len(mail.outbox) == 2
    for message in mail.outbox:
        (reader,) = [r for r in (ada, bob) if r.email in message.to]
        text, html_part = email_parts(message)
        for part in (text, html_part):
            (path,) = _SIGNALS_URL.findall(part)
            # The page opens with the same token as the email's manage link.
            assert path.split("/")[3] == _MANAGE_URL.findall(part)[0]
            page = client.get(path)
            assert page.status_code == 200
            assert reader.interests in page.content.decode()
        assert "Your signals" in html_part
        assert re.search(r'<a href="[^"]+/digest/signals/[^"]+"[^>]*>Your signals</a>', html_part)
        assert "Your signals (votes, example papers, reset): http" in text


def test_the_link_sits_between_manage_and_unsubscribe_styled_as_they_are() -> None:
    papers_create()
    issue = day_issue_build()
    reader_create(interests="pose estimation")
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    deliveries_send_all(issue)

    text, html_part = email_parts(mail.outbox[0])

    links = re.findall(r'<a href="([^"]+)"( style="[^"]*")?>([^<]+)</a>', html_part)
    names = [name for _, _, name in links]
    at = names.index("Your signals")
    assert names[at - 2 : at + 2] == [
        "Manage your preferences",
        "Your papers",
        "Your signals",
        "Unsubscribe",
    ]
    # The CSS was inlined on it as on its neighbours.
    assert links[at][1] == links[at - 1][1] != ""
    lines = text.splitlines()
    at = next(n for n, line in enumerate(lines) if line.startswith("Your signals"))
    assert lines[at - 1].startswith("Your papers (every one we sent you, with search): ")
    assert lines[at - 2].startswith("Manage your preferences: ")
    assert lines[at + 1].startswith("Unsubscribe: ")


def test_the_signals_link_adds_no_query_to_a_batch() -> None:
    papers_create(20)
    issue = day_issue_build()
    for i in range(60):
        reader_create(interests=["pose estimation", "", "protein folding"][i % 3])
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    sending.deliveries_send_batch(issue_id=issue.pk, batch_size=5, now=LOCAL_8AM_UTC)  # warm-up
    counts = []
    for size in (10, 40):
        with CaptureQueriesContext(connection) as queries:
            sending.deliveries_send_batch(issue_id=issue.pk, batch_size=size, now=LOCAL_8AM_UTC)
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 5, counts
    assert not [q for q in queries.captured_queries if "digest_vote" in q["sql"].lower()]


def test_the_public_copy_has_no_signals_link(client: Client) -> None:
    papers_create()
    issue = day_issue_build()
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENT)

    page = client.get(reverse("digest:issue", kwargs={"day": DAY})).content.decode()

    assert "Your signals" not in page
    assert "/digest/signals/" not in page


def test_a_preview_links_the_signals_page_only_with_the_readers_links() -> None:
    papers_create()
    issue = day_issue_build()
    reader = reader_create(interests="pose estimation")

    staff_view = issue_preview(issue=issue, subscriber=reader)
    as_reader = issue_preview(issue=issue, subscriber=reader, reader_links=True)

    assert "/digest/signals/" not in staff_view.parts.html + staff_view.parts.text
    assert re.search(r'<a href="#"[^>]*>Your signals</a>', staff_view.parts.html)
    assert "Your signals (votes, example papers, reset): #" in staff_view.parts.text
    for part in (as_reader.parts.text, html.unescape(as_reader.parts.html)):
        (path,) = _SIGNALS_URL.findall(part)
        assert path.split("/")[3] == _MANAGE_URL.findall(part)[0]


def test_the_vote_page_links_to_the_signals_page(client: Client) -> None:
    (paper, *_) = papers_create(3)
    reader: Subscriber = reader_create()
    issue = day_issue_build()
    delivery = Delivery.objects.create(issue=issue, subscriber=reader, papers=[paper.arxiv_id])
    token = vote_token_make(delivery_id=delivery.pk, arxiv_id=paper.arxiv_id, address=reader.email)

    page = client.get(reverse("digest:vote", kwargs={"token": token, "direction": "more"}))

    (path,) = re.findall(r'href="(/digest/signals/[^"]+/)"', page.content.decode())
    assert client.get(path).status_code == 200


@pytest.mark.browser
def test_in_chromium_the_footer_shows_its_four_links_together(browser: Any) -> None:
    papers_create()
    issue = day_issue_build()
    reader_create(interests="pose estimation")
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    deliveries_send_all(issue)
    _, html_part = email_parts(mail.outbox[0])

    page = browser.new_page(viewport={"width": 390, "height": 800})
    try:
        page.route(re.compile(r"^https?://"), lambda route: route.abort())
        page.set_content(html_part)
        actions = page.locator(".pb-footer .pb-actions")
        assert actions.inner_text().split(" · ") == [
            "Manage your preferences",
            "Your papers",
            "Your signals",
            "Unsubscribe",
        ]
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.locator(".pb-footer").screenshot(path=str(SHOTS / "digest-email-footer-phone.png"))
        names = ("Manage your preferences", "Your papers", "Your signals", "Unsubscribe")
        # On a phone they may take two lines, but no link is cut in two...
        for name in names:
            assert (
                page.get_by_role("link", name=name).evaluate("a => a.getClientRects().length") == 1
            )
        # ...and in a desktop client's 600 pixels they share one line.
        page.set_viewport_size({"width": 640, "height": 800})
        tops = {page.get_by_role("link", name=name).bounding_box()["y"] for name in names}
        assert len(tops) == 1
    finally:
        page.close()
