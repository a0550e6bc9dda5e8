"""Print the papers a subscriber with these interests would get, in order (for editors, tests).

Besides an interests text, a reader can be described by papers they liked or disliked and by
seed papers ("papers like these"), which are ranked by the learned profile (digest.learning)
exactly as a digest would, from papers already stored; and many readers can be ranked at once
over the same candidates (`--readers FILE.json`), so that an evaluation loads the model once.
Nothing is stored but the embeddings' cache.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from digest import learning
from digest.cli import arxiv_ids_parse, file_read
from digest.embeddings import paper_text
from digest.profiles import TextSeed, profile_build
from digest.ranking import (
    CandidatePool,
    PaperLike,
    Ranked,
    candidates_rank,
    interests_facets,
)
from digest.vectors import facets_vectors, papers_vectors, vectors_get
from papers.models import Paper
from papers.selectors import paper_latest_day, paper_list_trending
from papers.sources import hf_api
from papers.sources.records import PaperRecord, ParseError
from subscriptions.seeds import (
    BIBTEX_MAX_BYTES,
    IDS_MAX_ITEMS,
    SEEDS_MAX,
    SeedError,
    arxiv_id_from_item,
    bibtex_parse,
    ids_parse,
)

MAX_LIMIT = 50
DEFAULT_LIMIT = 10
MAX_INTERESTS_CHARS = 2_000
READERS_MAX = 1_000
READERS_MAX_BYTES = 5 * 1024 * 1024
READER_KEYS = ("interests", "liked", "disliked", "seeds")
MISSING_SHOWN = 10
# Distinct papers all readers name together: their vectors are held in memory at once (the
# process keeps 20,000, digest.vectors).
NAMED_MAX = 10_000
_QUERY_CHUNK = 500
_EMBED_BATCH = 5_000
# A BibTeX entry starts a line with "@type{" (or "@type("); a list of ids never holds one.
_BIBTEX_ENTRY = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)


@dataclass(frozen=True)
class Reader:
    """One reader to rank for: interests text, papers voted on, seeds (ids, or BibTeX texts)."""

    interests: str = ""
    liked: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()
    seeds: tuple[str | TextSeed, ...] = ()

    @property
    def learns(self) -> bool:
        """Whether anything beyond the interests text describes the reader."""
        return bool(self.liked or self.disliked or self.seeds)

    @property
    def ids(self) -> list[str]:
        """The arXiv ids this reader names, each once."""
        seeds = [s for s in self.seeds if isinstance(s, str)]
        return list(dict.fromkeys([*self.liked, *self.disliked, *seeds]))

    def describe(self) -> str:
        parts = [f"interests {self.interests!r}"] if self.interests.strip() else []
        for name, items in (("liked", self.liked), ("disliked", self.disliked)):
            if items:
                parts.append(f"{name} {', '.join(items)}")
        if self.seeds:
            parts.append(f"{len(self.seeds)} seed{'s' if len(self.seeds) != 1 else ''}")
        return "; ".join(parts) or "no interests, votes or seeds"


class Command(BaseCommand):
    help = (
        "Rank a day's candidates for a reader, as a digest would: "
        "the latest day's papers by default, "
        "--date for another day, or --from-file PATH "
        "(an HF daily_papers JSON file; the database is not read for an --interests text "
        "alone). The reader: --interests, and/or papers already stored that they --liked or "
        "--disliked (voted just now; left out of the ranking, as a digest never sends a "
        "paper twice) and --seeds FILE (arXiv ids or links, or BibTeX); or --readers "
        "FILE.json, a list of such readers ranked over the same candidates (with --json, "
        "one JSON array of rankings in the same order). Nothing is stored but the papers' "
        "embeddings, a cache."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interests", help="the subscriber's interests, free text")
        parser.add_argument(
            "--liked", nargs="+", metavar="ID", help="arXiv ids of stored papers voted 'more'"
        )
        parser.add_argument(
            "--disliked", nargs="+", metavar="ID", help="arXiv ids of stored papers voted 'less'"
        )
        parser.add_argument(
            "--seeds",
            metavar="FILE",
            help="seed papers: a text file of arXiv ids or links, or a BibTeX export",
        )
        parser.add_argument(
            "--readers",
            metavar="FILE.json",
            help=(
                "a JSON list of readers, each an object with optional interests (text), liked, "
                "disliked, seeds (lists of arXiv ids)"
            ),
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
        limit = _limit(options["limit"])
        day = _date(options["date"]) if options["date"] else None
        readers = self._readers(options)
        if options["readers"] is None and not readers[0].learns and options["from_file"]:
            # An interests text alone, ranked over a file: the database is not read at all.
            papers = _candidates(options["from_file"], day)
            rankings = [candidates_rank(interests=readers[0].interests, papers=papers, limit=limit)]
        else:
            stored = _papers_stored([arxiv_id for reader in readers for arxiv_id in reader.ids])
            papers = _candidates(options["from_file"], day)
            rankings = _rankings(readers, papers=papers, stored=stored, limit=limit)
        self._print(rankings, options, readers=readers)

    def _readers(self, options: dict[str, Any]) -> list[Reader]:
        """The readers the options describe: one, or the --readers file's."""
        single = [options[name] for name in ("interests", "liked", "disliked", "seeds")]
        if options["readers"] is not None:
            if any(value is not None for value in single):
                raise CommandError(
                    "--readers cannot be combined with --interests, --liked, --disliked or "
                    "--seeds: give each reader's in the file"
                )
            return readers_load(options["readers"])
        interests, liked, disliked, seeds_path = single
        if interests is None and not liked and seeds_path is None:
            raise CommandError("give --interests, --liked or --seeds (or --readers FILE.json)")
        seeds: list[str | TextSeed] = []
        if seeds_path is not None:
            seeds, skipped = seeds_load(seeds_path)
            if skipped:
                self.stderr.write(
                    f"--seeds: {skipped} BibTeX entries skipped (no arXiv id, and no abstract)"
                )
        reader = Reader(
            interests=_interests(interests or "", option="--interests"),
            liked=tuple(arxiv_ids_parse(liked, option="--liked") if liked else ()),
            disliked=tuple(arxiv_ids_parse(disliked, option="--disliked") if disliked else ()),
            seeds=tuple(seeds),
        )
        _votes_check(reader, where="")
        return [reader]

    def _print(
        self,
        rankings: list[list[Ranked]],
        options: dict[str, Any],
        *,
        readers: Sequence[Reader],
    ) -> None:
        if options["readers"] is None:
            self._print_one(rankings[0], as_json=options["json"])
            return
        if options["json"]:
            output = [[_as_dict(r) for r in ranked] for ranked in rankings]
            self.stdout.write(json.dumps(output, ensure_ascii=False, indent=2))
            return
        for number, (reader, ranked) in enumerate(zip(readers, rankings, strict=True), start=1):
            if number > 1:
                self.stdout.write("")
            self.stdout.write(f"== Reader {number} of {len(readers)}: {reader.describe()}")
            self._print_one(
                ranked, as_json=False, cold=not (reader.interests.strip() or reader.learns)
            )

    def _print_one(self, ranked: list[Ranked], *, as_json: bool, cold: bool = False) -> None:
        if as_json:
            self.stdout.write(
                json.dumps([_as_dict(r) for r in ranked], ensure_ascii=False, indent=2)
            )
            return
        if cold:
            self.stdout.write("No interests, votes or seeds: today's top trending papers:")
        elif ranked and ranked[0].fallback:
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


