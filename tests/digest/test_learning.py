"""What the ranking learns of a reader: the classifier, the blend, the reasons, the stored row."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from digest import learning, ledger, profiles, sending, services, vectors
from digest.embeddings import DIMENSIONS
from digest.learning import Example, ExampleKind, Signals
from digest.models import ReaderProfile, Vote
from digest.preview import issue_preview
from digest.ranking import EXAMPLE_MIN_SIMILARITY, CandidatePool
from subscriptions.models import Seed
from tests.factories import papers_create, reader_create
from tests.fakes import fake_embed
from tests.helpers import BUILT, DAY, LOCAL_8AM_UTC


@pytest.fixture(autouse=True)
def _no_cache_and_a_fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors.cache_clear()
    sending.contexts_clear()
    monkeypatch.setattr(vectors, "text_embed", fake_embed)


def _axis(*weights: tuple[int, float]) -> np.ndarray:
    """A unit vector with these (dimension, weight) parts."""
    vector = np.zeros(DIMENSIONS, dtype=np.float32)
    for dimension, weight in weights:
        vector[dimension] = weight
    return vector / np.linalg.norm(vector)


def _rows(*vectors: np.ndarray) -> np.ndarray:
    return np.vstack(vectors) if vectors else learning.empty()


def _signals(**kwargs: Any) -> Signals:
    fields: dict[str, Any] = {
        "facets": learning.empty(),
        "seeds": learning.empty(),
        "liked": learning.empty(),
        "liked_weights": np.zeros(0),
        "disliked": learning.empty(),
        "disliked_weights": np.zeros(0),
        "less": learning.empty(),
        # Weak negatives spread over many other directions.
        "background": _rows(*(_axis((10 + i, 1.0), (200 + i, 0.5)) for i in range(40))),
    }
    fields.update(kwargs)
    for name in ("liked", "disliked"):
        if f"{name}_weights" not in kwargs:
            fields[f"{name}_weights"] = np.ones(len(fields[name]))
    return Signals(**fields)


class _Paper:
    def __init__(self, arxiv_id: str, title: str, upvotes: int = 0) -> None:
        self.arxiv_id, self.title, self.upvotes = arxiv_id, title, upvotes
        self.abstract, self.ai_summary, self.ai_keywords = "", "", ()


def _pool(vectors_by_id: dict[str, np.ndarray]) -> CandidatePool:
    papers = [_Paper(a, f"Paper {a}") for a in vectors_by_id]
    return CandidatePool(papers, np.vstack(list(vectors_by_id.values())))


# --- The classifier and the profile -------------------------------------------------------------


def test_the_classifier_ranks_a_liked_direction_above_a_disliked_one() -> None:
    features = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = np.array([1.0, 1.0, 0.0, 0.0])
    theta = learning.logistic_fit(features, labels, np.ones(4), l2=0.1)
    assert np.array([1.0, 0.0]) @ theta[:-1] > np.array([0.0, 1.0]) @ theta[:-1]


def test_a_vote_weighs_half_after_its_half_life() -> None:
    weights = learning.vote_weights([0.0, learning.VOTE_HALF_LIFE_DAYS, -3.0])
    assert weights.tolist() == pytest.approx([1.0, 0.5, 1.0])


def test_the_interests_alone_teach_nothing_and_the_blend_grows_with_the_signals() -> None:
    facets = _rows(_axis((0, 1.0)))
    assert not learning.profile_learn(_signals(facets=facets)).learns
    weights = [
        learning.profile_learn(
            _signals(facets=facets, liked=_rows(*[_axis((1, 1.0), (2, 0.1 * i)) for i in range(n)]))
        ).blend_weight
        for n in (1, 5, 40)
    ]
    assert 0 < weights[0] < weights[1] < weights[2] <= learning.WEIGHT_MAX


def test_with_no_negative_at_all_the_profile_is_closeness_to_the_positives() -> None:
    profile = learning.profile_learn(
        _signals(liked=_rows(_axis((1, 1.0))), background=learning.empty())
    )
    assert profile.learns
    scores = profile.learned_scores(_rows(_axis((1, 1.0)), _axis((2, 1.0))))
    assert scores[0] > scores[1]


def test_liked_papers_lift_their_kind_and_disliked_ones_sink_theirs() -> None:
    liked, disliked = _axis((1, 1.0)), _axis((2, 1.0))
    profile = learning.profile_learn(
        _signals(liked=_rows(liked, _axis((1, 1.0), (3, 0.2))), disliked=_rows(disliked))
    )
    pool = _pool(
        {"near-liked": _axis((1, 1.0), (4, 0.3)), "near-disliked": _axis((2, 1.0), (4, 0.3))}
    )
    ranked = pool.rank(interests="", limit=2, profile=profile)
    assert [r.arxiv_id for r in ranked] == ["near-liked", "near-disliked"]
    assert not ranked[0].fallback


def test_less_of_this_pushes_close_papers_down_without_any_vote() -> None:
    topic = _axis((5, 1.0))
    profile = learning.profile_learn(_signals(less=_rows(_axis((7, 1.0)))))
    assert not profile.learns
    pool = _pool({"avoided": _axis((5, 1.0), (7, 1.0)), "kept": _axis((5, 1.0), (8, 1.0))})
    plain = pool.rank(interests="topic", limit=2, facet_vectors=_rows(topic))
    pushed = pool.rank(interests="topic", limit=2, facet_vectors=_rows(topic), profile=profile)
    assert [r.arxiv_id for r in plain][0] == "avoided"  # ties go by id: "avoided" < "kept"
    assert [r.arxiv_id for r in pushed] == ["kept", "avoided"]


def test_less_of_this_pushes_down_a_paper_with_one_of_its_words_in_the_title() -> None:
    topic = _axis((5, 1.0))
    # Far from the text by meaning: only the title's word can push it down.
    profile = learning.profile_learn(_signals(less=_rows(_axis((7, 1.0)))), less_text="surveys")
    papers = [_Paper("a", "A survey of the topic"), _Paper("b", "The topic, improved")]
    pool = CandidatePool(papers, _rows(_axis((5, 1.0), (8, 0.1)), _axis((5, 1.0), (9, 0.1))))
    plain = pool.rank(interests="topic", limit=2, facet_vectors=_rows(topic))
    pushed = pool.rank(interests="topic", limit=2, facet_vectors=_rows(topic), profile=profile)
    assert [r.arxiv_id for r in plain] == ["a", "b"]
    assert [r.arxiv_id for r in pushed] == ["b", "a"]


def test_a_learned_pick_names_the_liked_paper_or_seed_it_is_close_to() -> None:
    liked, seed = _axis((1, 1.0)), _axis((2, 1.0))
    profile = learning.profile_learn(
        _signals(liked=_rows(liked), seeds=_rows(seed)),
        examples=[
            Example(ExampleKind.LIKED, "2601.00001", "Sparse Attention at Scale"),
            Example(ExampleKind.SEED, "2601.00002", "My Own Paper"),
        ],
        example_vectors=_rows(liked, seed),
    )
    pool = _pool(
        {
            "like-liked": _axis((1, 1.0), (9, 0.2)),
            "like-seed": _axis((2, 1.0), (9, 0.2)),
            "unrelated": _axis((3, 1.0)),
        }
    )
    reasons = {r.arxiv_id: r for r in pool.rank(interests="", limit=3, profile=profile)}
    assert reasons["like-liked"].reason == "because you liked \u2018Sparse Attention at Scale\u2019"
    assert reasons["like-liked"].example == "Sparse Attention at Scale"
    assert reasons["like-seed"].reason == "like your paper \u2018My Own Paper\u2019"
    # Under the threshold nothing is claimed: a new paper with no votes is just "new today".
    assert reasons["unrelated"].example == ""
    assert reasons["unrelated"].reason == "new today"
    nearest = profile.nearest_examples(_rows(_axis((3, 1.0))))[0]
    assert nearest is not None
    assert nearest[1] < EXAMPLE_MIN_SIMILARITY


def test_a_profile_survives_its_round_trip_through_the_row() -> None:
    profile = learning.profile_learn(
        _signals(liked=_rows(_axis((1, 1.0))), less=_rows(_axis((4, 1.0)))),
        examples=[Example(ExampleKind.LIKED, "2601.00001", "A")],
        example_vectors=_rows(_axis((1, 1.0))),
        less_text="benchmarks",
    )
    back = profiles.profile_from_fields(**profiles.profile_fields(profile))
    assert back.signals == profile.signals
    assert back.examples == profile.examples
    assert back.less_text == "benchmarks"
    assert np.allclose(back.weights, profile.weights)
    assert back.less_vectors is not None
    probe = _rows(_axis((1, 1.0)), _axis((4, 1.0)))
    assert np.allclose(back.learned_scores(probe), profile.learned_scores(probe), atol=1e-4)
    assert np.allclose(back.less_penalty(probe), profile.less_penalty(probe))


# --- The stored profile -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_reader_who_taught_nothing_has_no_profile_and_a_reset_removes_it() -> None:
    papers = papers_create(6)
    reader = reader_create(interests="pose estimation")
    assert profiles.profile_refresh(subscriber_id=reader.pk) is None
    Vote.objects.create(subscriber=reader, arxiv_id=papers[0].arxiv_id, direction="more")
    row = profiles.profile_refresh(subscriber_id=reader.pk)
    assert row is not None
    assert row.signals == pytest.approx(1.0)
    assert row.examples == [
        {"kind": "liked", "arxiv_id": papers[0].arxiv_id, "title": papers[0].title}
    ]
    Vote.objects.all().delete()
    assert profiles.profile_refresh(subscriber_id=reader.pk) is None
    assert not ReaderProfile.objects.exists()


@pytest.mark.django_db
def test_votes_clicks_seeds_and_less_of_this_all_go_into_the_profile() -> None:
    papers = papers_create(10)
    reader = reader_create(interests="", less_of="protein folding")
    Vote.objects.create(subscriber=reader, arxiv_id=papers[0].arxiv_id, direction="more")
    Vote.objects.create(subscriber=reader, arxiv_id=papers[1].arxiv_id, direction="less")
    Seed.objects.create(subscriber=reader, arxiv_id=papers[3].arxiv_id, origin="id", status="ready")
    Seed.objects.create(
        subscriber=reader,
        title="Grasping with tactile robots",
        abstract="Robot grasping from touch.",
        origin="bibtex",
        status="ready",
    )
    Seed.objects.create(subscriber=reader, arxiv_id="2611.99999", origin="id")  # still pending
    row = profiles.profile_refresh(subscriber_id=reader.pk)
    assert row is not None
    # One vote up, one down, two ready seeds; the pending one waits for its paper.
    assert row.signals == pytest.approx(4.0)
    assert [e["kind"] for e in row.examples] == ["liked", "seed", "seed"]
    profile = profiles.profiles_read(readers=[reader.pk])[reader.pk]
    assert profile.learns
    assert profile.less_vectors is not None


@pytest.mark.django_db
def test_a_batch_reads_every_readers_profile_in_one_query_and_ranks_by_it() -> None:
    papers_create(20)
    # Robot grasping papers of an earlier day, which some readers liked.
    earlier = papers_create(10, day=DAY - dt.timedelta(days=6), prefix="2611.3")
    liked = [p for p in earlier if p.title.startswith("Robot")]
    with time_machine.travel(BUILT, tick=False):
        issue = services.issue_build(date=DAY)
    readers = [reader_create(interests="", digest_size=3) for _ in range(30)]
    for reader in readers[::3]:
        for paper in liked:
            Vote.objects.create(subscriber=reader, arxiv_id=paper.arxiv_id, direction="more")
        profiles.profile_refresh(subscriber_id=reader.pk)
    ledger.deliveries_create_due(now=LOCAL_8AM_UTC)
    sending.deliveries_send_batch(issue_id=issue.pk, batch_size=3, now=LOCAL_8AM_UTC)  # warm
    with CaptureQueriesContext(connection) as queries:
        result = sending.deliveries_send_batch(issue_id=issue.pk, batch_size=27, now=LOCAL_8AM_UTC)
    assert result.sent == 27
    assert len(queries) <= 6
    learned = [m for m in mail.outbox if "because you liked" in m.body]
    assert len(learned) == 10
    for message in learned:
        assert "close to papers you chose" in message.body
        assert "Robot Grasping at scale" in message.subject


def test_a_paper_the_reader_liked_or_gave_is_never_picked_for_them() -> None:
    liked = _axis((1, 1.0))
    profile = learning.profile_learn(
        _signals(liked=_rows(liked)),
        examples=[Example(ExampleKind.LIKED, "liked", "The liked one")],
        example_vectors=_rows(liked),
    )
    pool = _pool({"liked": liked, "near": _axis((1, 1.0), (9, 0.3)), "far": _axis((3, 1.0))})
    assert [r.arxiv_id for r in pool.rank(interests="", limit=3, profile=profile)] == [
        "near",
        "far",
    ]


@pytest.mark.django_db
def test_the_editors_preview_of_a_reader_picks_with_what_they_taught() -> None:
    papers_create(20)
    earlier = papers_create(10, day=DAY - dt.timedelta(days=6), prefix="2611.3")
    with time_machine.travel(BUILT, tick=False):
        issue = services.issue_build(date=DAY)
    reader = reader_create(interests="", digest_size=3)
    for paper in earlier:
        if paper.title.startswith("Robot"):
            Vote.objects.create(subscriber=reader, arxiv_id=paper.arxiv_id, direction="more")
    profiles.profile_refresh(subscriber_id=reader.pk)

    preview = issue_preview(issue=issue, subscriber=reader)

    assert all("Robot" in p.example for p in preview.picks)
    assert all(p.reason.startswith("because you liked") for p in preview.picks)
    assert "close to papers you chose" in preview.parts.text
