"""Send benchmark: one issue to N active readers with varied interests, end to end, on PostgreSQL.

    python bench/send_digest.py                          (make bench: 10,000 then 100,000)
    python bench/send_digest.py --subscribers 10000 [--batch-size 500] [--workers 2]

End to end means what a worker does for every batch: claim the rows (one UPDATE … SKIP
LOCKED), re-read the readers, read what they were sent before, rank the issue's candidates for
each reader (stored MiniLM vectors + BM25 + votes), assemble their email from the issue's
pre-rendered frame, sign their links, hand the batch to Anymail's test backend in one batch
call (merge_data, merge_headers, merge_metadata), and record the outcome (one UPDATE). The
test backend keeps every message it is given in django.core.mail.outbox; the benchmark empties
it after each batch, as a real provider's client would not keep them either.

`--workers` processes (default: the CPU count) share the issue the way Celery workers would.
Prints the figures, then one JSON line: digests_per_s, queries_per_batch, peak_rss_mb (the
largest worker's peak), per size, and where a steady batch's time goes: its median, and the
milliseconds of each of its queries (claim, readers, profiles, history, record) per batch. Also
how long a new interests text takes to rank one day's candidates (model already loaded: embed
the text, then rank).
`--voters` of the readers (default 30%) have a learned profile fit on `--votes` votes (default
50), which sending reads in one more query per batch.
Targets on a 2-core machine: >= 2,000 digests/s, <= 6 queries per batch, memory flat in N.

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/paperboy_bench_send; the
database is created if missing and migrated; its readers and deliveries are replaced).
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import random
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _db import database_ensure  # bench/_db.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/paperboy_bench_send")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["EMAIL_BACKEND"] = "anymail.backends.test.EmailBackend"
os.environ.pop("EMAIL_PROVIDER", None)
os.environ["PAPERBOY_EMBED_ON_CHANGE"] = "false"

TARGET_DIGESTS_PER_S = 2_000
TARGET_QUERIES_PER_BATCH = 6
CANDIDATES = 100
PROFILES = 200  # distinct learned profiles, shared out among the readers who have one
TOPICS = [
    "pose estimation", "3D human pose", "speech recognition", "text to speech",
    "robot manipulation", "robot learning", "video generation", "image generation",
    "diffusion models", "large language models", "LLM agents", "tool use",
    "reinforcement learning from human feedback", "reasoning", "math reasoning", "code generation",
    "retrieval augmented generation", "information retrieval", "recommendation",
    "efficient inference", "quantization", "model compression", "mixture of experts",
    "long context", "multimodal models", "vision language models", "object detection",
    "segmentation", "medical imaging", "protein structure", "drug discovery", "weather forecasting",
    "time series", "graph neural networks", "federated learning", "privacy", "AI safety",
    "alignment", "interpretability", "hallucination", "benchmarks", "datasets", "evaluation",
    "machine translation", "low-resource languages", "audio generation", "music generation",
    "3D reconstruction", "gaussian splatting", "NeRF", "autonomous driving", "world models",
    "embodied AI", "web agents", "GUI agents", "scientific discovery", "theorem proving",
    "optimization", "scaling laws", "pretraining data",
]  # fmt: skip


def interests_pool(count: int, rng: random.Random) -> list[str]:
    """`count` distinct interests texts: one to three topics, joined the ways readers list them."""
    texts: set[str] = set()
    joins = [", ", " and ", "; ", "\n"]
    while len(texts) < count:
        topics = rng.sample(TOPICS, rng.choice([1, 1, 2, 2, 3]))
        texts.add(rng.choice(joins).join(topics) if len(topics) > 1 else topics[0])
    return sorted(texts)


def data_setup(*, subscribers: int, distinct: int, voters: float, votes: int) -> int:
    """Papers, the issue, its stored vectors and `subscribers` active readers; the issue id."""
    import datetime as dt

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from digest import vectors
    from digest.models import Delivery, Issue
    from papers.models import Paper
    from subscriptions.models import Subscriber

    call_command("migrate", verbosity=0)
    if Paper.objects.count() < CANDIDATES:
        call_command("load_sample", verbosity=0)
    # One day's candidates: the sample's 100 most upvoted papers (a busy HF day has 50-100).
    candidates = list(Paper.objects.order_by("-upvotes", "arxiv_id")[:CANDIDATES])
    day = dt.date(2026, 11, 24)
    Issue.objects.filter(date=day).delete()  # cascades to its deliveries
    issue = Issue.objects.create(
        date=day,
        window_start=dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
        window_end=dt.datetime(2026, 11, 24, tzinfo=dt.UTC),
        candidate_ids=[p.arxiv_id for p in candidates],
        new_papers=len(candidates),
    )
    rng = random.Random(7)
    pool = interests_pool(distinct, rng)
    started = time.perf_counter()
    vectors.papers_vectors(papers=candidates)
    vectors.interests_texts_store(interests=pool)
    print(
        f"  vectors ready ({len(pool)} distinct interests texts) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    if Subscriber.objects.count() != subscribers:
        started = time.perf_counter()
        Delivery.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Subscriber._meta.db_table} CASCADE")
        now = timezone.now()
        rows = (
            Subscriber(
                email=f"reader{i}@bench.example",
                interests=pool[i % len(pool)] if i % 10 else "",  # one in ten left it empty
                digest_size=rng.choice([3, 5, 5, 5, 10]),
                status=Subscriber.Status.ACTIVE,
                confirmed_at=now,
            )
            for i in range(subscribers)
        )
        while chunk := list(itertools.islice(rows, 5_000)):
            Subscriber.objects.bulk_create(chunk)
        print(f"  {subscribers:,} readers inserted in {time.perf_counter() - started:.1f} s")
    profiles_setup(share=voters, votes=votes, pool=pool, rng=rng)
    return issue.pk


def profiles_setup(*, share: float, votes: int, pool: list[str], rng: random.Random) -> None:
    """Learned profiles for `share` of the readers, each fit on `votes` votes (70% "more").

    Fit as the worker fits them (digest.learning) on stored papers' vectors; PROFILES distinct
    profiles are fit and shared out, since fitting one per reader would take the setup minutes
    and sending reads a profile the same way whoever else has the same one.
    """
    import numpy as np

    from digest import learning, profiles, vectors
    from digest.models import ReaderProfile
    from papers.models import Paper
    from subscriptions.models import Subscriber

    started = time.perf_counter()
    ReaderProfile.objects.all().delete()
    ids = list(Subscriber.objects.order_by("pk").values_list("pk", flat=True))
    chosen = [pk for i, pk in enumerate(ids) if (i * 7919) % 100 < share * 100]
    if not chosen or votes <= 0:
        return
    papers = list(Paper.objects.order_by("arxiv_id")[:2_000])
    paper_vectors = vectors.papers_vectors(papers=papers)
    background = paper_vectors[rng.sample(range(len(papers)), learning.BACKGROUND_PAPERS)]
    fitted = []
    for k in range(PROFILES):
        picked = rng.sample(range(len(papers)), votes)
        up, down = picked[: votes * 7 // 10], picked[votes * 7 // 10 :]
        signals = learning.Signals(
            facets=vectors.facets_vectors(interests=pool[k % len(pool)]),
            seeds=learning.empty(),
            liked=paper_vectors[up],
            liked_weights=np.ones(len(up)),
            disliked=paper_vectors[down],
            disliked_weights=np.ones(len(down)),
            less=learning.empty(),
            background=background,
        )
        examples = [
            learning.Example(learning.ExampleKind.LIKED, papers[i].arxiv_id, papers[i].title)
            for i in up
        ][: learning.EXAMPLES_MAX]
        profile = learning.profile_learn(
            signals, examples=examples, example_vectors=paper_vectors[up][: len(examples)]
        )
        fitted.append(profiles.profile_fields(profile))
    rows = (
        ReaderProfile(subscriber_id=pk, **fitted[i % len(fitted)]) for i, pk in enumerate(chosen)
    )
    while chunk := list(itertools.islice(rows, 2_000)):
        ReaderProfile.objects.bulk_create(chunk)
    print(
        f"  {len(chosen):,} readers ({share:.0%}) with a learned profile of {votes} votes, "
        f"in {time.perf_counter() - started:.1f} s"
    )


def send_worker(
    issue_id: int, batch_size: int, ready: Any, start: Any, results: multiprocessing.Queue
) -> None:
    """One sending process: batches until none is left; reports sizes, query counts, peak memory."""
    import django

    django.setup()
    from django.core import mail
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from digest.sending import deliveries_send_batch

    # Started like a worker that was already up: imports done, then the clock starts for everyone.
    ready.release()
    start.wait()

    batches: list[tuple[int, int]] = []
    database_ms: dict[str, float] = {}  # by query_kind, over the steady batches
    batch_ms: list[float] = []
    while True:
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            result = deliveries_send_batch(issue_id=issue_id, batch_size=batch_size)
        mail.outbox = []
        count = len(queries)  # read before the clear below: it slices the connection's log
        if batches and result.claimed:  # the first batch also loads the issue: left out
            batch_ms.append((time.perf_counter() - started) * 1000)
            for query in queries.captured_queries:
                kind = query_kind(query["sql"])
                database_ms[kind] = database_ms.get(kind, 0.0) + float(query["time"]) * 1000
        # CaptureQueriesContext leaves every query it saw in the connection's log (up to 9,000,
        # each batch's outcome UPDATE carrying its 500 rows' papers): over a million readers
        # that log alone grew a worker past 1 GB. A worker keeps no such log.
        connection.queries_log.clear()
        if not result.claimed:
            break
        batches.append((result.claimed, count))
    results.put(
        {
            "batches": batches,
            "peak_rss_mb": peak_rss_mb(),
            "batch_ms": batch_ms,
            "database_ms": database_ms,
        }
    )


def query_kind(sql: str) -> str:
    """A batch's query by what it does: the claim, the record, the history, or its table."""
    if "UPDATE" in sql:  # the record's begins WITH its rows' new values
        return "claim" if "SKIP LOCKED" in sql else "record"
    if "LATERAL" in sql:
        return "history"
    table = re.search(r'FROM "?(\w+)"?', sql)
    return f"read {table.group(1)}" if table else sql[:30]


