"""Votes from the email: signed links, a GET that never votes, a POST that does, and link scanners.

A scanner opens every link of a message within seconds (some run the page's script, which posts):
such a burst records nothing, while a person clicking one or two links records exactly those.
The last test does it in headless Chromium with scripts on, against the live server.
"""

from __future__ import annotations

import datetime as dt
import re
import timeit
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from anymail.signals import AnymailTrackingEvent, EventType
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from digest.models import Delivery, DeliveryStatus, Issue, PaperClick, Vote, VoteArrival
from digest.votes import (
    VOTE_BURST_PAPERS,
    VOTE_BURST_SECONDS,
    VOTE_DIRECTIONS,
    VOTE_LESS,
    VOTE_MORE,
    VOTE_TOKEN_MAX_AGE,
    VoteTokenError,
    vote_token_make,
    vote_token_read,
)
from digest.webhooks import paper_click_record
from subscriptions.models import Subscriber
from tests.factories import PaperFactory, SubscriberFactory
from tests.helpers import SHOTS
from tests.helpers_fuzz import FUZZ, stored_state

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2025, 11, 25, 7, 0, tzinfo=dt.UTC)
PAPERS = ["2511.00001", "2511.00002", "2511.00003", "2511.00004", "hep-th/9901001"]
ADA = "ada@example.org"


@pytest.fixture
def clock() -> Iterator[Any]:
    """Time stands still at NOW unless a test moves it."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _delivery(
    subscriber: Subscriber, papers: list[str] = PAPERS, day: dt.date = dt.date(2025, 11, 25)
) -> Delivery:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) - dt.timedelta(days=1)
    issue, _ = Issue.objects.get_or_create(
        date=day,
        kind="daily",
        defaults={"window_start": start, "window_end": start + dt.timedelta(days=1)},
    )
    return Delivery.objects.create(
        issue=issue, subscriber=subscriber, status=DeliveryStatus.SENT, papers=papers
    )


@pytest.fixture
def ada(clock: Any) -> Delivery:
    """Ada's digest of today, its papers stored."""
    for arxiv_id in PAPERS:
        PaperFactory.create(arxiv_id=arxiv_id, title=f"Paper {arxiv_id}")
    return _delivery(SubscriberFactory.create(email=ADA))


def _url(delivery: Delivery, arxiv_id: str, direction: str = VOTE_MORE, address: str = "") -> str:
    token = vote_token_make(
        delivery_id=delivery.pk,
        arxiv_id=arxiv_id,
        address=address or delivery.subscriber.email,
    )
    return reverse("digest:vote", kwargs={"token": token, "direction": direction})


def _votes() -> list[tuple[str, str]]:
    return sorted(Vote.objects.values_list("arxiv_id", "direction"))


# --- Tokens ---------------------------------------------------------------------------------------


def test_a_token_names_its_delivery_and_paper_and_fits_in_a_url_path() -> None:
    token = vote_token_make(delivery_id=42, arxiv_id="hep-th/9901001", address="Ada@Example.org")

    delivery_id, arxiv_id, fingerprint = vote_token_read(token)

    assert (delivery_id, arxiv_id) == (42, "hep-th/9901001")
    assert re.fullmatch(r"[A-Za-z0-9_:-]+", token)
    assert ADA not in token
    assert "ada" not in signing.b64_decode(token.split(":")[0].encode()).decode()
    assert (
        fingerprint == vote_token_read(vote_token_make(delivery_id=1, arxiv_id="x", address=ADA))[2]
    )


def test_a_token_is_cheap_enough_for_one_per_paper_per_reader() -> None:
    runs = 2000
    seconds = timeit.timeit(
        lambda: vote_token_make(delivery_id=123456, arxiv_id="2511.00042", address=ADA), number=runs
    )
    # The contract says ~15 µs; the bound leaves room for a busy test machine.
    assert seconds / runs < 100e-6


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a:b:c",
        "MTIzfDI1MTEuMDAwMDF8YWJj:1xXwbv:forged-signature-forged-signature-forged00",
        signing.dumps({"d": 1, "a": "2511.00001"}, salt="paperboy.digest.vote"),
    ],
    ids=["empty", "garbage", "three-parts", "forged", "signed-json"],
)
def test_a_garbled_or_forged_token_is_refused(token: str) -> None:
    with pytest.raises(VoteTokenError) as refused:
        vote_token_read(token)
    assert refused.value.status == 400


