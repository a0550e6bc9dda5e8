"""The reader's "Your signals" page: what they taught their digest, each vote's undo, and a reset.

It opens with the reader's manage token (from every digest, the manage page and the vote page).
A GET changes nothing; the undo and the reset are CSRF-protected POSTs that touch only the reader's
own signals; a bad, expired or stale link gets a page that says so, never a 500.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from digest.models import Delivery, DeliveryStatus, Issue, PaperClick, ReaderProfile, Vote
from subscriptions.models import Seed, Subscriber
from subscriptions.tokens import MAX_AGE, Purpose, token_make
from tests.factories import PaperFactory, SubscriberFactory
from tests.helpers import SHOTS
from tests.helpers_fuzz import FUZZ, stored_state

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
PAPERS = ["2611.00001", "2611.00002", "2611.00003", "hep-th/9901001"]


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _delivery(subscriber: Subscriber, papers: list[str]) -> Delivery:
    start = NOW - dt.timedelta(days=1)
    issue, _ = Issue.objects.get_or_create(
        date=NOW.date(), kind="daily", defaults={"window_start": start, "window_end": NOW}
    )
    return Delivery.objects.create(
        issue=issue, subscriber=subscriber, status=DeliveryStatus.SENT, papers=papers
    )


def _signals_of(subscriber: Subscriber, papers: list[str]) -> Delivery:
    """Votes on the first two papers (more, less), a click on the third, a seed, a profile."""
    delivery = _delivery(subscriber, papers)
    Vote.objects.create(
        subscriber=subscriber, delivery=delivery, arxiv_id=papers[0], direction="more"
    )
    Vote.objects.create(
        subscriber=subscriber, delivery=delivery, arxiv_id=papers[1], direction="less"
    )
    PaperClick.objects.create(
        subscriber=subscriber, delivery=delivery, arxiv_id=papers[2], clicked_at=NOW
    )
    ReaderProfile.objects.create(subscriber=subscriber, signals=3)
    return delivery


@pytest.fixture
def ada(clock: Any) -> Subscriber:
    """Ada: interests, "less of this", two seeds, two votes, a click and a learned profile."""
    for arxiv_id in PAPERS:
        PaperFactory.create(arxiv_id=arxiv_id, title=f"Paper {arxiv_id}")
    reader = SubscriberFactory.create(
        email="ada@example.org",
        interests="speculative decoding, quantization",
        less_of="benchmarks, surveys",
    )
    _signals_of(reader, PAPERS[:3])
    Seed.objects.create(
        subscriber=reader,
        arxiv_id="2401.00001",
        title="Fast Inference from Transformers",
        origin=Seed.Origin.ID,
        status=Seed.Status.READY,
    )
    Seed.objects.create(
        subscriber=reader, arxiv_id="2401.09999", origin=Seed.Origin.ID, status=Seed.Status.PENDING
    )
    return reader


@pytest.fixture
def bob(ada: Subscriber) -> Subscriber:
    """Bob, another reader of the same papers, with signals of his own."""
    reader = SubscriberFactory.create(email="bob@example.org", interests="robots")
    _signals_of(reader, PAPERS[1:4])
    Seed.objects.create(
        subscriber=reader, arxiv_id="2401.00002", origin=Seed.Origin.ID, status=Seed.Status.READY
    )
    return reader


def _token(subscriber: Subscriber, purpose: Purpose = Purpose.MANAGE) -> str:
    return token_make(subscriber_id=subscriber.pk, address=subscriber.email, purpose=purpose)


def _url(subscriber: Subscriber | str, name: str = "signals") -> str:
    token = subscriber if isinstance(subscriber, str) else _token(subscriber)
    return reverse(f"digest:{name}", kwargs={"token": token})


def _signals(subscriber: Subscriber) -> dict[str, Any]:
    return {
        "votes": sorted(subscriber.votes.values_list("arxiv_id", "direction")),
        "clicks": subscriber.paper_clicks.count(),
        "seeds": subscriber.seeds.count(),
        "profile": ReaderProfile.objects.filter(subscriber=subscriber).exists(),
    }


# --- The page -------------------------------------------------------------------------------------


def test_the_page_shows_the_texts_the_seeds_and_every_vote_with_its_undo(
    client: Client, ada: Subscriber, bob: Subscriber
) -> None:
    got = client.get(_url(ada))

    assert got.status_code == 200
    page = got.content.decode()
    assert "speculative decoding, quantization" in page
    assert "benchmarks, surveys" in page
    assert reverse("subscriptions:manage", kwargs={"token": _token(ada)}) in page
    assert "Fast Inference from Transformers" in page
    assert "Ready" in page
    assert "2401.09999" in page
    assert "Being fetched" in page
    # Each vote: its paper linked to the paper's page, its direction, its date, an undo.
    for arxiv_id, direction in [(PAPERS[0], "More like this"), (PAPERS[1], "Less like this")]:
        link = reverse("papers:detail", kwargs={"arxiv_id": arxiv_id})
        assert re.search(rf'<a href="{link}">Paper {re.escape(arxiv_id)}</a>', page)
        vote = Vote.objects.get(subscriber=ada, arxiv_id=arxiv_id)
        assert f'name="vote" value="{vote.pk}"' in page
        assert direction in page
    assert "25 Nov 2026" in page
    assert page.count(">Undo</button>") == 2
    assert "You also opened 1 paper" in page
    assert reverse("digest:signals-reset", kwargs={"token": _token(ada)}) in page
    # Only Ada's: nothing of Bob's, whose third paper Ada never voted on.
    assert "robots" not in page
    assert "2401.00002" not in page
    assert PAPERS[3] not in page


def test_the_page_is_private_and_never_cached(client: Client, ada: Subscriber) -> None:
    got = client.get(_url(ada))

    assert "no-store" in got["Cache-Control"]
    assert "private" in got["Cache-Control"]
    assert got["X-Robots-Tag"] == "noindex, nofollow"


def test_a_reader_with_no_signals_is_told_what_they_can_do(client: Client, clock: Any) -> None:
    reader = SubscriberFactory.create(interests="")

    page = client.get(_url(reader)).content.decode()

    assert "No votes yet" in page
    assert "None yet" in page  # no seeds
    assert "the day's top papers" in page  # no interests


def test_a_vote_for_a_paper_not_stored_shows_its_id_unlinked(
    client: Client, ada: Subscriber
) -> None:
    Vote.objects.create(subscriber=ada, arxiv_id="2612.55555", direction="more")

    page = client.get(_url(ada)).content.decode()

    assert "2612.55555" in page
    assert "/papers/2612.55555/" not in page


def test_a_title_is_escaped(client: Client, ada: Subscriber) -> None:
    PaperFactory.create(arxiv_id="2611.09999", title="<script>alert(1)</script>")
    Vote.objects.create(subscriber=ada, arxiv_id="2611.09999", direction="more")

    page = client.get(_url(ada)).content.decode()

    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_page_takes_a_constant_number_of_queries(
    client: Client, ada: Subscriber, django_assert_max_num_queries: Any
) -> None:
    for n in range(30):
        Vote.objects.create(subscriber=ada, arxiv_id=f"2612.{n:05d}", direction="less")
    with django_assert_max_num_queries(8):
        assert client.get(_url(ada)).status_code == 200


def test_a_get_of_any_of_the_pages_changes_nothing(
    client: Client, ada: Subscriber, bob: Subscriber
) -> None:
    before = stored_state()

    for name in ("signals", "signals-reset"):
        assert client.get(_url(ada, name)).status_code == 200
        assert client.head(_url(ada, name)).status_code == 200
    assert client.get(_url(ada, "signals-undo")).status_code == 405

    assert stored_state() == before


# --- Undo -----------------------------------------------------------------------------------------


def test_undo_deletes_that_vote_alone_and_says_so(
    client: Client, ada: Subscriber, bob: Subscriber
) -> None:
    vote = Vote.objects.get(subscriber=ada, arxiv_id=PAPERS[0])
    bobs = _signals(bob)

    got = client.post(_url(ada, "signals-undo"), {"vote": vote.pk})

    assert got.status_code == 303
    assert got["Location"] == _url(ada)
    assert _signals(ada)["votes"] == [(PAPERS[1], "less")]
    assert _signals(bob) == bobs
    page = client.get(got["Location"]).content.decode()
    assert "Vote undone" in page
    assert page.count(">Undo</button>") == 1


def test_another_readers_vote_cannot_be_undone(
    client: Client, ada: Subscriber, bob: Subscriber
) -> None:
    bobs_vote = Vote.objects.get(subscriber=bob, arxiv_id=PAPERS[1])
    before = stored_state()

    got = client.post(_url(ada, "signals-undo"), {"vote": bobs_vote.pk})

    assert got.status_code == 404
    assert "already gone" in got.content.decode()
    assert stored_state() == before


def test_an_undo_posted_twice_changes_nothing_the_second_time(
    client: Client, ada: Subscriber
) -> None:
    vote = Vote.objects.get(subscriber=ada, arxiv_id=PAPERS[0])
    client.post(_url(ada, "signals-undo"), {"vote": vote.pk})
    before = stored_state()

    again = client.post(_url(ada, "signals-undo"), {"vote": vote.pk})

    assert again.status_code == 404
    assert stored_state() == before


@pytest.mark.parametrize("value", ["", "abc", "-1", "0", "1.5", "١", "9" * 30, str(2**63)])
def test_a_malformed_vote_id_is_a_clear_400_that_stores_nothing(
    client: Client, ada: Subscriber, value: str
) -> None:
    before = stored_state()

    got = client.post(_url(ada, "signals-undo"), {"vote": value})

    assert got.status_code == 400
    assert "did not name a vote" in got.content.decode()
    assert stored_state() == before


def test_undo_and_reset_need_the_csrf_token(ada: Subscriber) -> None:
    client = Client(enforce_csrf_checks=True)
    vote = Vote.objects.get(subscriber=ada, arxiv_id=PAPERS[0])
    before = stored_state()

    assert client.post(_url(ada, "signals-undo"), {"vote": vote.pk}).status_code == 403
    assert client.post(_url(ada, "signals-reset")).status_code == 403

    assert stored_state() == before


# --- Reset ----------------------------------------------------------------------------------------


def test_the_reset_asks_first_and_says_what_it_deletes(client: Client, ada: Subscriber) -> None:
    page = client.get(_url(ada, "signals-reset")).content.decode()

    assert "Reset your personalization?" in page
    assert "your 2 votes" in page
    assert "1 paper you opened" in page
    assert "2 example papers" in page
    assert "interests" in page
    assert "stay" in page
    assert _url(ada) in page  # the way back


def test_reset_deletes_exactly_the_readers_personalization(
    client: Client, ada: Subscriber, bob: Subscriber
) -> None:
    bobs = _signals(bob)
    deliveries = Delivery.objects.count()

    got = client.post(_url(ada, "signals-reset"))

    assert got.status_code == 303
    assert got["Location"] == _url(ada)
    assert _signals(ada) == {"votes": [], "clicks": 0, "seeds": 0, "profile": False}
    # The subscription and the texts the reader wrote stay, and so does the send ledger.
    ada.refresh_from_db()
    assert ada.status == Subscriber.Status.ACTIVE
    assert (ada.interests, ada.less_of) == (
        "speculative decoding, quantization",
        "benchmarks, surveys",
    )
    assert Delivery.objects.count() == deliveries
    # Another reader's signals are untouched.
    assert _signals(bob) == bobs
    page = client.get(got["Location"]).content.decode()
    assert "Your personalization is reset" in page
    assert "No votes yet" in page


# --- Bad links ------------------------------------------------------------------------------------


def _pages(token: str) -> list[tuple[str, str]]:
    """(method, URL) of every signals endpoint with this token."""
    quoted = quote(token, safe="")
    return [
        ("get", f"/digest/signals/{quoted}/"),
        ("post", f"/digest/signals/{quoted}/undo/"),
        ("get", f"/digest/signals/{quoted}/reset/"),
        ("post", f"/digest/signals/{quoted}/reset/"),
    ]


def _ask(client: Client, method: str, url: str, ada: Subscriber) -> Any:
    vote = Vote.objects.filter(subscriber=ada).first()
    data = {"vote": vote.pk} if vote and method == "post" else {}
    return getattr(client, method)(url, data)


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a:b:c",
        "eyJzIjoxLCJmIjoiYWJjIn0:1vIaZV:forged-signature-forged-signature-forged00",
        signing.dumps({"s": 1, "f": "abc"}, salt="paperboy.subscriptions.manage", key="other-key"),
    ],
    ids=["garbage", "three-parts", "forged", "another-key"],
)
def test_a_garbled_or_forged_link_gets_a_clear_400_and_stores_nothing(
    client: Client, ada: Subscriber, token: str
) -> None:
    before = stored_state()
    for method, url in _pages(token):
        got = _ask(client, method, url, ada)
        assert got.status_code == 400, url
        assert "This link is not valid" in got.content.decode()
    assert stored_state() == before


def test_an_empty_token_finds_no_page(client: Client, ada: Subscriber) -> None:
    assert client.get("/digest/signals//").status_code == 404


@pytest.mark.parametrize("purpose", [Purpose.UNSUBSCRIBE, Purpose.CONFIRM, Purpose.CHANGE_EMAIL])
def test_a_token_made_for_another_purpose_does_not_open_it(
    client: Client, ada: Subscriber, purpose: Purpose
) -> None:
    before = stored_state()
    for method, url in _pages(_token(ada, purpose)):
        assert _ask(client, method, url, ada).status_code == 400, url
    assert stored_state() == before


def test_an_expired_link_gets_a_clear_410(client: Client, ada: Subscriber, clock: Any) -> None:
    token = _token(ada)
    clock.shift(MAX_AGE[Purpose.MANAGE] + dt.timedelta(seconds=1))
    before = stored_state()

    for method, url in _pages(token):
        got = _ask(client, method, url, ada)
        assert got.status_code == 410, url
        assert "This link has expired" in got.content.decode()
    assert stored_state() == before


def test_the_link_dies_with_an_address_change_or_the_reader(
    client: Client, ada: Subscriber
) -> None:
    token = _token(ada)
    Subscriber.objects.filter(pk=ada.pk).update(email="ada.new@example.org")
    assert client.get(_url(token)).status_code == 410

    Subscriber.objects.filter(pk=ada.pk).delete()
    got = client.get(_url(token))
    assert got.status_code == 410
    assert "no subscription behind it" in got.content.decode()


# --- Fuzz -----------------------------------------------------------------------------------------


@FUZZ
@given(
    data=st.dictionaries(
        st.sampled_from(["vote", "csrfmiddlewaretoken", "action", "token"]),
        st.one_of(st.text(max_size=30), st.integers().map(str)),
    ),
    real=st.booleans(),
    token=st.text(max_size=40),
)
def test_whatever_an_undo_receives_it_never_fails_and_touches_only_the_readers_own_votes(
    client: Client, bob: Subscriber, data: dict[str, str], real: bool, token: str
) -> None:
    ada = Subscriber.objects.get(email="ada@example.org")
    url = f"/digest/signals/{quote(_token(ada) if real else token, safe='')}/undo/"
    bobs, before = _signals(bob), stored_state()

    got = client.post(url, data)

    assert got.status_code < 500
    if got.status_code >= 400:
        assert stored_state() == before
    else:
        assert got.status_code == 303
        assert len(_signals(ada)["votes"]) == 1
    assert _signals(bob) == bobs
    for vote in Vote.objects.filter(subscriber=bob):
        assert client.post(url, {"vote": vote.pk}).status_code in (400, 404, 410)
    assert _signals(bob) == bobs
    # Back to Ada's two votes for the next example.
    Vote.objects.filter(subscriber=ada).delete()
    _signals_of_votes_only(ada)


def _signals_of_votes_only(ada: Subscriber) -> None:
    Vote.objects.create(subscriber=ada, arxiv_id=PAPERS[0], direction="more")
    Vote.objects.create(subscriber=ada, arxiv_id=PAPERS[1], direction="less")


@FUZZ
@given(
    token=st.one_of(st.text(max_size=60), st.just("")),
    method=st.sampled_from(["get", "head", "post", "put", "delete"]),
    data=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3),
)
def test_whatever_token_arrives_at_a_reset_nothing_is_reset_without_the_readers_link(
    client: Client, bob: Subscriber, token: str, method: str, data: dict[str, str]
) -> None:
    before = stored_state()

    got = getattr(client, method)(f"/digest/signals/{quote(token, safe='')}/reset/", data)

    assert got.status_code < 500
    assert stored_state() == before


# --- In the browser -------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_chromium_a_reader_undoes_a_vote_then_resets_with_no_csp_error(
    browser: Any, live_server: Any
) -> None:
    # Imported here: playwright is optional, and the other tests of this module run without it.
    from playwright.sync_api import expect

    for arxiv_id in PAPERS:
        PaperFactory.create(
            arxiv_id=arxiv_id,
            title=f"A rather long paper title about efficient inference {arxiv_id}",
        )
    ada = SubscriberFactory.create(
        email="ada@example.org",
        interests="speculative decoding, quantization",
        less_of="benchmarks, surveys",
    )
    _signals_of(ada, PAPERS[:3])
    Seed.objects.create(
        subscriber=ada,
        arxiv_id="2401.00001",
        title="Fast Inference from Transformers via Speculative Decoding",
        origin=Seed.Origin.ID,
        status=Seed.Status.READY,
    )
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(live_server.url + _url(ada))
        expect(page.get_by_role("heading", name="Your signals")).to_be_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "signals-desktop.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(SHOTS / "signals-phone.png"), full_page=True)
        page.set_viewport_size({"width": 1100, "height": 900})

        page.get_by_role(
            "button",
            name=f"Undo your vote on A rather long paper title about "
            f"efficient inference {PAPERS[0]}",
        ).click()
        expect(page.get_by_role("status")).to_contain_text("Vote undone")
        assert list(Vote.objects.filter(subscriber=ada).values_list("arxiv_id", flat=True)) == [
            PAPERS[1]
        ]

        page.get_by_role("link", name="Reset personalization…").click()
        page.screenshot(path=str(SHOTS / "signals-reset.png"), full_page=True)
        page.get_by_role("button", name="Reset personalization").click()
        expect(page.get_by_role("status")).to_contain_text("Your personalization is reset")
        assert not [line for line in console if "Content Security Policy" in line]
    finally:
        context.close()

    assert not Vote.objects.filter(subscriber=ada).exists()
    assert not Seed.objects.filter(subscriber=ada).exists()
    assert Subscriber.objects.get(pk=ada.pk).interests == "speculative decoding, quantization"


# --- The learned profile follows ------------------------------------------------------------------


def test_an_undo_and_a_reset_have_the_worker_refit_the_profile_after_commit(
    client: Client,
    ada: Subscriber,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from digest import tasks

    settings.PAPERBOY_LEARN_ON_CHANGE = True
    refits: list[int] = []
    monkeypatch.setattr(tasks.reader_profile_refresh, "delay", refits.append)
    vote = Vote.objects.get(subscriber=ada, arxiv_id=PAPERS[0])

    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url(ada, "signals-undo"), {"vote": vote.pk})
    assert refits == [ada.pk]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url(ada, "signals-undo"), {"vote": vote.pk})  # already gone: no refit
    assert refits == [ada.pk]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url(ada, "signals-reset"))
    assert refits == [ada.pk, ada.pk]
