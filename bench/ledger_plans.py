"""Ledger benchmark: the queries of the tick, the claim, a batch, the admin and the pruning, with
their plans and times, over millions of delivery rows, on PostgreSQL.

    python bench/ledger_plans.py                       (make bench: 1,000,000 readers x 10 issues)
    python bench/ledger_plans.py --readers 100000 --issues 10 [--reuse]

Loads `--readers` active readers and `--issues` daily issues: the older ones sent (a row per reader
each, papers recorded, the oldest past the retention), today's made due by the real fan-out
(ledger.deliveries_create_all). Then each operation runs for real (inside a transaction that is
rolled back, so every phase sees the same table) and each of its queries is shown with
EXPLAIN (ANALYZE, BUFFERS): first on the freshly loaded table (no ANALYZE yet: what the first
batches after a big fan-out meet), then after ANALYZE. A query that reads the ledger with a
sequential scan is flagged. Prints one JSON line: each operation's milliseconds by phase and
whether any of its plans scanned the ledger sequentially.

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/paperboy_bench_ledger; the
database is created if missing and migrated; its readers, issues and deliveries are replaced).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _db import database_ensure  # bench/_db.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/paperboy_bench_ledger")
os.environ.setdefault("LOG_LEVEL", "WARNING")

BATCH = 500
# Marks the operations that count every row of an issue by design (a million at a million
# readers): PostgreSQL rightly reads them sequentially when an issue is a tenth of the table.
# Every other operation must touch a bounded number of rows through an index.
WHOLE = "[whole issue]"
PAPERS = '["2611.00001", "2611.00002", "2611.00003", "2611.00004", "2611.00005"]'


class _RollbackError(Exception):
    pass


def load(*, readers: int, issues: int, now: dt.datetime) -> dict[str, float]:
    """Replace the readers, issues and deliveries; seconds per step."""
    from django.db import connection

    from digest import ledger
    from digest.models import Delivery, Issue, IssueStatus
    from subscriptions.models import Subscriber

    timings: dict[str, float] = {}
    delivery, subscriber = Delivery._meta.db_table, Subscriber._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {subscriber}, {Issue._meta.db_table} CASCADE")
        # No ANALYZE behind our back: the first phase is the freshly loaded table.
        for table in (delivery, subscriber):
            cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        started = time.perf_counter()
        cursor.execute(
            f"INSERT INTO {subscriber} (email, interests, categories, frequency, digest_size, "  # noqa: S608
            "delivery_hour, timezone, status, confirmed_at, pending_email, soft_bounces, "
            "created_at, updated_at, less_of, feed_key, via) "
            "SELECT 'reader' || g || '@bench.example', 'sparse attention', '[]', 'daily', 5, "
            "g %% 24, 'UTC', 'active', %s, '', 0, %s, %s, '', md5(g::text), 'email' "
            "FROM generate_series(1, %s) g",
            [now, now, now, readers],
        )
        timings["readers_insert_s"] = time.perf_counter() - started
    today = now.date()
    made = []
    for back in range(issues):
        # The oldest issue lies past the retention (it is what the pruning finds).
        days = settings_retention() + 10 if back == issues - 1 and issues > 1 else back
        day = today - dt.timedelta(days=days)
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        made.append(
            Issue.objects.create(
                date=day,
                status=IssueStatus.SENDING if back == 0 else IssueStatus.SENT,
                window_start=start - dt.timedelta(days=1),
                window_end=start,
                sending_at=start,
            )
        )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for issue in made[1:]:
            created = dt.datetime.combine(issue.date, dt.time(8), tzinfo=dt.UTC)
            cursor.execute(
                f"INSERT INTO {delivery} (issue_id, subscriber_id, status, attempts, message_id, "  # noqa: S608
                "papers, reasons, notices, error, sent_at, created_at, updated_at) "
                f"SELECT %s, s.id, 'sent', 1, 'bench-' || s.id, %s, '[]', '[]', '', %s, %s, %s "
                f"FROM {subscriber} s",
                [issue.pk, PAPERS, created, created, created],
            )
    timings["past_deliveries_insert_s"] = time.perf_counter() - started
    started = time.perf_counter()
    ledger.deliveries_create_all(issue=made[0], now=now)
    timings["fan_out_s"] = time.perf_counter() - started
    started = time.perf_counter()
    ledger.issue_counts_keep(issue_ids=[issue.pk for issue in made[1:]])
    timings["keep_figures_s"] = time.perf_counter() - started
    return timings


def settings_retention() -> int:
    from django.conf import settings

    return int(settings.PAPERBOY_DELIVERY_RETENTION_DAYS)


def operations(now: dt.datetime) -> list[tuple[str, Callable[[], Any]]]:
    """(name, call) of each operation measured, in the order a day runs them."""

    from digest import ledger, retention, sending
    from digest.models import Issue, IssueStatus
    from digest.selectors import issue_counts, issue_counts_by_id

    today = Issue.objects.get(status=IssueStatus.SENDING)
    state: dict[str, Any] = {}

    def claim() -> None:
        state["claim"], state["claimed"] = ledger.delivery_claim(
            issue_id=today.pk, limit=BATCH, now=now
        )

    def readers() -> None:
        sending._readers_reread(state["claim"], state["claimed"])

    def history() -> None:
        ledger.history_read(
            subscriber_ids=[c.subscriber_id for c in state["claimed"]],
            except_issue_id=today.pk,
            now=now,
        )

    def record() -> None:
        ledger.delivery_record(
            claim=state["claim"],
            outcomes=[
                ledger.Outcome(c.delivery_id, "sent", message_id=str(uuid.uuid4()), papers=("x",))
                for c in state["claimed"]
            ],
            now=now,
        )

    latest = list(Issue.objects.order_by("-date")[:30])
    recent_sent = list(
        Issue.objects.filter(
            status=IssueStatus.SENT, date__gte=retention.retention_cutoff(now=now)
        ).values_list("pk", flat=True)
    )
    return [
        ("tick: make readers due (all already are)", lambda: ledger.deliveries_create_due(now=now)),
        ("tick: recover stuck claims", lambda: ledger.deliveries_recover_stuck(now=now)),
        ("tick: close finished issues", lambda: ledger.issues_close(now=now)),
        (f"batch: claim {BATCH}", claim),
        ("batch: its readers, through the claim", readers),
        ("batch: their history, a lookup per reader", history),
        (f"batch: record {BATCH} outcomes", record),
        (f"{WHOLE} admin: the sending issue's page figures", lambda: issue_counts(issue=today)),
        (
            f"{WHOLE} admin: the issue list's figures (30 issues, one still sending)",
            lambda: issue_counts_by_id(issues=latest),
        ),
        (
            f"{WHOLE} nightly: refresh the figures of the sent issues of 14 days",
            lambda: ledger.issue_counts_keep(issue_ids=recent_sent),
        ),
        (
            f"{WHOLE} nightly: keep for good the figures of the issue past the retention",
            lambda: retention.ledger_prune(now=now, max_batches=0, refresh=False),
        ),
        (
            "nightly: prune 20 batches of 5,000",
            lambda: retention.ledger_prune(now=now, max_batches=20, refresh=False),
        ),
    ]


def _scans(plan: dict[str, Any]) -> list[str]:
    """Each scan node of a JSON plan: 'Seq Scan on table' or 'Index Scan using index'."""
    found = []
    node_type = plan.get("Node Type", "")
    if "Scan" in node_type and ("Relation Name" in plan or "Index Name" in plan):
        where = plan.get("Index Name") or plan.get("Relation Name")
        found.append(f"{node_type} {'using' if 'Index Name' in plan else 'on'} {where}")
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


def measure(now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Each operation once, for real, then each of its queries under EXPLAIN ANALYZE; undone."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from digest.models import Delivery

    ledger_table = Delivery._meta.db_table
    results: dict[str, dict[str, Any]] = {}
    try:
        with transaction.atomic():
            for name, call in operations(now):
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    call()
                    elapsed = (time.perf_counter() - started) * 1000
                queries = [q["sql"] for q in captured.captured_queries]
                plans = []
                for sql in queries:
                    if sql.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
                        continue
                    with transaction.atomic(), connection.cursor() as cursor:
                        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
                        (document,) = cursor.fetchone()
                        transaction.set_rollback(True)
                    plan = (json.loads(document) if isinstance(document, str) else document)[0]
                    plans.append(
                        {
                            "ms": round(plan["Execution Time"], 1),
                            "scans": _scans(plan["Plan"]),
                        }
                    )
                seq = not name.startswith(WHOLE) and any(
                    f"Seq Scan on {ledger_table}" in s for p in plans for s in p["scans"]
                )
                results[name] = {
                    "ms": round(elapsed, 1),
                    "queries": len(plans),
                    "ledger_seq_scan": seq,
                    "plans": plans,
                }
            raise _RollbackError
    except _RollbackError:
        pass
    return results


def report(phase: str, results: dict[str, dict[str, Any]]) -> None:
    print(f"-- {phase}")
    for name, result in results.items():
        flag = "  << sequential scan of the ledger" if result["ledger_seq_scan"] else ""
        print(f"  {result['ms']:>9.1f} ms  {name} ({result['queries']} queries){flag}")
        shapes: dict[str, list[float]] = {}
        for plan in result["plans"]:
            scans = ", ".join(dict.fromkeys(plan["scans"])) or "no table scan"
            shapes.setdefault(scans, []).append(plan["ms"])
        for scans, times in shapes.items():
            times_text = f"{sum(times):>8.1f} ms" + (f" in {len(times)}" if len(times) > 1 else "")
            print(f"  {'':>9}     {times_text}  {scans}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=1_000_000)
    parser.add_argument("--issues", type=int, default=10, help="a row per reader each")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded rows (no load)")
    args = parser.parse_args()
    if not os.environ["DATABASE_URL"].startswith("postgres"):
        raise SystemExit("this benchmark needs PostgreSQL (DATABASE_URL=postgres://...)")
    database_ensure(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from digest.models import Delivery
    from subscriptions.models import Subscriber

    call_command("migrate", verbosity=0)
    now = dt.datetime.now(tz=dt.UTC).replace(hour=23, minute=30, second=0, microsecond=0)
    timings: dict[str, float] = {}
    if not args.reuse:
        print(f"== loading {args.readers:,} readers x {args.issues} issues")
        timings = load(readers=args.readers, issues=args.issues, now=now)
        for name, seconds in timings.items():
            print(f"  {name}: {seconds:.1f}")
    rows = Delivery.objects.count()
    print(f"== {rows:,} delivery rows, {Subscriber.objects.count():,} readers")
    figures: dict[str, dict[str, Any]] = {}
    fresh = measure(now) if not args.reuse else {}
    if fresh:
        report("freshly loaded (not analyzed)", fresh)
    with connection.cursor() as cursor:
        for table in (Delivery._meta.db_table, Subscriber._meta.db_table):
            cursor.execute(f"ANALYZE {table}")
            cursor.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")
    analyzed = measure(now)
    report("analyzed", analyzed)
    for name in analyzed:
        figures[name] = {
            "fresh_ms": fresh[name]["ms"] if name in fresh else None,
            "analyzed_ms": analyzed[name]["ms"],
            "ledger_seq_scan": bool(
                analyzed[name]["ledger_seq_scan"] or (fresh.get(name) or {}).get("ledger_seq_scan")
            ),
        }
    print(
        json.dumps(
            {
                "delivery_rows": rows,
                "load_s": {k: round(v, 1) for k, v in timings.items()},
                "ledger_seq_scans": sum(f["ledger_seq_scan"] for f in figures.values()),
                "operations": figures,
            }
        )
    )


if __name__ == "__main__":
    main()
