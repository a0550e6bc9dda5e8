"""preview_digest with votes and seeds (--liked, --disliked, --seeds) and many readers at once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from digest import vectors
from digest.management.commands import preview_digest
from digest.models import ReaderProfile, TextEmbedding, Vote
from papers.models import Paper
from papers.sources import hf_api
from subscriptions.models import Seed
from tests.factories import papers_create
from tests.fakes import fake_embed
from tests.helpers import CANDIDATES, DAY, FIXTURES, fixture_bytes

pytestmark = pytest.mark.django_db

CANDIDATE_DAY = DAY - dt.timedelta(days=1)
EARLIER = DAY - dt.timedelta(days=8)
# papers_create's topics, in turn: paper i is on TOPICS[i % 5].
TOPICS = ["pose estimation", "speech recognition", "robot grasping", "diffusion video", "protein"]
SPEECH, ROBOT, VIDEO, PROTEIN = "2610.10001", "2610.10002", "2610.10003", "2610.10004"


@pytest.fixture(autouse=True)
def embedded(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The fake model, recording each batch of texts it embeds."""
    vectors.cache_clear()
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return fake_embed(texts)

    monkeypatch.setattr(vectors, "text_embed", embed)
    return calls


@pytest.fixture
def papers() -> dict[str, list[Any]]:
    """Twelve candidates of the day before DAY, and five older papers to like or give as seeds."""
    return {
        "candidates": papers_create(12, day=CANDIDATE_DAY),
        "earlier": papers_create(5, day=EARLIER, prefix="2610.1"),
    }


