"""The reader's own "view in browser" copy of their digest: their papers, in order, their votes.

The email's "View in browser" link opens this reader's copy of this delivery (the public issue page
is everybody's and holds no votes). Its link is signed like the vote links; a bad one gets a clear
page, never a 500; a GET only shows; and a link scanner opening it, and every link on it, votes
nothing.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import timeit
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from django.core import mail, signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from digest import ledger, sending, vectors
from digest.copies import (
    COPY_TOKEN_MAX_AGE,
    CopyTokenError,
    copy_token_make,
    copy_token_read,
    reader_copy_find,
)
from digest.models import Delivery, DeliveryStatus, Issue, IssuePin, Vote, VoteArrival
from digest.preview import issue_preview
from digest.votes import VOTE_TOKEN_MAX_AGE, vote_token_make, vote_token_read
from papers.models import Paper
from subscriptions.models import Subscriber
from subscriptions.tokens import Purpose, token_make
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
from tests.helpers_fuzz import FUZZ, stored_state

pytestmark = pytest.mark.django_db
ADA = "ada@example.org"
_COPY_URL = re.compile(r"https?://[^\s\"<>]+?(/digest/copy/[^/\s\"<>]+/)")
_VOTE_PATH = re.compile(r'href="(/digest/vote/([^/"]+)/(more|less)/)"')
_SHOWN_IDS = re.compile(r"· arXiv ([\w./-]+)</p>")


@pytest.fixture(autouse=True)
def _no_cache_and_a_fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)


def _mail_to(address: str) -> tuple[str, str]:
    (message,) = [m for m in mail.outbox if address in m.to]
    return email_parts(message)


def _copy_path(part: str) -> str:
    (path,) = _COPY_URL.findall(part)
    return path


@pytest.fixture
def sent() -> dict[str, Delivery]:
    """Ada's and Bob's digests of DAY, sent through the real batch (one pinned paper for all)."""
    papers_create()
    issue = day_issue_build()
    IssuePin.objects.create(issue=issue, paper=Paper.objects.get(arxiv_id="2611.10007"))
    reader_create(email=ADA, interests="pose estimation", digest_size=4)
    reader_create(email="bob@example.org", interests="protein folding", digest_size=4)
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    deliveries_send_all(issue)
    deliveries = Delivery.objects.select_related("subscriber").filter(status=DeliveryStatus.SENT)
    return {d.subscriber.email.split("@")[0]: d for d in deliveries}


def _get(client: Client, path: str) -> Any:
    return client.get(path, secure=True)


def _refused(client: Client, path: str, status: int) -> str:
    before = stored_state()
    response = _get(client, path)
    assert response.status_code == status
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-store" in response["Cache-Control"]
    assert stored_state() == before
    return response.content.decode()


def _path(token: str) -> str:
    return reverse("digest:copy", kwargs={"token": token})


# --- The email links to the reader's copy ---------------------------------------------------------


def test_the_emails_view_in_browser_link_is_the_readers_own_copy_in_both_parts(
    sent: dict[str, Delivery],
) -> None:
    text, html_part = _mail_to(ADA)

    (href,) = re.findall(r'<a href="([^"]+)"[^>]*>View in browser</a>', html_part)
    assert _COPY_URL.fullmatch(href)
    assert f"View in browser: {href}" in text
    delivery_id, _ = copy_token_read(href.rstrip("/").rsplit("/", 1)[1])
    assert delivery_id == sent["ada"].pk
    # Bob's link names Bob's delivery.
    assert _copy_path(_mail_to("bob@example.org")[0]) != _copy_path(text)


def test_the_copy_shows_exactly_the_delivered_papers_in_order_with_working_vote_links(
    client: Client, sent: dict[str, Delivery]
) -> None:
    ada = sent["ada"]
    response = _get(client, _copy_path(_mail_to(ADA)[0]))

    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert _SHOWN_IDS.findall(page) == ada.papers
    votes = _VOTE_PATH.findall(page)
    assert [d for _, _, d in votes] == ["more", "less"] * len(ada.papers)
    # Each paper's two links carry one token, naming that paper of Ada's delivery.
    named = [vote_token_read(token)[:2] for _, token, _ in votes[::2]]
    assert named == [(ada.pk, arxiv_id) for arxiv_id in ada.papers]
    assert not Vote.objects.exists()

    # Followed as Ada would: the vote page accepts it, and its POST records the vote.
    more_path = votes[2][0]  # "More like this" under the second paper
    assert _get(client, more_path).status_code == 200
    assert client.post(more_path, secure=True).status_code == 200
    assert list(Vote.objects.values_list("subscriber_id", "arxiv_id", "direction")) == [
        (ada.subscriber_id, ada.papers[1], "more")
    ]


def test_the_copy_says_whose_digest_it_is_and_links_to_their_signals_page(
    client: Client, sent: dict[str, Delivery]
) -> None:
    page = html.unescape(_get(client, _copy_path(_mail_to(ADA)[0])).content.decode())

    assert '<p class="pb-intro"' in page
    assert "Your digest of 24 November 2026, as it was sent to you." in page
    assert "View in browser" not in page  # it is the browser's copy
    (signals,) = re.findall(r'href="(/digest/signals/[^"]+/)"[^>]*>Your signals</a>', page)
    manage = token_make(
        subscriber_id=sent["ada"].subscriber_id, address=ADA, purpose=Purpose.MANAGE
    )
    assert signals == reverse("digest:signals", kwargs={"token": manage})
    assert ADA in _get(client, signals).content.decode()
    assert re.search(r'href="/manage/[^"]+/"[^>]*>Manage your preferences</a>', page)
    assert re.search(r'href="/unsubscribe/[^"]+/"[^>]*>Unsubscribe</a>', page)


def test_a_pin_says_editors_pick_and_no_other_paper_claims_a_reason(
    client: Client, sent: dict[str, Delivery]
) -> None:
    """Reasons are not stored and the ranking may have changed: none is made up."""
    page = html.unescape(_get(client, _copy_path(_mail_to(ADA)[0])).content.decode())

    reasons = [r.strip() for r in re.findall(r'<p class="pb-reason"[^>]*>([^<]*)</p>', page)]
    assert sent["ada"].papers[0] == "2611.10007"
    assert reasons == ["editor's pick"] + [""] * (len(sent["ada"].papers) - 1)
    assert "matches:" not in page
    assert "trending:" not in page


def test_the_page_is_private_and_showing_it_stores_nothing(
    client: Client, sent: dict[str, Delivery]
) -> None:
    path = _copy_path(_mail_to(ADA)[0])
    before = stored_state()

    response = _get(client, path)
    head = client.head(path, secure=True)
    posted = client.post(path, secure=True)

    assert response.status_code == head.status_code == 200
    assert posted.status_code == 405
    assert stored_state() == before
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    assert "<script" not in response.content.decode()  # nothing on it can post a vote
    # The email's own <style> blocks pass the site's CSP by nonce, as on the public page.
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    assert nonce
    assert f'<style nonce="{nonce.group(1)}"' in response.content.decode()


def test_the_public_page_and_the_editors_preview_keep_the_public_link(
    client: Client, sent: dict[str, Delivery]
) -> None:
    issue = sent["ada"].issue
    ada = sent["ada"].subscriber

    preview = issue_preview(issue=issue, subscriber=ada, reader_links=True)
    public = _get(client, reverse("digest:issue", kwargs={"day": DAY})).content.decode()

    for part in (preview.parts.html, preview.parts.text):
        assert "/digest/2026-11-24/" in part
        assert "/digest/copy/" not in part
    assert "/digest/copy/" not in public
    assert "/digest/vote/" not in public


# --- Bad links: a clear page, never a 500, nothing stored -----------------------------------------


def test_a_token_names_its_delivery_fits_in_a_url_path_and_is_cheap() -> None:
    token = copy_token_make(delivery_id=42, address="Ada@Example.org")

    assert copy_token_read(token)[0] == 42
    assert re.fullmatch(r"[A-Za-z0-9_:-]+", token)
    assert "ada" not in token.lower()
    runs = 2000
    seconds = timeit.timeit(lambda: copy_token_make(delivery_id=123456, address=ADA), number=runs)
    assert seconds / runs < 100e-6  # about 10 µs here; room for a busy machine


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a:b:c",
        "42-abc:1xXwbv:forged-signature-forged-signature-forged00",
        signing.TimestampSigner(salt="paperboy.digest.copy").sign("x-abc"),
        signing.TimestampSigner(salt="paperboy.digest.copy").sign("0-abc"),
        signing.TimestampSigner(salt="paperboy.digest.copy").sign("1-"),
        signing.TimestampSigner(salt="paperboy.digest.copy").sign("1-a-b"),
        signing.TimestampSigner(salt="paperboy.digest.copy").sign("٣-abc"),
        signing.TimestampSigner(salt="paperboy.digest.copy").sign(f"{2**63}-abc"),
    ],
    ids=[
        "garbage",
        "three-parts",
        "forged",
        "id-not-a-number",
        "id-zero",
        "no-fingerprint",
        "extra-part",
        "id-not-ascii",
        "id-huge",
    ],
)
def test_a_garbled_or_forged_token_is_a_400(client: Client, token: str) -> None:
    with pytest.raises(CopyTokenError) as refused:
        copy_token_read(token)
    assert refused.value.status == 400

    assert "This link is not valid" in _refused(client, _path(token), 400)


def test_another_keys_or_another_purposes_token_is_a_400(
    client: Client, sent: dict[str, Delivery], settings: Any
) -> None:
    ada = sent["ada"]
    vote = vote_token_make(delivery_id=ada.pk, arxiv_id=ada.papers[0], address=ADA)
    manage = token_make(subscriber_id=ada.subscriber_id, address=ADA, purpose=Purpose.MANAGE)
    real_key = settings.SECRET_KEY
    settings.SECRET_KEY = "another-key-" * 5
    forged = copy_token_make(delivery_id=ada.pk, address=ADA)
    settings.SECRET_KEY = real_key

    for token in (vote, manage, forged):
        _refused(client, _path(token), 400)


def test_a_token_lasts_180_days_then_gets_a_clear_410(
    client: Client, sent: dict[str, Delivery]
) -> None:
    assert COPY_TOKEN_MAX_AGE == VOTE_TOKEN_MAX_AGE == dt.timedelta(days=180)
    with time_machine.travel(LOCAL_8AM_UTC, tick=False) as clock:
        path = _path(copy_token_make(delivery_id=sent["ada"].pk, address=ADA))
        clock.shift(COPY_TOKEN_MAX_AGE - dt.timedelta(seconds=1))
        assert _get(client, path).status_code == 200

        clock.shift(dt.timedelta(seconds=2))
        page = _refused(client, path, 410)

    assert "This link can no longer be used" in page
    assert "expired" in page


def test_another_readers_token_shows_nothing_of_this_delivery(
    client: Client, sent: dict[str, Delivery]
) -> None:
    ada, bob = sent["ada"], sent["bob"]
    # Naming Ada's delivery but bound to Bob's address (as if Bob forged it): nothing shown.
    page = _refused(
        client, _path(copy_token_make(delivery_id=ada.pk, address=bob.subscriber.email)), 404
    )
    assert not any(arxiv_id in page for arxiv_id in ada.papers)

    # Bob's own link shows Bob's papers, and every vote link on it names Bob's delivery only.
    bobs = html.unescape(_get(client, _copy_path(_mail_to("bob@example.org")[0])).content.decode())
    assert _SHOWN_IDS.findall(bobs) == bob.papers
    assert {vote_token_read(t)[0] for _, t, _ in _VOTE_PATH.findall(bobs)} == {bob.pk}


def test_a_changed_address_a_deleted_reader_or_delivery_finds_nothing(
    client: Client, sent: dict[str, Delivery]
) -> None:
    ada, bob = sent["ada"], sent["bob"]
    ada_path = _copy_path(_mail_to(ADA)[0])
    bob_path = _copy_path(_mail_to("bob@example.org")[0])

    Subscriber.objects.filter(pk=ada.subscriber_id).update(email="ada@new.example.org")
    assert "no reader behind it" in _refused(client, ada_path, 404)
    Subscriber.objects.filter(pk=ada.subscriber_id).delete()
    _refused(client, ada_path, 404)
    Delivery.objects.filter(pk=bob.pk).delete()
    _refused(client, bob_path, 404)


def test_a_delivery_that_sent_no_papers_is_a_404(client: Client) -> None:
    (paper,) = papers_create(1)
    issue = day_issue_build()
    reader = reader_create(email=ADA)
    queued = Delivery.objects.create(issue=issue, subscriber=reader)

    page = _refused(client, _path(copy_token_make(delivery_id=queued.pk, address=ADA)), 404)

    assert "no papers" in page
    with pytest.raises(CopyTokenError):
        reader_copy_find(token=copy_token_make(delivery_id=queued.pk, address=ADA))


@FUZZ
@given(
    token=st.one_of(
        st.text(max_size=80),
        st.text(alphabet="0123456789abcdef-", max_size=40).map(
            lambda value: signing.TimestampSigner(salt="paperboy.digest.copy").sign(value)
        ),
    ),
    query=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3),
)
def test_whatever_token_arrives_the_page_never_fails_and_stores_nothing(
    client: Client, token: str, query: dict[str, str]
) -> None:
    before = stored_state()
    url = f"/digest/copy/{quote(token, safe='')}/"

    got = client.get(url, query, secure=True)
    posted = client.post(url, query, secure=True)

    assert got.status_code in (400, 404, 410)
    assert posted.status_code in (404, 405)  # a POST is never taken (404: an empty token)
    assert stored_state() == before


# --- Cost per batch -------------------------------------------------------------------------------


def test_the_copy_link_adds_no_query_to_a_batch() -> None:
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

    assert counts[0] == counts[1] <= 6, counts
    links = [_copy_path(email_parts(message)[0]) for message in mail.outbox]
    assert len(set(links)) == len(links) == 55


# --- In the browser: a scanner opening every link, and the page as a reader sees it --------------


def _links_of(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_chromium_a_scanner_opening_every_link_and_every_link_of_the_copy_votes_nothing(
    browser: Any, live_server: Any, settings: Any
) -> None:
    settings.SITE_URL = live_server.url
    papers_create()
    issue = day_issue_build()
    reader_create(email=ADA, interests="pose estimation", digest_size=5)
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    deliveries_send_all(issue)
    _, html_part = _mail_to(ADA)
    offline = re.compile(r"^https?://(?!localhost|127\.0\.0\.1)")

    scanner = browser.new_context(java_script_enabled=True)
    scanner.route(offline, lambda route: route.abort())
    try:
        email = scanner.new_page()
        email.set_content(html_part)
        links = [url for url in _links_of(email) if url.startswith(live_server.url)]
        email.close()
        (copy_url,) = [url for url in links if "/digest/copy/" in url]
        page = scanner.new_page()
        page.goto(copy_url)
        links += [url for url in _links_of(page) if url.startswith(live_server.url)]
        page.close()
        assert (
            sum("/digest/vote/" in url for url in links) == 2 * 2 * 5
        )  # the email's and the copy's
        # As a scanner does: every link opened within seconds, each page left to run its script.
        tabs = []
        for url in links:
            tabs.append(scanner.new_page())
            tabs[-1].goto(url)
        for tab in tabs:
            tab.wait_for_load_state("networkidle")
    finally:
        scanner.close()

    assert not Vote.objects.exists()
    assert VoteArrival.objects.exists()  # the vote pages' scripts did post: the burst kept nothing


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("device", "width"), [("desktop", 1280), ("phone", 390)])
def test_in_chromium_the_copy_looks_like_the_email_with_its_vote_links(
    browser: Any, live_server: Any, device: str, width: int
) -> None:
    from playwright.sync_api import expect

    papers_create()
    issue = day_issue_build()
    reader_create(email=ADA, interests="pose estimation", digest_size=5)
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    deliveries_send_all(issue)
    delivery = Delivery.objects.get()
    path = _path(copy_token_make(delivery_id=delivery.pk, address=ADA))

    context = browser.new_context(viewport={"width": width, "height": 900})
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda r: r.abort())
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(live_server.url + path)
        expect(page.locator("p.pb-intro")).to_have_text(
            "Your digest of 24 November 2026, as it was sent to you."
        )
        expect(page.get_by_role("link", name="More like this")).to_have_count(5)
        expect(page.get_by_role("link", name="Less like this")).to_have_count(5)
        expect(page.get_by_role("link", name="Your signals")).to_be_visible()
        # The email's styles apply (the CSP lets its <style> blocks through by nonce).
        assert not [line for line in console if "Content Security Policy" in line], console
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"digest-reader-copy-{device}.png"), full_page=True)
        page.get_by_role("link", name="More like this").first.click()
        expect(page.get_by_role("status")).to_contain_text("You'll see more like")
    finally:
        context.close()

    assert Vote.objects.filter(arxiv_id=delivery.papers[0], direction="more").count() == 1


def test_the_page_costs_three_queries_whatever_the_digest(
    client: Client, sent: dict[str, Delivery], django_assert_max_num_queries: Any
) -> None:
    path = _copy_path(_mail_to(ADA)[0])

    # The delivery with its reader and issue, its papers, the issue's pins.
    with django_assert_max_num_queries(3):
        assert _get(client, path).status_code == 200


def test_a_weekly_copy_says_so(client: Client) -> None:
    papers_create(3)
    issue = day_issue_build()
    Issue.objects.filter(pk=issue.pk).update(kind=Issue.Kind.WEEKLY)
    reader = reader_create(email=ADA)
    papers = list(Paper.objects.values_list("arxiv_id", flat=True)[:2])
    delivery = Delivery.objects.create(
        issue=issue, subscriber=reader, status=DeliveryStatus.SENT, papers=papers
    )

    page = _get(client, _path(copy_token_make(delivery_id=delivery.pk, address=ADA)))

    assert "Your weekly digest of 24 November 2026" in html.unescape(page.content.decode())
    assert _SHOWN_IDS.findall(html.unescape(page.content.decode())) == papers


def test_the_copys_your_papers_link_opens_the_readers_papers_not_their_signals(
    client: Client, sent: dict[str, Delivery]
) -> None:
    page = html.unescape(_get(client, _copy_path(_mail_to(ADA)[0])).content.decode())

    (papers,) = re.findall(r'href="([^"]+)"[^>]*>Your papers</a>', page)
    manage = token_make(
        subscriber_id=sent["ada"].subscriber_id, address=ADA, purpose=Purpose.MANAGE
    )
    assert papers == reverse("digest:history", kwargs={"token": manage})
    assert "Your papers" in _get(client, papers).content.decode()