def test_a_token_signed_with_another_key_or_for_another_purpose_is_refused(settings: Any) -> None:
    settings.SECRET_KEY = "another-key-" * 5
    forged = vote_token_make(delivery_id=1, arxiv_id="2511.00001", address=ADA)
    settings.SECRET_KEY = "the-real-key-" * 5
    other = signing.TimestampSigner(salt="paperboy.subscriptions.manage").sign(
        "MXwyNTExLjAwMDAxfGFi"
    )

    for token in (forged, other):
        with pytest.raises(VoteTokenError):
            vote_token_read(token)


def test_a_token_lasts_180_days_and_not_a_second_more(clock: Any) -> None:
    token = vote_token_make(delivery_id=1, arxiv_id="2511.00001", address=ADA)
    clock.shift(VOTE_TOKEN_MAX_AGE - dt.timedelta(seconds=1))
    assert vote_token_read(token)[0] == 1

    clock.shift(dt.timedelta(seconds=2))
    with pytest.raises(VoteTokenError) as refused:
        vote_token_read(token)
    assert refused.value.status == 410
    assert refused.value.expired


# --- The page and the POST ------------------------------------------------------------------------


def test_a_get_shows_the_paper_and_a_button_and_stores_nothing(
    client: Client, ada: Delivery
) -> None:
    response = client.get(_url(ada, PAPERS[0]), secure=True)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Paper 2511.00001" in html
    assert "More like this</button>" in html
    assert 'method="post"' in html
    assert "csrfmiddlewaretoken" in html
    assert "data-vote-auto" in html
    assert "js/vote.js" in html
    assert "<script>" not in html  # no inline script: the CSP stays strict
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert not Vote.objects.exists()
    assert not VoteArrival.objects.exists()


def test_a_post_records_the_vote_and_confirms_with_undo_and_the_manage_link(
    client: Client, ada: Delivery
) -> None:
    response = client.post(_url(ada, PAPERS[1], VOTE_LESS), secure=True)

    assert response.status_code == 200
    html = response.content.decode()
    assert "You'll see less like 'Paper 2511.00002'." in html
    assert 'name="action" value="undo"' in html
    assert "/manage/" in html
    assert "data-vote-auto" not in html  # the confirmation never posts on its own
    [vote] = Vote.objects.all()
    assert (vote.subscriber_id, vote.delivery_id) == (ada.subscriber_id, ada.pk)
    assert (vote.arxiv_id, vote.direction) == (PAPERS[1], VOTE_LESS)


def test_an_old_style_arxiv_id_votes_too(client: Client, ada: Delivery) -> None:
    response = client.post(_url(ada, "hep-th/9901001"), secure=True)

    assert response.status_code == 200
    assert _votes() == [("hep-th/9901001", VOTE_MORE)]


def test_a_changed_vote_replaces_the_old_one_and_an_undo_deletes_it(
    client: Client, ada: Delivery, clock: Any
) -> None:
    client.post(_url(ada, PAPERS[0], VOTE_MORE), secure=True)
    clock.shift(dt.timedelta(minutes=5))
    client.post(_url(ada, PAPERS[0], VOTE_LESS), secure=True)
    assert _votes() == [(PAPERS[0], VOTE_LESS)]

    # Undo from the old "more" page leaves the later "less" alone; from the "less" page it goes.
    client.post(_url(ada, PAPERS[0], VOTE_MORE), {"action": "undo"}, secure=True)
    assert _votes() == [(PAPERS[0], VOTE_LESS)]
    response = client.post(_url(ada, PAPERS[0], VOTE_LESS), {"action": "undo"}, secure=True)
    assert response.status_code == 200
    assert "Vote undone" in response.content.decode()
    assert _votes() == []

    clock.shift(dt.timedelta(minutes=5))
    client.post(_url(ada, PAPERS[0], VOTE_MORE), secure=True)
    assert _votes() == [(PAPERS[0], VOTE_MORE)]