def _preview(*args: str) -> str:
    out = StringIO()
    call_command("preview_digest", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _ranking(*args: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(_preview(*args, "--json"))
    return items


def _topic(item: dict[str, Any]) -> str:
    return TOPICS[int(item["arxiv_id"][-4:]) % len(TOPICS)]


def _title(arxiv_id: str) -> str:
    return Paper.objects.get(arxiv_id=arxiv_id).title


def test_a_liked_paper_lifts_its_topic_and_the_reason_names_it(papers: dict[str, Any]) -> None:
    before = _ranking("--interests", "pose estimation", "--limit", "12")
    after = _ranking("--interests", "pose estimation", "--liked", SPEECH, "--limit", "12")

    def speech_positions(items: list[dict[str, Any]]) -> list[int]:
        return [i for i, item in enumerate(items) if _topic(item) == "speech recognition"]

    assert sum(speech_positions(after)) < sum(speech_positions(before))
    liked = _ranking("--liked", f"https://arxiv.org/abs/{SPEECH}v2", "--limit", "3")
    assert [_topic(item) for item in liked] == ["speech recognition"] * 3
    assert {item["reason"] for item in liked} == {f"because you liked ‘{_title(SPEECH)}’"}
    assert SPEECH not in {item["arxiv_id"] for item in after}  # only candidates are ranked


@pytest.fixture
def background(papers: dict[str, Any]) -> None:
    """A hundred more stored papers, as a real database has: the profile's weak negatives.

    With only the few papers of a test, each recent paper weighs as much as a vote among the
    negatives (learning.BACKGROUND_WEIGHT is spread over them), and one vote hardly shows.
    """
    papers_create(100, day=EARLIER - dt.timedelta(days=1), prefix="2609.1")


def test_a_disliked_paper_pushes_its_topic_down(background: None) -> None:
    interests = "robot grasping, protein folding"
    before = _ranking("--interests", interests, "--limit", "4")
    after = _ranking("--interests", interests, "--disliked", ROBOT, "--limit", "4")

    assert [_topic(item) for item in before] == ["robot grasping", "protein"] * 2
    assert [_topic(item) for item in after] == ["protein"] * 2 + ["robot grasping"] * 2
    liked = _ranking("--liked", "2610.10000", "--limit", "12")
    liked_not_robot = _ranking("--liked", "2610.10000", "--disliked", ROBOT, "--limit", "12")
    assert [_topic(item) for item in liked][5:7] == ["robot grasping"] * 2
    assert [_topic(item) for item in liked_not_robot][10:] == ["robot grasping"] * 2


def test_seeds_from_a_file_of_ids_rank_like_those_papers(
    papers: dict[str, Any], tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"# my papers\nhttps://arxiv.org/abs/{VIDEO}v3\n\narXiv:{PROTEIN}\n")

    items = _ranking("--seeds", str(seeds), "--limit", "4")

    assert {_topic(item) for item in items} == {"diffusion video", "protein"}
    assert {item["reason"] for item in items} == {
        f"like your paper ‘{_title(VIDEO)}’",
        f"like your paper ‘{_title(PROTEIN)}’",
    }


BIBTEX = """
@article{one, title={Protein at scale}, eprint={%s}, archivePrefix={arXiv}}
@inproceedings{two,
  title = {Speech recognition at scale, again},
  abstract = {We improve speech recognition with a new method.},
}
@misc{three, title={A paper with no id and no abstract}}
"""


def test_seeds_from_bibtex_take_ids_and_text_only_entries(
    papers: dict[str, Any], tmp_path: Path
) -> None:
    seeds = tmp_path / "library.bib"
    seeds.write_text(BIBTEX % PROTEIN)
    err = StringIO()

    out = StringIO()
    # Three speech papers and two protein papers among the candidates: the five picks.
    call_command("preview_digest", "--seeds", str(seeds), "--limit", "5", stdout=out, stderr=err)

    lines = out.getvalue().splitlines()
    reasons = {line.strip() for line in lines if line.startswith("      ")}
    assert reasons == {
        f"like your paper ‘{_title(PROTEIN)}’",
        "like your paper ‘Speech recognition at scale, again’",
    }
    assert "1 BibTeX entries skipped" in err.getvalue()


def test_candidates_from_a_file_are_ranked_with_stored_votes(papers: dict[str, Any]) -> None:
    file = str(FIXTURES / CANDIDATES)
    items = _ranking("--from-file", file, "--liked", SPEECH, "--limit", "5")

    in_file = {r.arxiv_id for r in hf_api.parse(fixture_bytes(CANDIDATES)).records}
    assert len(items) == 5
    assert {item["arxiv_id"] for item in items} <= in_file


READERS: list[dict[str, Any]] = [
    {"interests": "pose estimation"},
    {"liked": [SPEECH], "disliked": ["2610.10000"]},
    {"interests": "robot grasping", "seeds": [f"arXiv:{VIDEO}", PROTEIN]},
]


def _single_args(reader: dict[str, Any]) -> list[str]:
    args = ["--interests", reader["interests"]] if "interests" in reader else []
    for key in ("liked", "disliked"):
        if reader.get(key):
            args += [f"--{key}", *reader[key]]
    return args


def test_readers_get_one_ranking_each_in_order_and_the_model_runs_once(
    papers: dict[str, Any], tmp_path: Path, embedded: list[list[str]]
) -> None:
    path = tmp_path / "readers.json"
    path.write_text(json.dumps(READERS))

    rankings = json.loads(_preview("--readers", str(path), "--limit", "5", "--json"))

    assert len(embedded) == 1  # one batch: candidates, named papers, facets, background
    assert len(rankings) == len(READERS)
    assert [_topic(ranking[0]) for ranking in rankings] == [
        "pose estimation",
        "speech recognition",
        "robot grasping",
    ]
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"{VIDEO} {PROTEIN}")
    singles = [
        _ranking(*_single_args(READERS[0]), "--limit", "5"),
        _ranking(*_single_args(READERS[1]), "--limit", "5"),
        _ranking(*_single_args(READERS[2]), "--seeds", str(seeds), "--limit", "5"),
    ]
    assert rankings == singles  # each shaped, and ranked, as the single-reader --json output


def test_readers_print_lines_under_a_header_each(papers: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "readers.json"
    path.write_text(json.dumps([*READERS, {}]))

    out = _preview("--readers", str(path), "--limit", "2")

    headers = [line for line in out.splitlines() if line.startswith("== ")]
    assert headers == [
        "== Reader 1 of 4: interests 'pose estimation'",
        f"== Reader 2 of 4: liked {SPEECH}; disliked 2610.10000",
        "== Reader 3 of 4: interests 'robot grasping'; 2 seeds",
        "== Reader 4 of 4: no interests, votes or seeds",
    ]
    assert f"because you liked ‘{_title(SPEECH)}’" in out
    assert "No interests, votes or seeds: today's top trending papers:" in out


def _counts() -> dict[str, int]:
    models = (Paper, Vote, Seed, ReaderProfile, TextEmbedding)
    return {model.__name__: model.objects.count() for model in models}


def _file(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def _readers(content: Any) -> Callable[[Path], list[str]]:
    raw = content if isinstance(content, (str, bytes)) else json.dumps(content)
    return lambda tmp_path: ["--readers", _file(tmp_path, "readers.json", raw)]


def _seeds(content: str | bytes) -> Callable[[Path], list[str]]:
    return lambda tmp_path: ["--seeds", _file(tmp_path, "seeds.bib", content)]


def _args(*args: str) -> Callable[[Path], list[str]]:
    return lambda tmp_path: list(args)


BAD_INPUT = [
    (_args("--liked", "2601.00001", "2601.00002"), "not stored: 2601.00001, 2601.00002; fetch"),
    (_args("--interests", "x", "--seeds", "/nonexistent.txt"), "--seeds: cannot read"),
    (_args("--liked", "not-an-id"), "--liked: Not an arXiv id or link: 'not-an-id'"),
    (_args("--liked", SPEECH, "--disliked", SPEECH), f"{SPEECH} both liked and disliked"),
    (_args("--disliked", SPEECH), "give --interests, --liked or --seeds"),
    (_args("--limit", "5"), "give --interests, --liked or --seeds"),
    (_args("--readers", "r.json", "--liked", SPEECH), "--readers cannot be combined"),
    (_readers(""), "is empty"),
    (_readers("[{not json"), "is not valid JSON"),
    (_readers(b"\xff\xfe[]"), "is not UTF-8 text"),
    (_readers("[" * 100_000), "is not JSON that can be read"),
    (_readers({"interests": "x"}), "must hold a JSON list of readers, not an object"),
    (_readers([]), "holds no readers"),
    (_readers([{}] * 1_001), "holds 1,001 readers, at most 1,000"),
    (_readers([{}, "pose"]), r"readers\[1\] must be an object"),
    (_readers([{"likes": [SPEECH]}]), r"readers\[0\] has unknown key 'likes'"),
    (_readers([{"interests": ["a"]}]), r"readers\[0\]\.interests must be text, not a list"),
    (_readers([{"interests": "x" * 2_001}]), r"readers\[0\]\.interests is too long"),
    (_readers([{"liked": SPEECH}]), r"readers\[0\]\.liked must be a list of arXiv ids, not text"),
    (_readers([{}, {"seeds": [SPEECH, 7]}]), r"readers\[1\]\.seeds\[1\] is not an arXiv id"),
    (_readers([{"disliked": ["nope"]}]), r"readers\[0\]\.disliked\[0\] is not an arXiv id"),
    (_readers([{"liked": ["2601.00001"]}]), "not stored: 2601.00001"),
    (_seeds(""), "--seeds: .* is empty"),
    (_seeds(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "binary data"),
    (_seeds(b"caf\xe9 2401.01234"), "is not UTF-8 text"),
    (_seeds("2401.01234 banana"), "Not an arXiv id or link: 'banana'"),
    (_seeds("@misc{a, title={No id, no abstract}}"), "nothing to learn from"),
    (_seeds(f"@misc{{a, eprint={{2601.00001}}}}\n{SPEECH}"), "not stored: 2601.00001"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT)
def test_bad_input_gets_one_clear_line_and_stores_nothing(
    papers: dict[str, Any],
    tmp_path: Path,
    argv: Callable[[Path], list[str]],
    message: str,
) -> None:
    before = _counts()
    with pytest.raises(CommandError, match=message) as caught:
        _preview(*argv(tmp_path))
    assert "\n" not in str(caught.value)
    assert _counts() == before


def test_a_readers_file_too_large_is_refused_before_it_is_parsed(
    papers: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preview_digest, "READERS_MAX_BYTES", 100)
    path = _file(tmp_path, "readers.json", json.dumps([{"interests": "x" * 200}]))
    with pytest.raises(CommandError, match="too large"):
        _preview("--readers", path)
