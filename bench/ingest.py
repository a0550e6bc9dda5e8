"""Ingest benchmark: 10,000 papers into PostgreSQL, then the same 10,000 again.

    python bench/ingest.py            (make bench)

Pass 1 creates every paper; pass 2 finds every one unchanged (only last_seen_at moves). Each
pass is one fetch: one transaction, as the fetch service runs it. Prints papers per second
and queries per 1,000 papers for each pass, then one JSON line for machines.
Targets: at least 2,000 papers/s and at most 10 queries per 1,000 papers on each pass.

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/paperboy_bench; the
database is created if missing, migrated, and its papers tables emptied first).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

from _db import database_ensure  # bench/_db.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/paperboy_bench")
os.environ.setdefault("LOG_LEVEL", "WARNING")

PAPERS = 10_000
TARGET_PAPERS_PER_S = 2_000
TARGET_QUERIES_PER_1000 = 10
SAMPLES = [
    ROOT / "papers/sample/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json",
    ROOT
    / "papers/sample/api_daily_papers_month-2025-09_sort-publishedAt_limit100_p5-lastpage.json",
]


def records_build(count: int) -> list:
    """`count` papers like the bundled sample's real HF items: new ids, same fields and sizes."""
    from papers.sources import hf_api

    base = [record for path in SAMPLES for record in hf_api.parse(path.read_bytes()).records]
    rng = random.Random(2)  # fixed: every run ingests the same data
    records = []
    for n in range(count):
        record = base[n % len(base)]
        # 2601.00000 … 2601.09999: valid five-digit ids of a month no sample paper is from.
        records.append(
            replace(
                record,
                arxiv_id=f"2601.{n:05d}",
                title=f"{record.title} ({n})",
                upvotes=rng.randint(0, 400),
                num_comments=rng.randint(0, 12),
            )
        )
    return records


def pass_run(records: list) -> dict[str, float]:
    """Ingest the records in one fetch (one transaction) and measure it."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from papers.ingest import papers_ingest, papers_search_index
    from papers.models import FetchRun, Source

    run = FetchRun.objects.create(source=Source.HF, params={"bench": True})
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        with transaction.atomic():
            counts = papers_ingest(records=records, fetch_run=run)
        elapsed = time.perf_counter() - started
    # The fetch service fills the search vectors right after the ingest commits: timed apart.
    started = time.perf_counter()
    indexed = papers_search_index()
    index_seconds = time.perf_counter() - started
    return {
        "indexed": indexed,
        "index_seconds": index_seconds,
        "end_to_end_papers_per_s": len(records) / (elapsed + index_seconds),
        "created": counts.created,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "skipped": counts.skipped,
        "seconds": elapsed,
        "papers_per_s": len(records) / elapsed,
        "queries": len(queries),
        "queries_per_1000": len(queries) / (len(records) / 1000),
    }


def tables_empty() -> None:
    from django.db import connection

    from papers.models import FetchRun, Paper, PaperMetric

    tables = [model._meta.db_table for model in (PaperMetric, Paper, FetchRun)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")


def main() -> int:
    database_ensure(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    tables_empty()
    records = records_build(PAPERS)

    first = pass_run(records)
    second = pass_run(records)

    print(
        f"ingest benchmark: {PAPERS:,} papers on {connection.vendor} "
        f"({connection.settings_dict['NAME']})"
    )
    print(
        f"{'pass':<22}{'created':>9}{'unchanged':>11}{'seconds':>9}{'papers/s':>10}{'queries':>9}{'q/1000':>8}"
    )
    for name, result in (("1: all new", first), ("2: same again", second)):
        print(
            f"{name:<22}{result['created']:>9,}{result['unchanged']:>11,}{result['seconds']:>9.2f}"
            f"{result['papers_per_s']:>10,.0f}{result['queries']:>9}{result['queries_per_1000']:>8.1f}"
        )
    for name, result in (("1: all new", first), ("2: same again", second)):
        print(
            f"pass {name}: search vectors filled after commit for {result['indexed']:,} papers in "
            f"{result['index_seconds']:.2f} s; "
            f"ingest + indexing {result['end_to_end_papers_per_s']:,.0f} papers/s"
        )
    print(
        f"targets: >= {TARGET_PAPERS_PER_S:,} papers/s "
        f"and <= {TARGET_QUERIES_PER_1000} queries per 1,000 papers"
    )

    correct = first["created"] == PAPERS and second["unchanged"] == PAPERS
    targets_met = correct and all(
        result["papers_per_s"] >= TARGET_PAPERS_PER_S
        and result["queries_per_1000"] <= TARGET_QUERIES_PER_1000
        for result in (first, second)
    )
    summary = {
        "bench": "ingest",
        "database": connection.vendor,
        "papers": PAPERS,
        "pass1_papers_per_s": round(first["papers_per_s"]),
        "pass1_queries_per_1000": round(first["queries_per_1000"], 2),
        "pass2_papers_per_s": round(second["papers_per_s"]),
        "pass2_queries_per_1000": round(second["queries_per_1000"], 2),
        "pass1_search_index_s": round(first["index_seconds"], 2),
        "pass1_end_to_end_papers_per_s": round(first["end_to_end_papers_per_s"]),
        "targets_met": targets_met,
    }
    print(json.dumps(summary))
    return 0 if targets_met else 1


if __name__ == "__main__":
    sys.exit(main())