def test_a_replayed_vote_is_still_one_vote(client: Client, ada: Delivery, clock: Any) -> None:
    url = _url(ada, PAPERS[0])
    for _ in range(3):
        assert client.post(url, secure=True).status_code == 200
        clock.shift(dt.timedelta(seconds=1))

    assert _votes() == [(PAPERS[0], VOTE_MORE)]


def test_the_vote_page_needs_the_csrf_token(ada: Delivery) -> None:
    response = Client(enforce_csrf_checks=True).post(_url(ada, PAPERS[0]), secure=True)

    assert response.status_code == 403
    assert not Vote.objects.exists()


def test_a_title_is_escaped_on_the_page(client: Client, clock: Any) -> None:
    PaperFactory.create(arxiv_id=PAPERS[0], title="<img src=x onerror=alert(1)> & 'quotes'")
    delivery = _delivery(SubscriberFactory.create(email=ADA), papers=[PAPERS[0]])

    for method in ("get", "post"):
        html = getattr(client, method)(_url(delivery, PAPERS[0]), secure=True).content.decode()
        assert "<img src=x" not in html
        assert "&lt;img src=x onerror=alert(1)&gt; &amp; &#x27;quotes&#x27;" in html


# --- Links that cannot vote -----------------------------------------------------------------------


def _refused(client: Client, url: str, status: int) -> str:
    for method in ("get", "post"):
        response = getattr(client, method)(url, secure=True)
        assert response.status_code == status, (method, url)
    assert not Vote.objects.exists()
    assert not VoteArrival.objects.exists()
    return response.content.decode()


def test_a_forged_token_gets_a_clear_400(client: Client, ada: Delivery) -> None:
    url = _url(ada, PAPERS[0])
    token = url.split("/")[3]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    html = _refused(client, reverse("digest:vote", args=[tampered, VOTE_MORE]), 400)

    assert "This link is not valid" in html
    assert "No vote was recorded" in html


def test_an_unknown_direction_is_a_404(client: Client, ada: Delivery) -> None:
    token = _url(ada, PAPERS[0]).split("/")[3]

    _refused(client, reverse("digest:vote", args=[token, "sideways"]), 404)


def test_an_expired_token_gets_a_clear_410(client: Client, ada: Delivery, clock: Any) -> None:
    url = _url(ada, PAPERS[0])
    clock.shift(VOTE_TOKEN_MAX_AGE + dt.timedelta(minutes=1))

    html = _refused(client, url, 410)

    assert "This link can no longer be used" in html


def test_a_paper_that_was_not_in_the_delivery_is_a_404(client: Client, ada: Delivery) -> None:
    PaperFactory.create(arxiv_id="2511.09999")

    html = _refused(client, _url(ada, "2511.09999"), 404)

    assert "not in your digest" in html


def test_another_readers_link_cannot_vote_for_this_delivery(client: Client, ada: Delivery) -> None:
    """A token naming Ada's delivery but bound to Bob's address (as if Bob forged it) is refused."""
    bob = SubscriberFactory.create(email="bob@example.org")
    _delivery(bob)

    _refused(client, _url(ada, PAPERS[0], address=bob.email), 404)


def test_a_link_dies_when_the_reader_changes_address(client: Client, ada: Delivery) -> None:
    url = _url(ada, PAPERS[0])
    Subscriber.objects.filter(pk=ada.subscriber_id).update(email="ada@new.example.org")

    _refused(client, url, 404)


def test_a_deleted_readers_links_find_nothing(client: Client, ada: Delivery) -> None:
    url = _url(ada, PAPERS[0])
    client.post(url, secure=True)
    Subscriber.objects.filter(pk=ada.subscriber_id).delete()
    assert not Vote.objects.exists()  # deleted with the reader

    _refused(client, url, 404)


@FUZZ
@given(
    direction=st.one_of(st.sampled_from(VOTE_DIRECTIONS), st.text(max_size=20)),
    data=st.dictionaries(
        st.sampled_from(["action", "csrfmiddlewaretoken", "direction"]), st.text(max_size=20)
    ),
    real=st.booleans(),
)
def test_whatever_arrives_a_get_never_votes_and_a_refused_post_stores_nothing(
    client: Client, ada: Delivery, direction: str, data: dict[str, str], real: bool
) -> None:
    token = _url(ada, PAPERS[0]).split("/")[3] if real else "not-a-token"
    url = f"/digest/vote/{quote(token, safe='')}/{quote(direction, safe='')}/"
    before = stored_state()

    got = client.get(url, data, secure=True)
    assert got.status_code < 500
    assert stored_state() == before

    posted = client.post(url, data, secure=True)
    assert posted.status_code < 500
    if posted.status_code >= 400:
        assert stored_state() == before
    Vote.objects.all().delete()
    VoteArrival.objects.all().delete()


