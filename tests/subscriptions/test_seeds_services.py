"""Storing and fetching seeds: ready at once when the paper is known, fetched by the worker when
not, an author's newest papers in place of the look-up, and nothing stored past the cap.

HTTP is stubbed with captured arXiv responses (tests/fixtures/arxiv_atom, see its README).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.core.cache import cache
from urllib3.util.retry import Retry

from config.celery import app
from papers.models import FetchRun, Paper
from papers.sources import arxiv_api
from papers.sources.http import TransientFetchError
from subscriptions import services, tasks
from subscriptions.models import Seed, Subscriber
from subscriptions.seeds import SEEDS_MAX, SeedError, SeedInput
from subscriptions.selectors import seeds_for_reader
from subscriptions.signals import reader_signals_changed
from tests.factories import PaperFactory, SubscriberFactory
from tests.helpers import fixture_bytes

pytestmark = pytest.mark.django_db

# id_list=0808.05394,1707.08567: arXiv has only the second, and says nothing of the first.
TWO_IDS_ONE_UNKNOWN = "arxiv_atom/2026-04-12_api_query_idlist-two-ids-one-nonexistent.xml"
ERROR_400 = "arxiv_atom/2026-04-12_api_query_idlist-abc_error-http400.xml"
# search_query=au:del_maestro, 10 entries (our query is au:"Adrian Del Maestro": same shape).
AUTHOR_SEARCH = "arxiv_atom/2016-10-09_api_query_search-au-del_maestro_max10_OLD-FORMAT.xml"
AUTHOR_NEWEST = ["1412.6529", "1312.6177", "1303.6954", "1201.4869", "1005.5383", "0807.2873"]
HTTP_ATTEMPTS = 3  # settings_test: PAPERBOY_HTTP_RETRIES = 2, so 3 requests per task attempt
ORCID = "0000-0002-1825-0097"
ORCID_FEED = arxiv_api.AUTHOR_FEED_URL.format(author_id=ORCID)


@pytest.fixture(autouse=True)
def _no_backoff_and_fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # Retries still happen (and are counted), only the waiting between them is skipped.
    monkeypatch.setattr(Retry, "get_backoff_time", lambda self: 0)
    cache.clear()


@pytest.fixture
def announced() -> Iterator[list[int]]:
    """The subscriber ids reader_signals_changed was sent with, in order."""
    received: list[int] = []

    def receiver(sender: Any, subscriber_id: int, **kwargs: Any) -> None:
        received.append(subscriber_id)

    reader_signals_changed.connect(receiver, weak=False, dispatch_uid="test-seeds-announced")
    yield received
    reader_signals_changed.disconnect(dispatch_uid="test-seeds-announced")


@pytest.fixture
def reader() -> Subscriber:
    return SubscriberFactory.create()


def statuses(subscriber: Subscriber) -> dict[str, str]:
    return dict(Seed.objects.filter(subscriber=subscriber).values_list("arxiv_id", "status"))


def sent_query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def add_ids(subscriber: Subscriber, *ids: str) -> services.SeedsAdded:
    inputs = [SeedInput(arxiv_id=arxiv_id) for arxiv_id in ids]
    return services.seeds_add(subscriber=subscriber, inputs=inputs, origin=Seed.Origin.ID)


# --- Adding -----------------------------------------------------------------------------------


def test_an_id_already_stored_is_ready_at_once_without_a_fetch(
    reader: Subscriber, announced: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    paper = PaperFactory.create(arxiv_id="2401.01234")

    with responses.RequestsMock(), django_capture_on_commit_callbacks(execute=True) as callbacks:
        added = add_ids(reader, "2401.01234")

    assert added == services.SeedsAdded(added=1, already=0, ready=1, pending=0)
    seed = Seed.objects.get(subscriber=reader)
    assert (seed.status, seed.title, seed.origin) == (Seed.Status.READY, paper.title, "id")
    assert announced == [reader.pk]
    assert callbacks == []  # nothing for the worker to fetch


def test_text_seeds_are_ready_at_once_and_a_title_given_twice_is_one_seed(
    reader: Subscriber, announced: list[int]
) -> None:
    inputs = [
        SeedInput(title="Long Short-Term Memory", abstract="Learning to store information."),
        SeedInput(title="long short-term memory", abstract="Again, in lower case."),
    ]
    added = services.seeds_add(subscriber=reader, inputs=inputs, origin=Seed.Origin.BIBTEX)

    assert (added.added, added.already, added.ready) == (1, 1, 1)
    seed = Seed.objects.get(subscriber=reader)
    assert (seed.arxiv_id, seed.abstract, seed.status) == (
        "",
        "Learning to store information.",
        "ready",
    )


def test_ids_the_reader_gave_before_are_counted_not_added_again(
    reader: Subscriber, announced: list[int]
) -> None:
    PaperFactory.create(arxiv_id="2401.01234")
    add_ids(reader, "2401.01234")

    again = add_ids(reader, "2401.01234", "2401.01234")

    assert again == services.SeedsAdded(added=0, already=2, ready=0, pending=0)
    assert Seed.objects.filter(subscriber=reader).count() == 1
    assert announced == [reader.pk]  # the second call changed nothing, so said nothing


def test_unknown_ids_are_fetched_by_the_worker_then_ready_or_missing(
    reader: Subscriber, announced: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, body=fixture_bytes(TWO_IDS_ONE_UNKNOWN))
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            added = add_ids(reader, "1707.08567", "0808.05394")
        # Stored as pending first: what the page shows until the worker is done.
        assert statuses(reader) == {"1707.08567": "pending", "0808.05394": "pending"}
        assert added == services.SeedsAdded(added=2, already=0, ready=0, pending=2)
        assert len(mock.calls) == 0
        for callback in callbacks:  # the task, as the commit would enqueue it (eager in tests)
            callback()
        (call,) = mock.calls

    assert sent_query(call)["id_list"] == ["0808.05394,1707.08567"]
    assert statuses(reader) == {"1707.08567": "ready", "0808.05394": "missing"}
    paper = Paper.objects.get(arxiv_id="1707.08567")
    assert Seed.objects.get(arxiv_id="1707.08567").title == paper.title[:500]
    # Added, then one became ready: two announcements, each for this reader.
    assert announced == [reader.pk, reader.pk]


def test_an_error_answer_from_arxiv_marks_the_ids_missing_and_records_the_failed_run(
    reader: Subscriber, django_capture_on_commit_callbacks: Any
) -> None:
    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, status=400, body=fixture_bytes(ERROR_400))
        with django_capture_on_commit_callbacks(execute=True):
            add_ids(reader, "2401.01234")

    assert statuses(reader) == {"2401.01234": "missing"}
    run = FetchRun.objects.get()
    assert run.status == FetchRun.Status.FAILED
    assert "incorrect id format" in run.error.lower() or "HTTP 400" in run.error


def test_an_arxiv_outage_leaves_the_seeds_pending_and_the_task_retries(
    reader: Subscriber, retrying_eagerly: None
) -> None:
    Seed.objects.create(subscriber=reader, arxiv_id="1707.08567", origin=Seed.Origin.ID)

    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, status=503)
        result = tasks.seeds_fetch_task.apply(args=(reader.pk,))
        calls = len(mock.calls)

    assert result.state == "FAILURE"
    assert isinstance(result.result, TransientFetchError)
    max_retries = tasks.seeds_fetch_task.max_retries
    assert max_retries is not None
    assert calls == (1 + max_retries) * HTTP_ATTEMPTS
    assert statuses(reader) == {"1707.08567": "pending"}

    # arXiv is back: the next run (a retry, or the reader's next addition) fetches it.
    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, body=fixture_bytes(TWO_IDS_ONE_UNKNOWN))
        assert tasks.seeds_fetch_task.apply(args=(reader.pk,)).get() == 1

    assert statuses(reader) == {"1707.08567": "ready"}


def test_a_timeout_is_retried_like_an_outage(reader: Subscriber, retrying_eagerly: None) -> None:
    Seed.objects.create(subscriber=reader, arxiv_id="1707.08567", origin=Seed.Origin.ID)

    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, body=requests.exceptions.ReadTimeout("slow"))
        result = tasks.seeds_fetch_task.apply(args=(reader.pk,))

    assert result.state == "FAILURE"
    assert isinstance(result.result, TransientFetchError)
    assert statuses(reader) == {"1707.08567": "pending"}


def test_past_the_cap_nothing_is_stored_and_nothing_is_announced(
    reader: Subscriber, announced: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    Seed.objects.bulk_create(
        Seed(subscriber=reader, title=f"Paper {n}", origin="bibtex", status="ready")
        for n in range(SEEDS_MAX - 1)
    )

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(SeedError, match=f"at most {SEEDS_MAX} example papers"),
    ):
        add_ids(reader, "2401.01234", "2401.01235")

    assert Seed.objects.filter(subscriber=reader).count() == SEEDS_MAX - 1
    assert announced == []
    assert callbacks == []
    # One more still fits.
    assert add_ids(reader, "2401.01234").added == 1


def test_an_unknown_origin_is_a_programming_error(reader: Subscriber) -> None:
    with pytest.raises(ValueError, match="unknown seed origin"):
        services.seeds_add(subscriber=reader, inputs=[SeedInput(arxiv_id="2401.01234")], origin="x")


# --- Author and ORCID look-ups ------------------------------------------------------------------


def test_an_author_look_up_is_replaced_by_their_newest_papers(
    reader: Subscriber, announced: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, body=fixture_bytes(AUTHOR_SEARCH))
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            placeholder = services.seeds_lookup_author(
                subscriber=reader, query=" Adrian  Del Maestro "
            )
        assert (placeholder.source, placeholder.origin, placeholder.status) == (
            "Adrian Del Maestro",
            "author",
            "pending",
        )
        for callback in callbacks:
            callback()
        (call,) = mock.calls

    query = sent_query(call)
    assert query["search_query"] == ['au:"Adrian Del Maestro"']
    assert (query["sortBy"], query["sortOrder"], query["max_results"]) == (
        ["submittedDate"],
        ["descending"],
        ["10"],
    )
    assert not Seed.objects.filter(pk=placeholder.pk).exists()
    seeds = seeds_for_reader(subscriber=reader)
    assert [seed.arxiv_id for seed in seeds][:6] == AUTHOR_NEWEST
    assert len(seeds) == 10
    assert {(seed.origin, seed.source, seed.status) for seed in seeds} == {
        ("author", "Adrian Del Maestro", "ready")
    }
    assert all(seed.title for seed in seeds)
    assert announced == [reader.pk]


def test_asking_for_the_same_author_twice_before_the_worker_answers_is_one_look_up(
    reader: Subscriber,
) -> None:
    first = services.seeds_lookup_author(subscriber=reader, query="Adrian Del Maestro")
    second = services.seeds_lookup_author(subscriber=reader, query="Adrian Del Maestro")

    assert first.pk == second.pk
    assert Seed.objects.filter(subscriber=reader).count() == 1


def test_an_orcid_arxiv_does_not_know_marks_the_look_up_missing(
    reader: Subscriber, announced: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    # arXiv answers 404 for an iD linked to no arXiv account (its help page on author feeds).
    with responses.RequestsMock() as mock:
        mock.get(ORCID_FEED, status=404)
        with django_capture_on_commit_callbacks(execute=True):
            placeholder = services.seeds_lookup_author(
                subscriber=reader, query=f"https://orcid.org/{ORCID}"
            )

    placeholder.refresh_from_db()
    assert (placeholder.origin, placeholder.source, placeholder.status) == (
        "orcid",
        ORCID,
        "missing",
    )
    assert FetchRun.objects.get().status == FetchRun.Status.FAILED
    assert announced == []


def test_an_orcid_feed_gives_its_newest_papers(
    reader: Subscriber, django_capture_on_commit_callbacks: Any
) -> None:
    # No captured .atom2 body was found; the author search above is real arXiv Atom of the same
    # entry shape (<id>, <title>, <summary>, <published>), served here at the feed's address.
    with responses.RequestsMock() as mock:
        mock.get(ORCID_FEED, body=fixture_bytes(AUTHOR_SEARCH))
        with django_capture_on_commit_callbacks(execute=True):
            services.seeds_lookup_author(subscriber=reader, query=ORCID)

    seeds = seeds_for_reader(subscriber=reader)
    assert [seed.arxiv_id for seed in seeds][:6] == AUTHOR_NEWEST
    assert {(seed.origin, seed.source) for seed in seeds} == {("orcid", ORCID)}


def test_an_outage_during_a_look_up_keeps_it_pending_for_the_retry(
    reader: Subscriber, retrying_eagerly: None
) -> None:
    placeholder = Seed.objects.create(
        subscriber=reader, origin=Seed.Origin.AUTHOR, source="Adrian Del Maestro"
    )
    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, status=503)
        result = tasks.seeds_fetch_task.apply(args=(reader.pk,))

    assert isinstance(result.result, TransientFetchError)
    placeholder.refresh_from_db()
    assert placeholder.status == Seed.Status.PENDING


def test_a_look_up_removed_before_the_worker_answers_adds_nothing(reader: Subscriber) -> None:
    placeholder = Seed.objects.create(
        subscriber=reader, origin=Seed.Origin.AUTHOR, source="Adrian Del Maestro"
    )
    pending = Seed.objects.get(pk=placeholder.pk)
    placeholder.delete()
    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, body=fixture_bytes(AUTHOR_SEARCH))
        assert services._seed_lookup_resolve(pending) == 0

    assert not Seed.objects.filter(subscriber=reader).exists()


def test_a_look_up_fills_only_the_room_left_under_the_cap(
    reader: Subscriber, django_capture_on_commit_callbacks: Any
) -> None:
    Seed.objects.bulk_create(
        Seed(subscriber=reader, title=f"Paper {n}", origin="bibtex", status="ready")
        for n in range(SEEDS_MAX - 3)
    )
    with responses.RequestsMock() as mock:
        mock.get(arxiv_api.API_URL, body=fixture_bytes(AUTHOR_SEARCH))
        with django_capture_on_commit_callbacks(execute=True):
            services.seeds_lookup_author(subscriber=reader, query="Adrian Del Maestro")

    assert Seed.objects.filter(subscriber=reader).count() == SEEDS_MAX
    found = Seed.objects.filter(subscriber=reader, origin="author")
    assert list(found.values_list("arxiv_id", flat=True)) == AUTHOR_NEWEST[:3]


def test_a_look_up_at_the_cap_is_refused(reader: Subscriber) -> None:
    Seed.objects.bulk_create(
        Seed(subscriber=reader, title=f"Paper {n}", origin="bibtex", status="ready")
        for n in range(SEEDS_MAX)
    )
    with pytest.raises(SeedError, match="remove some first"):
        services.seeds_lookup_author(subscriber=reader, query="Adrian Del Maestro")
    assert Seed.objects.filter(subscriber=reader).count() == SEEDS_MAX


def test_a_bad_author_query_stores_nothing(reader: Subscriber) -> None:
    with pytest.raises(SeedError):
        services.seeds_lookup_author(subscriber=reader, query="0000-0002-1825-0098")
    assert not Seed.objects.exists()


# --- Removing, "less of this", reading -----------------------------------------------------------


def test_a_reader_removes_only_their_own_seeds(reader: Subscriber, announced: list[int]) -> None:
    other = SubscriberFactory.create()
    mine = Seed.objects.create(subscriber=reader, title="Mine", origin="bibtex", status="ready")
    theirs = Seed.objects.create(subscriber=other, title="Theirs", origin="bibtex", status="ready")

    assert services.seed_remove(subscriber=reader, seed_id=theirs.pk) is False
    assert services.seed_remove(subscriber=reader, seed_id=mine.pk) is True
    assert services.seed_remove(subscriber=reader, seed_id=mine.pk) is False

    assert list(Seed.objects.values_list("title", flat=True)) == ["Theirs"]
    assert announced == [reader.pk]


def test_clearing_removes_every_seed_of_the_reader_only(
    reader: Subscriber, announced: list[int]
) -> None:
    other = SubscriberFactory.create()
    for subscriber in (reader, reader, other):
        Seed.objects.create(subscriber=subscriber, title="T", origin="bibtex", status="ready")

    assert services.seeds_clear(subscriber=reader) == 2
    assert services.seeds_clear(subscriber=reader) == 0
    assert Seed.objects.filter(subscriber=other).count() == 1
    assert announced == [reader.pk]


def test_less_of_is_stored_and_announced_only_when_it_changes(
    reader: Subscriber, announced: list[int]
) -> None:
    services.subscriber_less_of_set(subscriber=reader, text="  benchmarks,\n surveys ")
    services.subscriber_less_of_set(subscriber=reader, text="benchmarks, surveys")

    reader.refresh_from_db()
    assert reader.less_of == "benchmarks, surveys"
    assert announced == [reader.pk]

    with pytest.raises(services.SubscriptionError):
        services.subscriber_less_of_set(subscriber=reader, text="x" * 301)
    reader.refresh_from_db()
    assert reader.less_of == "benchmarks, surveys"


def test_seeds_for_reader_lists_only_theirs_oldest_first(reader: Subscriber) -> None:
    other = SubscriberFactory.create()
    first = Seed.objects.create(subscriber=reader, title="First", origin="bibtex", status="ready")
    Seed.objects.create(subscriber=other, title="Other", origin="bibtex", status="ready")
    second = Seed.objects.create(subscriber=reader, arxiv_id="2401.01234", origin="id")

    assert seeds_for_reader(subscriber=reader) == [first, second]


# --- Sign-up with seeds, the task's name ---------------------------------------------------------


def test_seeds_given_at_sign_up_are_stored_for_a_new_reader_only(
    django_capture_on_commit_callbacks: Any,
) -> None:
    PaperFactory.create(arxiv_id="2401.01234")
    preferences = services.Preferences(interests="quantization")
    with django_capture_on_commit_callbacks(execute=False):
        services.subscriber_subscribe(
            email="new@example.org", preferences=preferences, seeds=["2401.01234"]
        )
    new = Subscriber.objects.get(email="new@example.org")
    assert statuses(new) == {"2401.01234": "ready"}

    active = SubscriberFactory.create(email="active@example.org")
    with django_capture_on_commit_callbacks(execute=False):
        services.subscriber_subscribe(
            email="active@example.org", preferences=preferences, seeds=["2401.01234"]
        )
    # Anyone can type anyone's address: a confirmed subscription is never changed by a sign-up.
    assert statuses(active) == {}


def test_the_seeds_task_has_its_registered_name() -> None:
    assert tasks.seeds_fetch_task.name == "subscriptions.tasks.seeds_fetch"
    assert "subscriptions.tasks.seeds_fetch" in app.tasks


def test_a_reader_deleted_before_the_task_runs_is_no_error() -> None:
    assert services.seeds_fetch(subscriber_id=987654) == 0
