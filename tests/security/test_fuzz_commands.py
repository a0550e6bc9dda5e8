"""Hypothesis fuzz of the arguments of every command: fetch_papers, load_sample, preview_digest.

Whatever the arguments, a command either succeeds or stops with a CommandError (one clear line for
the operator), never another exception; and a command that fails stores nothing. The one record a
failed fetch does leave is its FetchRun marked failed, with the reason: that log is the point.
The network is out of reach (see conftest): a fetch the arguments allow fails as if offline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from digest import embeddings
from digest.embeddings import DIMENSIONS
from papers.models import FetchRun
from tests.factories import PaperFactory
from tests.helpers import FIXTURES
from tests.helpers_fuzz import FUZZ, anything, command_argv, command_run, stored_state

pytestmark = pytest.mark.django_db

HF_MONTH = (
    FIXTURES / "hf_daily_papers/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json"
)
ARXIV_FEED = FIXTURES / "arxiv_rss/2025-08-20_atom-feed_cs.AI_TRUNCATED-86-entries_closed.xml"
TODAY = dt.datetime.now(dt.UTC).date()

dates = st.one_of(
    st.sampled_from(["2025-11-20", "2025-11-18", str(TODAY), str(TODAY + dt.timedelta(days=1))]),
    st.sampled_from(["1991-07-31", "2999-01-01", "2025-02-30", "20251120", "2025-11-20T00:00", ""]),
    st.dates().map(str),
    anything,
)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """--from-file paths: real responses, a small real one, garbage, a folder, nothing at all."""
    small = tmp_path / "three-papers.json"
    small.write_text(json.dumps(json.loads(HF_MONTH.read_bytes())[:3]))
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b'{"truncated": [')
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    return {
        "small": small,
        "arxiv": ARXIV_FEED,
        "garbage": garbage,
        "empty": empty,
        "folder": tmp_path,
        "missing": tmp_path / "missing.json",
        "device": Path("/dev/null"),
    }


class _HashingModel:
    """Stands in for the sentence-embedding model: the same shapes, unit vectors, no torch.

    The fuzz is about the command's arguments; the real model ranks in tests/digest (and loading it
    would take most of this file's time budget).
    """

    def encode(self, texts: list[str], **kwargs: Any) -> np.ndarray:
        vectors = (
            np.array(
                [
                    np.frombuffer(
                        hashlib.sha512(text.encode("utf-8", "surrogatepass")).digest() * 6,
                        dtype=np.uint8,
                    )
                    for text in texts
                ],
                dtype=np.float32,
            )[:, :DIMENSIONS]
            - 127.5
        )
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def cheap_embeddings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "_model", _HashingModel())


def _from_file_paths(files: dict[str, Path]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(sorted(str(path) for path in files.values())), anything)


def _assert_failed_cleanly(before: dict[str, Any], runs_before: set[int]) -> None:
    """Nothing stored but, for a fetch, the failed runs that say why."""
    after = stored_state()
    new_runs = FetchRun.objects.exclude(pk__in=runs_before)
    for run in new_runs:
        assert run.status == FetchRun.Status.FAILED, (run.status, run.error)
        assert run.error, (run.status, run.error)
    label = FetchRun._meta.label
    assert {k: v for k, v in after.items() if k != label} == {
        k: v for k, v in before.items() if k != label
    }
    # A failure like the source's last one is folded into that run (its count, last error and
    # time go on): nothing else of an earlier run may change.
    names = [field.attname for field in FetchRun._meta.concrete_fields]
    folded = {"params", "finished_at", "error", "failures"}

    def fixed(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(value for name, value in zip(names, row, strict=True) if name not in folded)

    old_runs = [fixed(row) for row in after.get(label, []) if row[0] in runs_before]
    assert old_runs == [fixed(row) for row in before.get(label, [])]
    for row in after.get(label, []):
        if row[0] in runs_before:
            was = next(old for old in before[label] if old[0] == row[0])
            failures = names.index("failures")
            assert row[failures] >= was[failures]


# --- fetch_papers ---------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
@example(data=None)
def test_fetch_papers_takes_any_arguments_without_crashing_and_a_failure_stores_nothing(
    files: dict[str, Path], data: Any
) -> None:
    options = {
        "--source": st.one_of(st.sampled_from(["hf", "hf-html", "arxiv"]), anything),
        "--date": dates,
        "--since": dates,
        "--until": dates,
        "--category": st.one_of(
            st.sampled_from(["cs.CV", "hep-th", "cond-mat.mes-hall", "cs.cv", "cs CV"]), anything
        ),
        "--from-file": _from_file_paths(files),
        "--verbosity": st.one_of(st.sampled_from(["0", "1", "2", "3"]), anything),
    }
    argv = (
        ["--source", "hf", "--since", "2025-11-18", "--until", "2025-11-20"]
        if data is None
        else data.draw(command_argv(options, ["--no-color", "--traceback", "--force-color"]))
    )
    before, runs_before = stored_state(), set(FetchRun.objects.values_list("pk", flat=True))

    succeeded, output = command_run("fetch_papers", argv)

    event("success" if succeeded else "CommandError")
    if not succeeded:
        _assert_failed_cleanly(before, runs_before)
    else:
        # Only a saved file can succeed here: every network fetch fails.
        assert "--from-file" in argv, (argv, output)


# --- load_sample ----------------------------------------------------------------------------------


@settings(FUZZ, max_examples=30)
@given(
    argv=command_argv(
        {"--verbosity": st.one_of(st.sampled_from(["0", "1", "3"]), anything)}, ["--no-color", "-v"]
    )
)
def test_load_sample_takes_any_arguments_without_crashing_and_a_failure_stores_nothing(
    argv: list[str],
) -> None:
    before = stored_state()

    succeeded, output = command_run("load_sample", argv)

    event("success" if succeeded else "CommandError")
    if not succeeded:
        assert stored_state() == before, argv
    else:
        assert "created" in output or argv.count("0") > 0


# --- preview_digest -------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_preview_digest_takes_any_arguments_without_crashing_and_never_stores_anything(
    files: dict[str, Path], cheap_embeddings: None, data: Any
) -> None:
    PaperFactory.create_batch(3, hf_date=dt.date(2025, 11, 20))
    options = {
        "--interests": st.one_of(
            st.sampled_from(["robots", "3D human pose estimation", "", " ", "x" * 2001]),
            st.text(max_size=300),
        ),
        "--from-file": st.one_of(
            st.sampled_from([str(files[name]) for name in ("small", "garbage", "missing")]),
            anything,
        ),
        "--date": dates,
        "--limit": st.one_of(
            st.integers(-3, 60).map(str), st.sampled_from(["1e3", "5.0", " 5", ""]), anything
        ),
    }
    # Half the time a plausible command line (so that some succeed), else anything at all.
    plausible = st.builds(
        lambda interests, source, limit, as_json: [
            "--interests",
            interests,
            *source,
            *limit,
            *as_json,
        ],
        options["--interests"],
        st.sampled_from([[], ["--from-file", str(files["small"])], ["--date", "2025-11-20"]]),
        st.one_of(st.just([]), options["--limit"].map(lambda limit: ["--limit", limit])),
        st.sampled_from([[], ["--json"]]),
    )
    argv = data.draw(st.one_of(plausible, command_argv(options, ["--json", "--no-color"])))
    before = stored_state()

    succeeded, output = command_run("preview_digest", argv)

    event("success" if succeeded else "CommandError")
    # A preview only reads; the embeddings it may cache are not the papers' or the readers' data.
    after = stored_state()
    for label in (
        "papers.Paper",
        "papers.PaperMetric",
        "papers.FetchRun",
        "subscriptions.Subscriber",
    ):
        assert after.get(label) == before.get(label), (label, argv)
    if not succeeded:
        assert after == before, argv
    elif "--json" in argv:
        assert isinstance(json.loads(output), list)


# --- The controls: the same commands do work, and a fetch does fail offline -----------------------


def test_the_controls_a_saved_file_loads_and_a_network_fetch_fails_with_its_run_logged(
    files: dict[str, Path],
) -> None:
    succeeded, output = command_run("fetch_papers", ["--from-file", str(files["small"])])
    assert succeeded, output
    assert "3 created" in output, output

    before, runs_before = stored_state(), set(FetchRun.objects.values_list("pk", flat=True))
    succeeded, message = command_run("fetch_papers", ["--source", "hf", "--date", "2025-11-20"])

    assert not succeeded, message
    assert message.startswith("fetch failed:"), message
    [run] = FetchRun.objects.exclude(pk__in=runs_before)
    assert run.status == FetchRun.Status.FAILED
    _assert_failed_cleanly(before, runs_before)


def test_the_controls_preview_digest_ranks_a_saved_file(
    files: dict[str, Path], cheap_embeddings: None
) -> None:
    succeeded, output = command_run(
        "preview_digest", ["--interests", "agents", "--from-file", str(files["small"]), "--json"]
    )

    assert succeeded, output
    assert len(json.loads(output)) == 3
