"""Rate benchmark: one issue to N readers by W worker processes sharing a send rate through Redis.

    python bench/send_rate.py                      (make bench: 2,000 readers, about 45 s)
    python bench/send_rate.py --readers 10000 [--rate 50] [--workers 4]

Every worker process sends batches end to end as a Celery worker would (digest.sending: claim,
assemble, take the rate's tokens, hand over, record), all of them taking from one
PAPERBOY_SEND_RATE kept in Redis (digest.send_limits). Each records when the transport hands
each email to the provider (Anymail's test backend, one merged call per batch), and how long
after the tokens were taken that was.

Prints the most emails in any sliding 1-second window of those hand-over times (target: at most
the rate), the time the whole issue took against readers / rate, how many readers were lost
(due, never handed over) or duplicated (handed over twice), then one JSON line.

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/paperboy_bench_rate; the
database is created if missing and migrated; its readers and deliveries are replaced) and
REDIS_URL (default redis://127.0.0.1:6379/0; the run's keys have a prefix of their own and are
removed after).
"""

from __future__ import annotations

import argparse
import bisect
import collections
import json
import multiprocessing
import os
import sys
import time
import uuid
from typing import Any

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/paperboy_bench_rate")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")

# After the defaults above: the send benchmark's module sets its own when imported.
from _db import database_ensure  # noqa: E402  (bench/_db.py, beside this script)
from send_digest import (  # noqa: E402  (its readers, issue, workers, memory)
    data_setup,
    peak_rss_mb,
    workers_run,
)

DISTINCT_INTERESTS = 300  # the rate is measured here, not the ranking: fewer texts to embed


def rate_worker(
    issue_id: int, prefix: str, ready: Any, start: Any, results: multiprocessing.Queue
) -> None:
    """One sending process: batches until none is left, noting each hand-over to the provider."""
    import django

    django.setup()
    from django.core import mail

    from digest import send_limits, transport
    from digest.sending import deliveries_send_batch

    send_limits.KEY_PREFIX = prefix
    handed: list[tuple[float, list[int]]] = []
    delays: list[float] = []
    taken = [0.0]
    take, merged_send = send_limits.send_tokens_take, transport.MergedEmail.send

    def tokens_take(**kwargs: Any) -> send_limits.SendGrant:
        grant = take(**kwargs)
        taken[0] = time.time()
        return grant

    def send(self: transport.MergedEmail, **kwargs: Any) -> transport.Handover:
        at = time.time()
        handed.append((at, [d.claimed.delivery_id for d in kwargs["digests"]]))
        delays.append(at - taken[0])
        return merged_send(self, **kwargs)

    send_limits.send_tokens_take = tokens_take
    transport.MergedEmail.send = send  # type: ignore[method-assign]
    ready.release()
    start.wait()
    batches = 0
    while True:
        result = deliveries_send_batch(issue_id=issue_id)
        mail.outbox = []
        if result.wait is not None:  # as the task's new batch would, after the wait
            time.sleep(result.wait)
            continue
        if not result.claimed:
            break
        batches += 1
    results.put(
        {"handed": handed, "delays": delays, "batches": batches, "peak_rss_mb": peak_rss_mb()}
    )


def window_max(times: list[tuple[float, int]], seconds: float = 1.0) -> int:
    """The most emails handed over in any window [t, t + seconds) of these (time, count) events."""
    events = sorted(times)
    starts = [t for t, _ in events]
    totals = [0]
    for _, count in events:
        totals.append(totals[-1] + count)
    best = 0
    for i, (t, _) in enumerate(events):
        end = bisect.bisect_left(starts, t + seconds)
        best = max(best, totals[end] - totals[i])
    return best


def issue_send(*, issue_id: int, workers: int, prefix: str) -> dict[str, Any]:
    from django.utils import timezone

    from digest import ledger
    from digest.models import Delivery, Issue

    due = ledger.deliveries_create_all(issue=Issue.objects.get(pk=issue_id), now=timezone.now())
    reports, elapsed = workers_run(target=rate_worker, args=(issue_id, prefix), workers=workers)
    handed = [event for report in reports for event in report["handed"]]
    times = [(at, len(ids)) for at, ids in handed]
    seen = collections.Counter(i for _, ids in handed for i in ids)
    sent = set(
        Delivery.objects.filter(issue_id=issue_id, status="sent").values_list("pk", flat=True)
    )
    delays = sorted(d for report in reports for d in report["delays"])
    return {
        "due": due,
        "sent": len(sent),
        "handed_over": sum(seen.values()),
        "lost": due - len(set(seen) & sent),
        "duplicated": sum(count - 1 for count in seen.values() if count > 1),
        "max_in_1s_window": window_max(times),
        "send_s": round(elapsed, 1),
        "hand_over_span_s": round(max(t for t, _ in times) - min(t for t, _ in times), 1),
        "batches": sum(report["batches"] for report in reports),
        "token_to_provider_ms_p50": round(delays[len(delays) // 2] * 1000, 2),
        "token_to_provider_ms_max": round(delays[-1] * 1000, 2),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in reports), 1),
    }


def keys_remove(prefix: str) -> None:
    from digest import send_limits

    send_limits.KEY_PREFIX = prefix
    connection = send_limits._limiter().storage.get_connection()  # type: ignore[attr-defined]
    if keys := connection.keys(f"{prefix}:*"):
        connection.delete(*keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=2_000)
    parser.add_argument("--rate", type=int, default=50, help="PAPERBOY_SEND_RATE, per second")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    if not os.environ["DATABASE_URL"].startswith("postgres"):
        raise SystemExit("this benchmark needs PostgreSQL (DATABASE_URL=postgres://...)")
    if not os.environ["REDIS_URL"].startswith("redis"):
        raise SystemExit("this benchmark needs Redis (REDIS_URL=redis://...)")
    os.environ["PAPERBOY_SEND_RATE"] = str(args.rate)  # the workers read it too
    os.environ.pop("PAPERBOY_SEND_DAILY_CAP", None)
    os.environ.pop("PAPERBOY_SEND_WARMUP", None)
    database_ensure(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from digest import send_limits

    print(f"== {args.readers:,} readers at {args.rate}/s, {args.workers} worker processes")
    issue_id = data_setup(
        subscribers=args.readers, distinct=DISTINCT_INTERESTS, voters=0.0, votes=0
    )
    prefix = f"paperboy-bench-rate-{uuid.uuid4().hex}"
    try:
        result = issue_send(issue_id=issue_id, workers=args.workers, prefix=prefix)
    finally:
        keys_remove(prefix)
    nominal = args.readers / args.rate
    guarded = nominal * (1 + send_limits.RATE_GUARD_SECONDS)
    print(
        f"  most emails handed over in any 1-second window: {result['max_in_1s_window']} "
        f"(target <= {args.rate})"
    )
    print(
        f"  {result['sent']:,} of {result['due']:,} sent in {result['send_s']} s "
        f"(hand-overs span {result['hand_over_span_s']} s); the rate implies {nominal:.1f} s, "
        f"{guarded:.1f} s with the window's {send_limits.RATE_GUARD_SECONDS * 1000:.0f} ms guard"
    )
    print(
        f"  lost {result['lost']}, duplicated {result['duplicated']}; "
        f"{result['batches']} batches; tokens to provider: median "
        f"{result['token_to_provider_ms_p50']} ms, max {result['token_to_provider_ms_max']} ms"
    )
    print(json.dumps({"rate": args.rate, "workers": args.workers, **result}))
    if result["max_in_1s_window"] > args.rate or result["lost"] or result["duplicated"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
