"""The Celery app: configured from Django settings (CELERY_*), tasks discovered in each app."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("paperboy")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # HF Daily Papers change all day as people upvote: refresh today's and yesterday's lists hourly.
    "fetch-hf-hourly": {"task": "papers.tasks.fetch_hf_today", "schedule": crontab(minute=5)},
    # arXiv announces once a day (around 00:00 UTC on weekdays).
    "fetch-arxiv-daily": {
        "task": "papers.tasks.fetch_arxiv_today",
        "schedule": crontab(minute=30, hour=1),
    },
    # Digests: build the day's issue, make due the readers whose local hour has come, send.
    "digest-tick-hourly": {"task": "digest.tasks.tick", "schedule": crontab(minute=0)},
    # The ledger stays small: old issues' rows folded into their figures, then deleted in batches.
    "ledger-prune-nightly": {
        "task": "digest.tasks.ledger_prune",
        "schedule": crontab(minute=45, hour=3),
    },
}