# --- Link scanners: a burst records nothing -------------------------------------------------------


def test_a_person_clicking_two_papers_within_seconds_records_both(
    client: Client, ada: Delivery, clock: Any
) -> None:
    client.post(_url(ada, PAPERS[0]), secure=True)
    clock.shift(dt.timedelta(seconds=2))
    response = client.post(_url(ada, PAPERS[1], VOTE_LESS), secure=True)

    assert response.status_code == 200
    assert _votes() == [(PAPERS[0], VOTE_MORE), (PAPERS[1], VOTE_LESS)]


def test_votes_for_several_papers_within_seconds_record_nothing(
    client: Client, ada: Delivery, clock: Any
) -> None:
    statuses = []
    for arxiv_id in PAPERS[:VOTE_BURST_PAPERS]:
        statuses.append(client.post(_url(ada, arxiv_id), secure=True).status_code)
        clock.shift(dt.timedelta(seconds=1))

    # The first two were applied at once, and taken back when the third made it a burst.
    assert statuses == [200, 200, 429]
    assert _votes() == []


def test_both_votes_of_one_paper_within_seconds_record_nothing(
    client: Client, ada: Delivery, clock: Any
) -> None:
    client.post(_url(ada, PAPERS[0], VOTE_MORE), secure=True)
    clock.shift(dt.timedelta(seconds=1))
    response = client.post(_url(ada, PAPERS[0], VOTE_LESS), secure=True)

    assert response.status_code == 429
    assert "was not recorded" in response.content.decode()
    assert _votes() == []


def test_a_scan_of_every_link_in_order_records_nothing_even_when_it_is_slow(
    client: Client, ada: Delivery, clock: Any
) -> None:
    for arxiv_id in PAPERS:
        for direction in VOTE_DIRECTIONS:
            client.post(_url(ada, arxiv_id, direction), secure=True)
            clock.shift(dt.timedelta(seconds=VOTE_BURST_SECONDS - 1))

    assert _votes() == []


def test_a_burst_does_not_touch_a_vote_cast_from_another_digest(
    client: Client, ada: Delivery, clock: Any
) -> None:
    yesterday = _delivery(ada.subscriber, papers=["2511.07777"], day=dt.date(2025, 11, 24))
    client.post(_url(yesterday, "2511.07777"), secure=True)
    clock.shift(dt.timedelta(minutes=1))

    for arxiv_id in PAPERS:
        client.post(_url(ada, arxiv_id), secure=True)

    assert _votes() == [("2511.07777", VOTE_MORE)]


def test_a_person_votes_once_the_scanner_is_done(client: Client, ada: Delivery, clock: Any) -> None:
    for arxiv_id in PAPERS:
        client.post(_url(ada, arxiv_id), secure=True)
    clock.shift(dt.timedelta(seconds=VOTE_BURST_SECONDS + 1))

    response = client.post(_url(ada, PAPERS[2], VOTE_LESS), secure=True)

    assert response.status_code == 200
    assert _votes() == [(PAPERS[2], VOTE_LESS)]


def test_arrivals_are_kept_only_for_the_burst_window(
    client: Client, ada: Delivery, clock: Any
) -> None:
    client.post(_url(ada, PAPERS[0]), secure=True)
    clock.shift(dt.timedelta(minutes=1))
    client.post(_url(ada, PAPERS[1]), secure=True)

    assert list(VoteArrival.objects.values_list("arxiv_id", flat=True)) == [PAPERS[1]]


# --- In the browser: a scanner running scripts, then a person -------------------------------------


def _is_post(response: Any) -> bool:
    return response.request.method == "POST"


