"""`manage.py fetch_papers` and `load_sample`: arguments checked, one-line summaries, failures."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from io import StringIO
from pathlib import Path

import pytest
import requests
import responses
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from responses import matchers
from urllib3.util.retry import Retry

from papers.management.commands.fetch_papers import Command
from papers.models import FetchRun, Paper, PaperMetric, Source
from papers.sources import arxiv_api, hf_api, hf_html
from papers.sources.detect import PARSERS
from tests.helpers import FIXTURES, fixture_bytes, sent_params

pytestmark = pytest.mark.django_db

HF_DAY = "hf_daily_papers/DERIVED_date-2025-11-20_items-from-month-dump_sorted-by-upvotes.json"
RSS_ATOM = "arxiv_rss/2025-08-20_atom-feed_cs.AI_TRUNCATED-86-entries_closed.xml"
ARXIV_ONE = "arxiv_atom/2026-04-12_api_query_idlist-two-ids-one-nonexistent.xml"
ARXIV_EMPTY = "arxiv_atom/2026-04-12_api_query_idlist-0000.0000_empty-zero-results.xml"
ARXIV_SHORT = "arxiv_atom/2016-10-09_api_query_search-au-del_maestro_max10_OLD-FORMAT.xml"
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "papers" / "sample"
FORMAT_OF_FOLDER = {
    "hf_daily_papers": "hf",
    "hf_papers_html": "hf-html",
    "arxiv_atom": "arxiv",
    "arxiv_rss": "arxiv-rss",
}
ERROR_FIXTURES = {
    "arxiv_atom/2026-04-12_api_query_idlist-abc_error-http400.xml": (
        "arXiv API error: incorrect id format for abc"
    ),
    "arxiv_rss/2024-11-28_rss_astroph_ERROR-bad-archive.xml": "arXiv RSS error",
}
GOOD_FIXTURES = sorted(
    str(path.relative_to(FIXTURES))
    for path in FIXTURES.rglob("*")
    if path.is_file()
    and path.suffix != ".md"
    and str(path.relative_to(FIXTURES)) not in ERROR_FIXTURES
)


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Retry, "get_backoff_time", lambda self: 0)


def run_command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("fetch_papers", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def stored_state() -> tuple[list[Mapping[str, object]], list[Mapping[str, object]]]:
    return list(Paper.objects.order_by("pk").values()), list(
        PaperMetric.objects.order_by("pk").values()
    )


def hf_day_items() -> list[dict]:
    return json.loads(fixture_bytes(HF_DAY))


@responses.activate
def test_it_fetches_a_day_and_prints_a_one_line_summary() -> None:
    responses.get(hf_api.API_URL, body=fixture_bytes(HF_DAY))

    out, _ = run_command("--source", "hf", "--date", "2025-11-20")

    run = FetchRun.objects.get()
    assert out == (
        f"hf 2025-11-20: {len(hf_day_items())} created, 0 updated, 0 unchanged, 0 skipped "
        f"(run #{run.pk})\n"
    )
    assert sent_params(responses.calls[0])["date"] == "2025-11-20"


@responses.activate
def test_a_second_fetch_of_the_same_day_reports_everything_unchanged() -> None:
    responses.get(hf_api.API_URL, body=fixture_bytes(HF_DAY))
    run_command("--source", "hf", "--date", "2025-11-20")

    out, _ = run_command("--source", "hf", "--date", "2025-11-20")

    assert f"0 created, 0 updated, {len(hf_day_items())} unchanged, 0 skipped" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "hf", "--date", "2025-13-01"], "--date '2025-13-01' is not a date"),
        (["--source", "hf", "--date", "yesterday"], "is not a date"),
        (["--source", "hf", "--since", "2025-11-20", "--until", "2025-11-01"], "is after --until"),
        (
            ["--source", "hf", "--date", "2025-11-20", "--since", "2025-11-01"],
            "either --date or --since",
        ),
        (["--source", "hf", "--until", "2025-11-01"], "--until needs --since"),
        (["--source", "hf", "--since", "2024-01-01", "--until", "2025-01-02"], "at most 366 days"),
        (["--source", "hf", "--category", "cs.CV"], "--category only applies to --source arxiv"),
        (["--source", "gopher"], "invalid choice: 'gopher'"),
        ([], "give --source"),
        (["--from-file", "/nonexistent/feed.xml"], "no such file: /nonexistent/feed.xml"),
        (["--from-file", "x.json", "--source", "hf"], "cannot be combined with --source"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_error(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=None) as excinfo:
        run_command(*args)

    assert message in str(excinfo.value)
    assert FetchRun.objects.count() == 0


def test_a_full_leap_year_is_not_too_long_a_range() -> None:
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, json=[])
        out, _ = run_command("--source", "hf", "--since", "2024-01-01", "--until", "2024-12-31")

    assert FetchRun.objects.count() == 366
    assert "(366 of 366 days fetched)" in out


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'[{"paper": {"id": "2511.1', 200, "fetch failed: invalid JSON"),
        (b"", 200, "fetch failed: empty response body"),
        (
            b"oops",
            500,
            "fetch failed: https://huggingface.co/api/daily_papers: HTTP 500 after 2 retries",
        ),
        (
            requests.exceptions.ConnectTimeout("timed out"),
            200,
            "fetch failed: https://huggingface.co/api/daily_papers",
        ),
    ],
    ids=["truncated JSON", "empty body", "HTTP 500", "timeout"],
)
def test_a_failed_fetch_raises_a_one_line_error_and_changes_nothing(
    body: bytes | Exception, status: int, message: str
) -> None:
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=fixture_bytes(HF_DAY))
        run_command("--source", "hf", "--date", "2025-11-20")
    before = stored_state()

    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=body, status=status)
        with pytest.raises(CommandError) as excinfo:
            run_command("--source", "hf", "--date", "2025-11-20")

    error = str(excinfo.value)
    assert error.startswith(message)
    assert "\n" not in error
    assert FetchRun.objects.latest("pk").status == FetchRun.Status.FAILED
    assert stored_state() == before


def test_a_failure_exits_non_zero_with_one_line_and_no_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, status=429, headers={"Retry-After": "0"})
        with pytest.raises(SystemExit) as excinfo:
            Command().run_from_argv(
                ["manage.py", "fetch_papers", "--source", "hf", "--date", "2025-11-20"]
            )

    assert excinfo.value.code != 0
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("CommandError")]
    assert lines == [
        "CommandError: fetch failed: https://huggingface.co/api/daily_papers: "
        "HTTP 429 after 2 retries"
    ]


def test_a_backfill_runs_one_fetch_per_day_with_a_progress_bar() -> None:
    items = hf_day_items()
    with responses.RequestsMock() as mock:
        for day, body in (("2025-11-18", items[:4]), ("2025-11-19", []), ("2025-11-20", items)):
            mock.get(
                hf_api.API_URL,
                json=body,
                match=[matchers.query_param_matcher({"date": day}, strict_match=False)],
            )
        out, err = run_command("--source", "hf", "--since", "2025-11-18", "--until", "2025-11-20")

    runs = list(FetchRun.objects.order_by("pk").values_list("params", "created", "unchanged"))
    assert runs == [
        ({"date": "2025-11-18"}, 4, 0),
        ({"date": "2025-11-19"}, 0, 0),
        ({"date": "2025-11-20"}, 8, 4),
    ]
    assert "hf backfill" in err
    assert "3/3" in err
    assert out == (
        "hf 2025-11-18..2025-11-20: 12 created, 0 updated, 4 unchanged, 0 skipped "
        "(3 of 3 days fetched)\n"
    )


def test_a_backfill_with_a_failed_day_fetches_the_others_and_exits_non_zero() -> None:
    with responses.RequestsMock() as mock:
        mock.get(
            hf_html.PAPERS_URL + "/date/2024-08-01",
            body=fixture_bytes("hf_papers_html/papers_index_2024-08-01_raw.html"),
        )
        mock.get(hf_html.PAPERS_URL + "/date/2024-08-02", body=b"<html><body>cut sh")
        with pytest.raises(CommandError) as excinfo:
            run_command("--source", "hf-html", "--since", "2024-08-01", "--until", "2024-08-02")

    assert str(excinfo.value).startswith("fetch failed for 1 of 2 days; first: 2024-08-02: ")
    assert "\n" not in str(excinfo.value)
    assert Paper.objects.count() == 13
    assert list(FetchRun.objects.order_by("pk").values_list("status", flat=True)) == [
        "succeeded",
        "failed",
    ]


@override_settings(PAPERBOY_ARXIV_CATEGORIES=["cs.AI"])
def test_arxiv_without_a_date_reads_the_feed_of_the_default_categories() -> None:
    with responses.RequestsMock() as mock:
        mock.get("https://rss.arxiv.org/rss/cs.AI", body=fixture_bytes(RSS_ATOM))
        out, _ = run_command("--source", "arxiv")

    assert out.startswith("arxiv today: 86 created, 0 updated, 0 unchanged, 0 skipped (run #")
    assert FetchRun.objects.get().source == Source.ARXIV_RSS


def test_arxiv_with_a_date_queries_the_api_for_each_category() -> None:
    with responses.RequestsMock() as mock:
        # One entry, totalResults 1: one page per category.
        mock.get(
            arxiv_api.API_URL,
            body=fixture_bytes(
                "arxiv_atom/2026-04-12_api_query_idlist-two-ids-one-nonexistent.xml"
            ),
        )
        out, _ = run_command(
            "--source",
            "arxiv",
            "--date",
            "2026-04-12",
            "--category",
            "cs.CV",
            "--category",
            "cs.LG",
        )
        queries = [sent_params(call)["search_query"] for call in mock.calls]

    assert queries == [
        "cat:cs.CV AND submittedDate:[202604120000 TO 202604122359]",
        "cat:cs.LG AND submittedDate:[202604120000 TO 202604122359]",
    ]
    assert out.startswith("arxiv 2026-04-12: 1 created, 0 updated, 0 unchanged, 0 skipped")


def on_arxiv_day(category: str, day: str) -> list:
    query = f"cat:{category} AND submittedDate:[{day}0000 TO {day}2359]"
    return [matchers.query_param_matcher({"search_query": query}, strict_match=False)]


def test_an_arxiv_backfill_runs_one_fetch_per_day_with_a_progress_bar_and_warns_of_truncation() -> (
    None
):
    short = fixture_bytes(ARXIV_SHORT)  # 10 entries of a query arXiv says has 31
    days = (("20250101", ARXIV_ONE), ("20250102", ARXIV_EMPTY), ("20250103", ARXIV_SHORT))
    with responses.RequestsMock() as mock:
        for day, fixture in days:
            mock.get(
                arxiv_api.API_URL, body=fixture_bytes(fixture), match=on_arxiv_day("cs.LG", day)
            )
        out, err = run_command(
            "--source",
            "arxiv",
            "--since",
            "2025-01-01",
            "--until",
            "2025-01-03",
            "--category",
            "cs.LG",
        )
        assert len(mock.calls) == 3

    runs = list(
        FetchRun.objects.order_by("pk").values_list(
            "source", "params", "status", "created", "error"
        )
    )
    assert [run[:4] for run in runs] == [
        (Source.ARXIV, {"categories": ["cs.LG"], "date": "2025-01-01"}, "succeeded", 1),
        (Source.ARXIV, {"categories": ["cs.LG"], "date": "2025-01-02"}, "succeeded", 0),
        (
            Source.ARXIV,
            {"categories": ["cs.LG"], "date": "2025-01-03"},
            "succeeded",
            short.count(b"<entry>"),
        ),
    ]
    note = f"truncated: fetched {short.count(b'<entry>')} of 31 for cs.LG"
    assert [run[4] for run in runs] == ["", "", note]
    assert "arxiv backfill" in err
    assert "3/3" in err
    assert out == (
        "arxiv 2025-01-01..2025-01-03: 11 created, 0 updated, 0 unchanged, 0 skipped "
        "(3 of 3 days fetched)\n"
    )
    last = FetchRun.objects.latest("pk")
    assert err.splitlines()[-1] == f"warning: arxiv 2025-01-03: {note} (run #{last.pk})"


def test_an_arxiv_day_asks_for_every_category_in_one_run_and_warns_when_truncated() -> None:
    with responses.RequestsMock() as mock:
        mock.get(
            arxiv_api.API_URL,
            body=fixture_bytes(ARXIV_ONE),
            match=on_arxiv_day("cs.CV", "20250103"),
        )
        mock.get(
            arxiv_api.API_URL,
            body=fixture_bytes(ARXIV_SHORT),
            match=on_arxiv_day("hep-th", "20250103"),
        )
        out, err = run_command(
            "--source",
            "arxiv",
            "--date",
            "2025-01-03",
            "--category",
            "cs.CV",
            "--category",
            "hep-th",
        )

    run = FetchRun.objects.get()
    assert (
        out == f"arxiv 2025-01-03: 11 created, 0 updated, 0 unchanged, 0 skipped (run #{run.pk})\n"
    )
    assert (
        err
        == f"warning: arxiv 2025-01-03: truncated: fetched 10 of 31 for hep-th (run #{run.pk})\n"
    )


NOW = dt.datetime(2025, 11, 20, 23, 30, tzinfo=dt.UTC)  # tomorrow, in UTC, is 2025-11-21


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--source", "hf", "--date", "1991-07-31"],
            "--date 1991-07-31 is out of range: give a day from 1991-08-01 to 2025-11-21",
        ),
        (["--source", "hf", "--date", "2025-11-22"], "--date 2025-11-22 is out of range"),
        (["--source", "hf", "--date", "0001-01-01"], "--date 0001-01-01 is out of range"),
        (
            ["--source", "hf-html", "--since", "1991-07-31", "--until", "1991-08-02"],
            "--since 1991-07-31 is out of range",
        ),
        (
            ["--source", "arxiv", "--since", "2025-11-01", "--until", "2025-11-22"],
            "--until 2025-11-22 is out of range",
        ),
        (["--source", "arxiv", "--date", ""], "--date '' is not a date"),
        (
            ["--source", "arxiv", "--category", "cs.CV; DROP"],
            "--category 'cs.CV; DROP' is not an arXiv category",
        ),
        (["--source", "arxiv", "--category", ""], "--category '' is not an arXiv category"),
        (
            ["--source", "arxiv", "--category", "cs." + "X" * 200],
            f"--category 'cs.{'X' * 29}' is not an arXiv category",
        ),
        (
            ["--source", "arxiv", "--category", "cs.CV", "--category", "cs.CV/../x"],
            "--category 'cs.CV/../x' is not",
        ),
        (
            ["--source", "arxiv", "--category", "cs.cv.lg"],
            "--category 'cs.cv.lg' is not an arXiv category",
        ),
        (
            ["--source", "arxiv", "--category", "CS.CV"],
            "--category 'CS.CV' is not an arXiv category",
        ),
        (
            ["--source", "arxiv", "--category", "cs.CVX"],
            "--category 'cs.CVX' is not an arXiv category",
        ),
        (
            ["--source", "arxiv", "--category", "cs.CV\n"],
            "--category 'cs.CV\\n' is not an arXiv category",
        ),
        (
            ["--source", "arxiv", "--category", "cs+cs.LG"],
            "--category 'cs+cs.LG' is not an arXiv category",
        ),
    ],
)
def test_out_of_range_dates_and_bad_categories_are_refused_before_any_request(
    args: list[str], message: str, time_machine
) -> None:
    time_machine.move_to(NOW)
    with responses.RequestsMock() as mock, pytest.raises(CommandError) as excinfo:
        run_command(*args)

    assert str(excinfo.value).startswith(message)
    assert "\n" not in str(excinfo.value)
    assert len(mock.calls) == 0
    assert FetchRun.objects.count() == 0
    assert Paper.objects.count() == 0


@pytest.mark.parametrize("day", ["1991-08-01", "2025-11-21"])
def test_the_first_day_of_arxiv_and_tomorrow_are_accepted(day: str, time_machine) -> None:
    time_machine.move_to(NOW)
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, json=[])
        out, _ = run_command("--source", "hf", "--date", day)
        assert sent_params(mock.calls[0])["date"] == day

    assert out.startswith(f"hf {day}: 0 created")


@pytest.mark.parametrize(
    "category",
    ["cs.CV", "astro-ph.GA", "hep-th", "math.AP", "stat.ML", "q-bio.NC", "cond-mat.mes-hall", "cs"],
)
def test_real_arxiv_categories_are_accepted(category: str) -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"https://rss.arxiv.org/rss/{category}", body=fixture_bytes(RSS_ATOM))
        out, _ = run_command("--source", "arxiv", "--category", category)

    assert out.startswith("arxiv today: 86 created")
    assert FetchRun.objects.get().params == {"categories": [category]}


@pytest.mark.parametrize("relative", GOOD_FIXTURES)
def test_from_file_loads_every_fixture_format(relative: str) -> None:
    path = FIXTURES / relative
    raw = path.read_bytes()
    expected_format = FORMAT_OF_FOLDER[path.parent.name]
    distinct = len({record.arxiv_id for record in PARSERS[expected_format](raw).records})

    out, _ = run_command("--from-file", str(path))

    run = FetchRun.objects.get()
    assert run.source == Source.FILE
    assert run.params["format"] == expected_format
    assert out == (
        f"file {path.name}: {distinct} created, 0 updated, 0 unchanged, 0 skipped (run #{run.pk})\n"
    )
    assert Paper.objects.count() == distinct


@pytest.mark.parametrize("relative", sorted(ERROR_FIXTURES))
def test_from_file_of_an_error_response_fails_with_its_message(relative: str) -> None:
    with pytest.raises(CommandError) as excinfo:
        run_command("--from-file", str(FIXTURES / relative))

    assert str(excinfo.value).startswith(f"fetch failed: {ERROR_FIXTURES[relative]}")
    assert FetchRun.objects.get().status == FetchRun.Status.FAILED
    assert Paper.objects.count() == 0


def test_from_file_counts_match_the_raw_captures() -> None:
    # Independent of the parsers: the JSON has one item per paper, the Atom feed one <entry>.
    month = (
        FIXTURES
        / "hf_daily_papers/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json"
    )
    run_command("--from-file", str(month))
    run_command("--from-file", str(FIXTURES / RSS_ATOM))

    sources = list(Paper.objects.values_list("sources", flat=True))
    assert sources.count(["hf"]) == len(json.loads(month.read_bytes())) == 100
    assert sources.count(["arxiv-rss"]) == fixture_bytes(RSS_ATOM).count(b"<entry>") == 86


def test_load_sample_loads_every_bundled_file_and_is_idempotent() -> None:
    files = sorted(path for path in SAMPLE_DIR.iterdir() if path.suffix != ".md")
    assert len(files) >= 4

    first, second = StringIO(), StringIO()
    call_command("load_sample", stdout=first)
    stored = list(
        Paper.objects.order_by("pk").values("arxiv_id", "title", "upvotes", "sources", "updated_at")
    )
    call_command("load_sample", stdout=second)

    assert len(first.getvalue().splitlines()) == len(files)
    assert all(" 0 created, 0 updated, " in line for line in second.getvalue().splitlines())
    assert (
        list(
            Paper.objects.order_by("pk").values(
                "arxiv_id", "title", "upvotes", "sources", "updated_at"
            )
        )
        == stored
    )
    assert FetchRun.objects.filter(
        status=FetchRun.Status.SUCCEEDED, source=Source.FILE
    ).count() == 2 * len(files)
    assert {run.params["format"] for run in FetchRun.objects.all()} == {
        "hf",
        "hf-html",
        "arxiv-rss",
    }


def test_the_sample_is_the_real_captures_byte_for_byte() -> None:
    copies = {path.name: path for path in FIXTURES.rglob("*") if path.is_file()}
    for path in SAMPLE_DIR.iterdir():
        if path.suffix != ".md":
            assert path.read_bytes() == copies[path.name].read_bytes(), path.name


def test_dates_default_to_the_current_utc_day(time_machine) -> None:
    time_machine.move_to(dt.datetime(2025, 11, 20, 23, 30, tzinfo=dt.UTC))
    with responses.RequestsMock() as mock:
        mock.get(hf_api.API_URL, body=fixture_bytes(HF_DAY))
        out, _ = run_command("--source", "hf")
        assert sent_params(mock.calls[0])["date"] == "2025-11-20"

    assert out.startswith("hf 2025-11-20: 12 created")
