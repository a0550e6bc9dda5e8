"""Search benchmark: 10,000 papers, then a page of results for a few typical queries.

    python bench/search.py
    DATABASE_URL=sqlite:////tmp/paperboy_bench.sqlite3 python bench/search.py

A search page costs two queries: the true count and one page of results (paper_search, as the
search view pages it). Prints the median of each over several runs, for a common word, a rare
one, a phrase, an author and a title, then one JSON line for machines.
Target: every search page (count + page) in under 500 ms on 10,000 papers, even for a word
nine papers in ten have; a rarer query takes a tenth of that.

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/paperboy_bench; the
database is created if missing, migrated, and its papers tables emptied first).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

from _db import database_ensure  # bench/_db.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/paperboy_bench")
os.environ.setdefault("LOG_LEVEL", "WARNING")

PAPERS = 10_000
PAGE_SIZE = 20
RUNS = 7
TARGET_MS = 500.0
QUERIES = {
    "common word": "model",
    "two words": "diffusion video",
    "phrase": '"language model"',
    "rare word": "zeolite",
    "excluded": "reasoning -math",
}


def page_time(query: str) -> tuple[int, float]:
    """The match count and the median milliseconds of one search page (count, then the page)."""
    from papers.selectors import paper_search

    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        results = paper_search(query=query)
        total = results.count()
        list(results[:PAGE_SIZE])
        times.append((time.perf_counter() - started) * 1000)
    return total, statistics.median(times)


def main() -> int:
    database_ensure(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    # bench/ingest.py's builder: 10,000 papers like the bundled sample's real HF items.
    from ingest import records_build, tables_empty

    from papers.ingest import papers_ingest, papers_search_index
    from papers.models import Paper

    call_command("migrate", verbosity=0, interactive=False)
    tables_empty()
    records = records_build(PAPERS)
    started = time.perf_counter()
    with transaction.atomic():
        papers_ingest(records=records, fetch_run=None)
    papers_search_index()
    indexed_s = time.perf_counter() - started
    # A title of the data, as a reader pastes one (its first ten words).
    title = " ".join(
        Paper.objects.order_by("arxiv_id").values_list("title", flat=True)[0].split()[:10]
    )
    queries = {**QUERIES, "author": records[0].authors[-1], "title": title}

    print(f"search benchmark: {PAPERS:,} papers on {connection.vendor}")
    print(f"ingest and index: {indexed_s:.2f} s")
    print(f"{'query':<14}{'matches':>9}{'ms/page':>9}  text")
    results = {}
    for name, query in queries.items():
        total, ms = page_time(query)
        results[name] = {"matches": total, "ms": round(ms, 1)}
        print(f"{name:<14}{total:>9,}{ms:>9.1f}  {query[:50]}")
    slowest = max(result["ms"] for result in results.values())
    summary = {
        "bench": "search",
        "database": connection.vendor,
        "papers": PAPERS,
        "ingest_and_index_s": round(indexed_s, 2),
        "slowest_page_ms": slowest,
        "queries": results,
        "targets_met": slowest <= TARGET_MS,
    }
    print(json.dumps(summary))
    return 0 if summary["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