def _open_vote_link(context: Any, url: str) -> int:
    """Open a link in a new tab as a mail client would, and wait for the page's script to post."""
    page = context.new_page()
    try:
        with page.expect_response(_is_post) as posted:
            page.goto(url)
        page.wait_for_load_state()
        return int(posted.value.status)
    finally:
        page.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_chromium_a_scanner_opening_every_link_votes_nothing_and_a_person_then_votes_once(
    browser: Any, live_server: Any
) -> None:
    # Imported here: playwright is optional, and the other tests of this module run without it.
    from playwright.sync_api import expect

    for arxiv_id in PAPERS:
        PaperFactory.create(arxiv_id=arxiv_id, title=f"Paper {arxiv_id}")
    delivery = _delivery(SubscriberFactory.create(email=ADA))
    links = [
        live_server.url + _url(delivery, arxiv_id, direction)
        for arxiv_id in PAPERS
        for direction in VOTE_DIRECTIONS
    ]
    # Only the live server answers.
    offline = re.compile(r"^https?://(?!localhost|127\.0\.0\.1)")

    scanner = browser.new_context(java_script_enabled=True)
    scanner.route(offline, lambda route: route.abort())
    try:
        statuses = [_open_vote_link(scanner, url) for url in links]
    finally:
        scanner.close()

    # Every page ran its script and posted its vote, as a scanner that runs scripts does...
    assert len(statuses) == len(links) == 2 * len(PAPERS)
    assert 429 in statuses
    # ...and the burst left nothing behind.
    assert _votes() == []

    # Later (the scanner's arrivals are past the window), Ada opens one link from her email.
    VoteArrival.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))
    person = browser.new_context()
    person.route(offline, lambda route: route.abort())
    try:
        page = person.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        with page.expect_response(_is_post):
            page.goto(links[2])  # "More like this" under the second paper
        expect(page.get_by_role("status")).to_have_text(
            f"You'll see more like 'Paper {PAPERS[1]}'."
        )
        expect(page.get_by_role("button", name="Undo")).to_be_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "vote-counted-desktop.png"), full_page=True)
        assert not [line for line in console if "Content Security Policy" in line]
    finally:
        person.close()

    assert _votes() == [(PAPERS[1], VOTE_MORE)]


# --- Tracked clicks: weak signals, never votes ----------------------------------------------------


def _click(delivery: Delivery, url: str, at: dt.datetime = NOW, to: str = "") -> bool:
    event = AnymailTrackingEvent(
        event_type=EventType.CLICKED,
        timestamp=at,
        recipient=to or delivery.subscriber.email,
        metadata={"delivery": str(delivery.pk)},
        click_url=url,
    )
    return paper_click_record(event=event)


def test_a_tracked_click_on_a_papers_link_is_a_weak_signal_never_a_vote(ada: Delivery) -> None:
    assert _click(ada, f"https://arxiv.org/abs/{PAPERS[0]}v2")
    assert _click(ada, f"https://arxiv.org/pdf/{PAPERS[0]}")  # the same paper: still one signal
    assert _click(
        ada, "https://huggingface.co/papers/hep-th/9901001", at=NOW + dt.timedelta(days=1)
    )

    clicks = sorted(PaperClick.objects.values_list("subscriber_id", "arxiv_id"))
    assert clicks == [(ada.subscriber_id, PAPERS[0]), (ada.subscriber_id, "hep-th/9901001")]
    assert not Vote.objects.exists()


def test_a_click_on_a_vote_link_another_paper_or_for_another_reader_is_no_signal(
    ada: Delivery,
) -> None:
    assert not _click(ada, "https://paperboy.example" + _url(ada, PAPERS[0]))
    assert not _click(ada, "https://arxiv.org/abs/2511.09999")
    assert not _click(ada, f"https://arxiv.org/abs/{PAPERS[0]}", to="mallory@example.org")
    assert not _click(ada, "not a url [")

    assert not PaperClick.objects.exists()
    assert not Vote.objects.exists()


def test_a_scanner_following_every_tracked_link_leaves_no_signal(ada: Delivery) -> None:
    # Providers may deliver the events out of order: the window is around each click's own time.
    for seconds, arxiv_id in [(4, PAPERS[2]), (0, PAPERS[0]), (2, PAPERS[1])]:
        _click(ada, f"https://arxiv.org/abs/{arxiv_id}", at=NOW + dt.timedelta(seconds=seconds))

    assert not PaperClick.objects.exists()