def _interests(interests: str, *, option: str) -> str:
    if len(interests) > MAX_INTERESTS_CHARS:
        raise CommandError(
            f"{option} is too long ({len(interests)} characters, at most {MAX_INTERESTS_CHARS})"
        )
    return interests


# --- Readers, seeds -------------------------------------------------------------------------


def seeds_load(path: str) -> tuple[list[str | TextSeed], int]:
    """The seeds in a file of arXiv ids or links, or in a BibTeX export; and entries skipped."""
    data = file_read(path, option="--seeds", max_bytes=BIBTEX_MAX_BYTES)
    if not data.strip():
        raise CommandError(f"--seeds: {path} is empty")
    if b"\x00" in data:
        raise CommandError(
            f"--seeds: {path} is not a text file of arXiv ids or BibTeX (it is binary data)"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CommandError(f"--seeds: {path} is not UTF-8 text") from None
    try:
        if _BIBTEX_ENTRY.search(text):
            result = bibtex_parse(data)
            seeds = [
                s.arxiv_id or TextSeed(title=s.title, abstract=s.abstract) for s in result.seeds
            ]
            return seeds, result.skipped
        # A list of ids may have blank lines and "#" comments.
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        return list(ids_parse("\n".join(lines))), 0
    except SeedError as exc:
        raise CommandError(f"--seeds: {path}: {exc}") from None


def readers_load(path: str) -> list[Reader]:
    """The readers of a --readers JSON file, checked strictly; CommandError names what is wrong."""
    data = file_read(path, option="--readers", max_bytes=READERS_MAX_BYTES)
    if not data.strip():
        raise CommandError(f"--readers: {path} is empty")
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise CommandError(f"--readers: {path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"--readers: {path} is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})"
        ) from None
    except (ValueError, RecursionError):
        # Numbers of thousands of digits, or arrays nested thousands deep.
        raise CommandError(f"--readers: {path} is not JSON that can be read") from None
    if not isinstance(raw, list):
        raise CommandError(
            f"--readers: {path} must hold a JSON list of readers, not {_json_type(raw)}"
        )
    if not raw:
        raise CommandError(f"--readers: {path} holds no readers (an empty list)")
    if len(raw) > READERS_MAX:
        raise CommandError(
            f"--readers: {path} holds {len(raw):,} readers, at most {READERS_MAX:,} at a time"
        )
    return [_reader_parse(item, where=f"readers[{index}]") for index, item in enumerate(raw)]


