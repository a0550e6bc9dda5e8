"""Print the papers a subscriber with these interests would get, in order (for editors, tests)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from digest.ranking import PaperLike, Ranked, candidates_rank
from papers.models import Paper
from papers.selectors import paper_latest_day, paper_list_trending
from papers.sources import hf_api
from papers.sources.records import PaperRecord, ParseError

MAX_LIMIT = 50
DEFAULT_LIMIT = 10
MAX_INTERESTS_CHARS = 2_000


class Command(BaseCommand):
    help = (
        "Rank a day's candidates for an interests text, as a digest would: "
        "the latest day's papers by default, "
        "--date for another day, or --from-file PATH "
        "(an HF daily_papers JSON file; the database is not read)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--interests", required=True, help="the subscriber's interests, free text"
        )
        parser.add_argument(
            "--from-file", dest="from_file", help="candidates from an HF daily_papers JSON file"
        )
        parser.add_argument(
            "--date", help="the day, YYYY-MM-DD (default: the latest day with papers)"
        )
        parser.add_argument(
            "--limit", default=str(DEFAULT_LIMIT), help=f"how many papers, 1-{MAX_LIMIT}"
        )
        parser.add_argument(
            "--json", action="store_true", help="print a JSON array instead of lines"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        interests = options["interests"]
        if len(interests) > MAX_INTERESTS_CHARS:
            raise CommandError(
                f"--interests is too long ({len(interests)} characters, "
                f"at most {MAX_INTERESTS_CHARS})"
            )
        limit = _limit(options["limit"])
        day = _date(options["date"]) if options["date"] else None
        if options["from_file"]:
            papers: Sequence[PaperLike] = _from_file(Path(options["from_file"]), day)
        else:
            papers = _from_database(day)
        ranked = candidates_rank(interests=interests, papers=papers, limit=limit)
        if options["json"]:
            self.stdout.write(
                json.dumps([_as_dict(r) for r in ranked], ensure_ascii=False, indent=2)
            )
            return
        if ranked and ranked[0].fallback:
            self.stdout.write("Nothing matched these interests; the top trending papers instead:")
        for position, r in enumerate(ranked, start=1):
            self.stdout.write(
                f"{position:>2}. {r.score:.3f}  {r.arxiv_id}  {r.title}\n      {r.reason}"
            )


def _as_dict(ranked: Ranked) -> dict[str, Any]:
    return {
        "arxiv_id": ranked.arxiv_id,
        "title": ranked.title,
        "score": ranked.score,
        "reason": ranked.reason,
        "upvotes": ranked.upvotes,
        "fallback": ranked.fallback,
    }


def _limit(raw: str) -> int:
    try:
        limit = int(raw)
    except ValueError:
        raise CommandError(
            f"--limit must be a whole number from 1 to {MAX_LIMIT}, got {raw!r}"
        ) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise CommandError(f"--limit must be from 1 to {MAX_LIMIT}, got {limit}")
    return limit


def _date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"--date must be YYYY-MM-DD, got {raw!r}") from None


def _from_file(path: Path, day: dt.date | None) -> list[PaperRecord]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        records = hf_api.parse(raw).records
    except ParseError as exc:
        raise CommandError(f"{path}: {exc}") from None
    if day is not None:
        records = [r for r in records if _record_day(r) == day]
        if not records:
            raise CommandError(f"{path}: no papers on {day.isoformat()}")
    if not records:
        raise CommandError(f"{path}: no papers in the file")
    return list(records)


def _record_day(record: Any) -> dt.date | None:
    if record.hf_date is not None:
        return record.hf_date
    return record.published_at.astimezone(dt.UTC).date() if record.published_at else None


def _from_database(day: dt.date | None) -> list[Paper]:
    if day is None:
        day = paper_latest_day()
        if day is None:
            raise CommandError("no papers in the database yet (fetch some, or use --from-file)")
    papers: list[Paper] = list(paper_list_trending(start=day, end=day))
    if not papers:
        raise CommandError(f"no papers on {day.isoformat()}")
    return papers