def peak_rss_mb() -> float:
    """This process's peak resident memory, in MB.

    VmHWM where Linux has it: ru_maxrss survives exec, so a spawned worker would report the
    parent's peak (which loads the model for the set-up) whenever that is higher than its own.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def workers_run(
    *, target: Callable[..., None], args: tuple[Any, ...], workers: int
) -> tuple[list[dict[str, Any]], float]:
    """Run `workers` processes of target(*args, ready, start, results), started on one signal.

    Fresh processes, as Celery workers would be: none inherits the model the set-up loaded. Each
    releases `ready` once imported, waits for `start`, and puts one report on `results`. Returns
    the reports and the seconds from the start to the last report.
    """
    from django.db import connections

    connections.close_all()  # each process opens its own
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()
    ready, start = context.Semaphore(0), context.Event()
    processes = [
        context.Process(target=target, args=(*args, ready, start, results)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire()
    started = time.perf_counter()
    start.set()
    reports = [results.get() for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    return reports, elapsed


def issue_send(*, issue_id: int, batch_size: int, workers: int) -> dict[str, Any]:
    from django.utils import timezone

    from digest import ledger
    from digest.models import Delivery, Issue

    issue = Issue.objects.get(pk=issue_id)
    started = time.perf_counter()
    due = ledger.deliveries_create_all(issue=issue, now=timezone.now())
    fan_out_s = time.perf_counter() - started
    reports, elapsed = workers_run(target=send_worker, args=(issue_id, batch_size), workers=workers)
    sent = Delivery.objects.filter(issue_id=issue_id, status="sent").count()
    batches = [b for r in reports for b in r["batches"]]
    # A process's first batch also loads the issue (candidates, vectors, frame): shown apart.
    firsts = [r["batches"][0][1] for r in reports if r["batches"]]
    steady = [q for r in reports for _, q in r["batches"][1:]]
    every_ms = [ms for r in reports for ms in r["batch_ms"]]
    return {
        "due": due,
        "sent": sent,
        "fan_out_s": round(fan_out_s, 2),
        "send_s": round(elapsed, 2),
        "digests_per_s": round(sent / elapsed, 1),
        "batches": len(batches),
        # The median: a process reloads the issue once a minute (IssueContext), which a long run's
        # maximum would show as a few more queries in one batch a minute.
        "queries_per_batch": statistics.median_low(steady) if steady else max(firsts, default=0),
        "queries_per_batch_max": max(steady, default=0),
        "queries_first_batch": max(firsts, default=0),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in reports), 1),
        # Where a steady batch's time goes: its median, and the database's share by query (mean).
        "batch_ms_median": round(statistics.median(every_ms), 1) if every_ms else 0.0,
        "database_ms_per_batch": {
            kind: round(sum(r["database_ms"].get(kind, 0.0) for r in reports) / len(every_ms), 1)
            for kind in sorted({kind for r in reports for kind in r["database_ms"]})
        }
        if every_ms
        else {},
    }


def rank_new_interests(*, issue_id: int) -> float:
    """Median ms to rank the issue's candidates for never-seen interests texts (model loaded)."""
    from digest import vectors
    from digest.sending import issue_context

    context = issue_context(issue_id=issue_id, fresh=True)
    vectors.facets_vectors(interests="warm-up text for the model")
    times = []
    for i in range(20):
        text = f"{random.choice(TOPICS)} for {random.choice(TOPICS)}, variant {i} {time.time_ns()}"
        started = time.perf_counter()
        facet_vectors = vectors.facets_vectors(interests=text)
        context.pool.rank(interests=text, limit=5, facet_vectors=facet_vectors)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--batch-size", type=int, default=500, help="readers per batch (Postmark's batch size)"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--distinct-interests", type=int, default=3_000)
    parser.add_argument(
        "--voters", type=float, default=0.3, help="share of readers with a learned profile"
    )
    parser.add_argument("--votes", type=int, default=50, help="votes behind each such profile")
    args = parser.parse_args()
    if not os.environ["DATABASE_URL"].startswith("postgres"):
        raise SystemExit("this benchmark needs PostgreSQL (DATABASE_URL=postgres://...)")
    database_ensure(os.environ["DATABASE_URL"])
    import django

    django.setup()
    figures: dict[str, object] = {}
    issue_id = 0
    for n in args.subscribers:
        print(f"== {n:,} readers, batches of {args.batch_size}, {args.workers} worker processes")
        issue_id = data_setup(
            subscribers=n, distinct=args.distinct_interests, voters=args.voters, votes=args.votes
        )
        result = issue_send(issue_id=issue_id, batch_size=args.batch_size, workers=args.workers)
        print(
            f"  sent {result['sent']:,} of {result['due']:,} due in {result['send_s']} s: "
            f"{result['digests_per_s']:,} digests/s (target >= {TARGET_DIGESTS_PER_S:,}); "
            f"making them due took {result['fan_out_s']} s"
        )
        print(
            f"  queries per batch: {result['queries_per_batch']} (median; "
            f"at most {result['queries_per_batch_max']} when a process reloads the issue) "
            f"(target <= {TARGET_QUERIES_PER_BATCH}; "
            f"a process's first batch, which also loads the issue: "
            f"{result['queries_first_batch']}); "
            f"peak worker RSS {result['peak_rss_mb']} MB"
        )
        database = ", ".join(f"{k} {v}" for k, v in result["database_ms_per_batch"].items())
        print(f"  a batch: median {result['batch_ms_median']} ms; in the database (ms): {database}")
        figures[str(n)] = result
    import django.db

    django.db.connections.close_all()
    rank_ms = rank_new_interests(issue_id=issue_id)
    print(
        f"rank one day's {CANDIDATES} candidates for a new interests text (embed + rank): "
        f"median {rank_ms} ms"
    )
    last = figures[str(args.subscribers[-1])]
    assert isinstance(last, dict)
    print(
        json.dumps(
            {
                "digests_per_s": last["digests_per_s"],
                "queries_per_batch": last["queries_per_batch"],
                "peak_rss_mb": last["peak_rss_mb"],
                "rank_new_interests_ms": rank_ms,
                "by_subscribers": figures,
            }
        )
    )


if __name__ == "__main__":
    main()
