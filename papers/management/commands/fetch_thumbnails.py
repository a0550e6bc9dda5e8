"""Fetch paper thumbnails now: those due (as the worker does after a fetch), or given ones again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from papers.selectors import paper_list_by_arxiv_ids
from papers.thumbnails import ThumbnailCounts, thumbnails_fetch_due, thumbnails_refetch


class Command(BaseCommand):
    help = (
        "Fetch and store the thumbnails of papers that have none yet; with arXiv ids, fetch "
        "those papers' thumbnails again whatever is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("arxiv_ids", nargs="*", help="papers to fetch again, e.g. 2511.14993")

    def handle(self, *args: Any, **options: Any) -> None:
        arxiv_ids: list[str] = options["arxiv_ids"]
        if not arxiv_ids:
            self._report(thumbnails_fetch_due())
            return
        papers = paper_list_by_arxiv_ids(arxiv_ids=arxiv_ids)
        unknown = sorted(set(arxiv_ids) - {paper.arxiv_id for paper in papers})
        if unknown:
            raise CommandError(f"no such paper: {', '.join(unknown)} (nothing was fetched)")
        self._report(thumbnails_refetch(papers=papers))

    def _report(self, counts: ThumbnailCounts) -> None:
        failed = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.failed.items()))
        self.stdout.write(f"{counts.stored} stored" + (f", failed: {failed}" if failed else ""))
