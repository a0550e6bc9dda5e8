from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from papers.sources import hf_api
from tests.factories import PaperFactory
from tests.helpers import CANDIDATES, FIXTURES, fixture_bytes

FILE = str(FIXTURES / CANDIDATES)


def _preview_digest(*args: str) -> str:
    out = StringIO()
    call_command("preview_digest", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_it_ranks_a_file_as_json_without_touching_the_database(
    judged, django_assert_num_queries
) -> None:
    with django_assert_num_queries(0):
        out = _preview_digest(
            "--interests", "image segmentation", "--from-file", FILE, "--limit", "5", "--json"
        )

    items = json.loads(out)
    records = {r.arxiv_id: r for r in hf_api.parse(fixture_bytes(CANDIDATES)).records}
    assert len(items) == 5
    for item in items:
        assert {"arxiv_id", "title", "score", "reason"} <= set(item)
        assert item["title"] == records[item["arxiv_id"]].title
        assert isinstance(item["score"], float)
        assert item["reason"].startswith(("matches: ", "trending: "))
    assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)
    judged_segmentation = next(
        p for p in judged.profiles if p.interests == "image segmentation"
    ).relevant
    assert items[0]["arxiv_id"] in judged_segmentation


def test_it_keeps_only_the_given_day_of_a_file(judged) -> None:
    records = hf_api.parse(fixture_bytes(CANDIDATES)).records
    day = records[0].hf_date
    assert day is not None
    on_day = {r.arxiv_id for r in records if r.hf_date == day}
    items = json.loads(
        _preview_digest(
            "--interests", "robots", "--from-file", FILE, "--date", day.isoformat(), "--json"
        )
    )
    assert items
    assert {i["arxiv_id"] for i in items} <= on_day
    assert len(items) == min(10, len(on_day))


def test_it_prints_lines_and_says_when_nothing_matched(judged) -> None:
    out = _preview_digest("--interests", "knitting sweaters", "--from-file", FILE, "--limit", "2")
    top = max(hf_api.parse(fixture_bytes(CANDIDATES)).records, key=lambda r: r.upvotes or 0)
    assert out.startswith("Nothing matched these interests")
    assert top.arxiv_id in out
    assert f"trending: {top.upvotes} upvotes" in out


@pytest.mark.django_db
def test_it_ranks_the_latest_days_visible_papers_from_the_database(judged) -> None:
    day = dt.date(2025, 11, 20)
    robot = PaperFactory.create(
        title="A humanoid robot learns to grasp household objects", hf_date=day, upvotes=3
    )
    PaperFactory.create(title="Sparse attention for long documents", hf_date=day, upvotes=50)
    PaperFactory.create(title="Robot arms that fold laundry", hf_date=day, hidden=True)
    PaperFactory.create(title="Robots in the kitchen", hf_date=day - dt.timedelta(days=1))

    items = json.loads(_preview_digest("--interests", "robots", "--json"))

    assert [i["arxiv_id"] for i in items][0] == robot.arxiv_id
    assert len(items) == 2  # the hidden paper and the other day's are not candidates
    dated = json.loads(_preview_digest("--interests", "robots", "--date", "2025-11-19", "--json"))
    assert [i["title"] for i in dated] == ["Robots in the kitchen"]


@pytest.mark.django_db
def test_it_says_so_when_the_database_has_no_papers_for_the_day() -> None:
    with pytest.raises(CommandError, match="no papers"):
        _preview_digest("--interests", "robots")
    PaperFactory.create(hf_date=dt.date(2025, 11, 20))
    with pytest.raises(CommandError, match="no papers on 2025-11-01"):
        _preview_digest("--interests", "robots", "--date", "2025-11-01")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "0"], "--limit must be from 1 to 50"),
        (["--limit", "51"], "--limit must be from 1 to 50"),
        (["--limit", "ten"], "--limit must be a whole number"),
        (["--date", "2025-13-01"], "--date must be YYYY-MM-DD"),
        (["--from-file", "/nonexistent/day.json"], "cannot read"),
        (["--from-file", FILE, "--date", "1999-01-01"], "no papers on 1999-01-01"),
    ],
)
def test_it_rejects_bad_input_with_one_line(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message) as caught:
        _preview_digest("--interests", "robots", *args)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty response body"),
        (b"[{not json", "invalid JSON"),
        (b"[]", "no papers in the file"),
    ],
)
def test_it_rejects_an_empty_or_broken_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "day.json"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message) as caught:
        _preview_digest("--interests", "robots", "--from-file", str(path))
    assert "\n" not in str(caught.value)


def test_it_exits_non_zero_from_the_command_line(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "preview_digest",
            "--interests",
            "x",
            "--from-file",
            str(tmp_path / "none"),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={"DEBUG": "true", "PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings"},
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"CommandError: cannot read {tmp_path / 'none'}: No such file or directory"
    ]