def _reader_parse(item: object, *, where: str) -> Reader:
    if not isinstance(item, dict):
        raise CommandError(
            f"--readers: {where} must be an object with {', '.join(READER_KEYS)}, "
            f"not {_json_type(item)}"
        )
    unknown = sorted(set(item) - set(READER_KEYS))
    if unknown:
        raise CommandError(
            f"--readers: {where} has unknown key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(_shorten(str(k))) for k in unknown)}; "
            f"the keys are {', '.join(READER_KEYS)}"
        )
    interests = item.get("interests", "")
    if not isinstance(interests, str):
        raise CommandError(
            f"--readers: {where}.interests must be text, not {_json_type(interests)}"
        )
    reader = Reader(
        interests=_interests(interests, option=f"--readers: {where}.interests"),
        liked=_ids_field(item, "liked", where=where, most=IDS_MAX_ITEMS),
        disliked=_ids_field(item, "disliked", where=where, most=IDS_MAX_ITEMS),
        seeds=_ids_field(item, "seeds", where=where, most=SEEDS_MAX),
    )
    _votes_check(reader, where=f"{where}: ")
    return reader


def _ids_field(item: dict[str, Any], key: str, *, where: str, most: int) -> tuple[str, ...]:
    values = item.get(key, [])
    if not isinstance(values, list):
        raise CommandError(
            f"--readers: {where}.{key} must be a list of arXiv ids, not {_json_type(values)}"
        )
    if len(values) > most:
        raise CommandError(f"--readers: {where}.{key} has {len(values):,} ids, at most {most:,}")
    ids: dict[str, None] = {}
    for index, value in enumerate(values):
        arxiv_id = arxiv_id_from_item(value) if isinstance(value, str) else None
        if arxiv_id is None:
            shown = repr(_shorten(value)) if isinstance(value, str) else _json_type(value)
            raise CommandError(
                f"--readers: {where}.{key}[{index}] is not an arXiv id or link: {shown}"
            )
        ids.setdefault(arxiv_id)
    return tuple(ids)


