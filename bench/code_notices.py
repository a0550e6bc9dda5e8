"""'Code is out' on a replay of the bundled sample: how many notices readers get, and none twice.

    python bench/code_notices.py

The bundled sample's November 2025 Hugging Face page (papers/sample/, 100 real papers over
several days) is replayed day by day, the way the worker meets papers: a paper is first fetched
on its day, and fetched again at the next day's fetch. No paper in the sample (nor in
tests/fixtures) was captured twice with different code links, so the replay takes the first
sighting without the
code link (as on a paper's first day, when Hugging Face's code link covers only a small share)
and the next day's sighting as captured, with its code link and stars. Between fetches, each
day's daily issue is built and sent, at 08:00 UTC, to ten readers of varied interests, ranked by
the real model, through the real batch and ledger (email to Django's in-memory backend).

Prints, per day, the digests sent and the "Since you read it" notices they carried, then the
totals: papers sent that gained code later, notices told, the most in one digest (at most 3),
papers told twice to one reader (must be 0), and papers never told (a backlog left when the
replay ends). Then one JSON line.

Environment: DATABASE_URL (default: a fresh SQLite file under /tmp).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_DB = Path(tempfile.gettempdir()) / "paperboy_bench_notices.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_DB}")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
os.environ.setdefault("PAPERBOY_EMBED_ON_CHANGE", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")

SAMPLE = ROOT / "papers/sample/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json"
INTERESTS = (
    "video generation and diffusion models",
    "efficient LLM inference, quantization",
    "reinforcement learning for LLM reasoning",
    "AI agents and tool use",
    "multimodal vision-language models",
    "3D reconstruction and gaussian splatting",
    "robotics and embodied AI",
    "speech and audio",
    "benchmarks and evaluation of LLMs",
    "",  # no interests: the day's most upvoted
)


def main() -> int:
    if os.environ["DATABASE_URL"] == f"sqlite:///{_DB}":
        _DB.unlink(missing_ok=True)
    import django

    django.setup()
    from django.core import mail
    from django.core.management import call_command

    from digest import ledger, sending, services
    from digest.models import Delivery
    from papers.ingest import papers_ingest
    from papers.sources.detect import PARSERS, detect_format
    from subscriptions.models import Subscriber

    call_command("migrate", verbosity=0, interactive=False)
    raw = SAMPLE.read_bytes()
    records = [r for r in PARSERS[detect_format(raw)](raw).records if r.hf_date is not None]
    days = sorted({r.hf_date for r in records if r.hf_date is not None})
    with_code = {r.arxiv_id for r in records if r.github_repo}
    for interests in INTERESTS:
        Subscriber.objects.create(
            email=f"reader{len(interests)}-{interests[:6].replace(' ', '')}@bench.localhost",
            interests=interests,
            digest_size=5,
            delivery_hour=8,
            timezone="UTC",
            status=Subscriber.Status.ACTIVE,
            confirmed_at=dt.datetime(2025, 10, 1, tzinfo=dt.UTC),
        )

    started = time.perf_counter()
    per_day = []
    # Each evening's fetch brings the day's new papers (no code link yet) and fetches the previous
    # day's again (as captured); the next morning's issue covers the day. One more evening after
    # the last day, so that the last day's papers are fetched again too.
    evenings = [*days, days[-1] + dt.timedelta(days=1)]
    for index, day in enumerate(evenings):
        fetched = dt.datetime.combine(day, dt.time(20, 0), tzinfo=dt.UTC)
        first = [
            dataclasses.replace(r, github_repo="", github_stars=None)
            for r in records
            if r.hf_date == day
        ]
        again = [r for r in records if index and r.hf_date == evenings[index - 1]]
        papers_ingest(records=[*again, *first], fetch_run=None, now=fetched)
        issue_date = day + dt.timedelta(days=1)
        try:
            issue = services.issue_build(date=issue_date, rebuild=True)
        except services.IssueEmptyError:
            continue
        now = dt.datetime.combine(issue_date, dt.time(8, 0), tzinfo=dt.UTC)
        sending.contexts_clear()
        ledger.deliveries_create_due(now=now)
        while sending.deliveries_send_batch(issue_id=issue.pk, batch_size=50, now=now).claimed:
            pass
        mail.outbox.clear()
        rows = list(Delivery.objects.filter(issue=issue, status="sent").values_list("notices"))
        told_today = sum(len(notices) for (notices,) in rows)
        per_day.append({"issue": str(issue_date), "digests": len(rows), "notices": told_today})
        print(f"{issue_date}: {len(rows)} digests, {told_today} code-is-out notices")
    seconds = time.perf_counter() - started

    deliveries = list(
        Delivery.objects.filter(status="sent").values_list("subscriber_id", "papers", "notices")
    )
    sent_pairs = {(reader, p) for reader, papers, _ in deliveries for p in papers}
    told = Counter((reader, p) for reader, _, notices in deliveries for p in notices)
    gained = {(reader, p) for reader, p in sent_pairs if p in with_code}
    figures = {
        "days": len(per_day),
        "readers": len(INTERESTS),
        "digests": len(deliveries),
        "papers_sent": len(sent_pairs),
        "sent_papers_that_gained_code": len(gained),
        "notices": sum(told.values()),
        "digests_with_notices": sum(bool(n) for _, _, n in deliveries),
        "most_in_one_digest": max((len(n) for _, _, n in deliveries), default=0),
        "told_twice_to_one_reader": sum(count > 1 for count in told.values()),
        "told_for_a_paper_not_sent_before": len(set(told) - sent_pairs),
        "never_told_when_the_replay_ends": len(gained - set(told)),
        "seconds": round(seconds, 1),
    }
    print(
        f"\n{figures['digests']} digests to {figures['readers']} readers over {figures['days']}"
        f" days: {figures['sent_papers_that_gained_code']} papers sent gained code later;"
        f" {figures['notices']} notices told in {figures['digests_with_notices']} digests"
        f" (at most {figures['most_in_one_digest']} in one), "
        f"{figures['told_twice_to_one_reader']} told twice,"
        f" {figures['never_told_when_the_replay_ends']} still to tell when the replay ends."
    )
    print(json.dumps({"bench": "code_notices", **figures, "per_day": per_day}))
    ok = figures["told_twice_to_one_reader"] == 0 and figures["most_in_one_digest"] <= 3
    return 0 if ok and not figures["told_for_a_paper_not_sent_before"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