def _votes_check(reader: Reader, *, where: str) -> None:
    both = sorted(set(reader.liked) & set(reader.disliked))
    if both:
        raise CommandError(f"{where}{', '.join(both)} both liked and disliked")


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def _shorten(text: str, limit: int = 40) -> str:
    printable = "".join(ch if ch.isprintable() else "?" for ch in text)
    return printable if len(printable) <= limit else printable[: limit - 1] + "…"


def _papers_stored(ids: Iterable[str]) -> dict[str, Paper]:
    """The stored papers of these ids; CommandError naming those that are not stored."""
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > NAMED_MAX:
        raise CommandError(
            f"the readers name {len(wanted):,} different papers, at most {NAMED_MAX:,} at a time"
        )
    found: dict[str, Paper] = {}
    for start in range(0, len(wanted), _QUERY_CHUNK):
        chunk = wanted[start : start + _QUERY_CHUNK]
        found.update((p.arxiv_id, p) for p in Paper.objects.filter(arxiv_id__in=chunk))
    missing = [arxiv_id for arxiv_id in wanted if arxiv_id not in found]
    if missing:
        more = f" and {len(missing) - MISSING_SHOWN} more" if len(missing) > MISSING_SHOWN else ""
        raise CommandError(
            f"not stored: {', '.join(missing[:MISSING_SHOWN])}{more}; fetch them first "
            "(manage.py fetch_papers --source hf --date DAY for their day, or --from-file "
            "with a saved HF or arXiv response that holds them)"
        )
    return found


# --- Candidates, rankings -------------------------------------------------------------------


def _candidates(from_file: str | None, day: dt.date | None) -> Sequence[PaperLike]:
    if from_file:
        return _from_file(Path(from_file), day)
    return _from_database(day)


def _rankings(
    readers: Sequence[Reader],
    *,
    papers: Sequence[PaperLike],
    stored: dict[str, Paper],
    limit: int,
) -> list[list[Ranked]]:
    """Each reader's ranking over the same candidates, embedded once."""
    now = timezone.now()
    _vectors_warm(readers, papers=papers, stored=stored)
    pool = CandidatePool(papers, papers_vectors(papers=papers))
    return [_reader_rank(pool, reader, stored=stored, limit=limit, now=now) for reader in readers]


def _reader_rank(
    pool: CandidatePool,
    reader: Reader,
    *,
    stored: dict[str, Paper],
    limit: int,
    now: dt.datetime,
) -> list[Ranked]:
    """One reader's ranking, by the learned profile when they named papers (votes cast `now`)."""
    profile = None
    if reader.learns:
        profile = profile_build(
            interests=reader.interests,
            liked=[(stored[a], now) for a in reader.liked],
            disliked=[(stored[a], now) for a in reader.disliked],
            seeds=[stored[s] if isinstance(s, str) else s for s in reader.seeds],
            now=now,
        )
    return pool.rank(
        interests=reader.interests,
        limit=limit,
        exclude_ids={*reader.liked, *reader.disliked},
        facet_vectors=facets_vectors(interests=reader.interests),
        profile=profile,
    )


def _vectors_warm(
    readers: Sequence[Reader], *, papers: Sequence[PaperLike], stored: dict[str, Paper]
) -> None:
    """Embed in one batch every text the rankings will need, so the model runs once.

    That is the candidates, the papers and texts the readers name, their interests' facets and,
    when a profile is learned, the recent papers it takes as weak negatives (digest.profiles).
    """
    texts = [paper_text(p) for p in papers]
    texts += [paper_text(p) for p in stored.values()]
    texts += [paper_text(s) for r in readers for s in r.seeds if isinstance(s, TextSeed)]
    texts += [facet for r in readers for facet in interests_facets(r.interests)]
    if any(r.learns for r in readers):
        most_named = max(len(r.ids) for r in readers)
        recent = Paper.objects.order_by("-first_seen_at", "-id")
        texts += [paper_text(p) for p in recent[: learning.BACKGROUND_PAPERS + most_named]]
    unique = list(dict.fromkeys(texts))
    # In batches a process's vector cache holds (20,000, digest.vectors) many times over.
    for start in range(0, len(unique), _EMBED_BATCH):
        vectors_get(texts=unique[start : start + _EMBED_BATCH])


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
