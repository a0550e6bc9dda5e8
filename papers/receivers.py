"""The papers app's own answer to papers_changed: fetch the new papers' thumbnails in the worker.

Connected in PapersConfig.ready(), and only with PAPERBOY_THUMBNAILS_ON_CHANGE on.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache

from papers.tasks import thumbnails_fetch

logger = logging.getLogger(__name__)

# A fetch of several files or days announces each: one task takes every due thumbnail, and two
# running at once would only contend for the same rows (SQLite: "database is locked").
_QUEUED_KEY = "paperboy:thumbnails-queued"
_QUEUED_SECONDS = 60


def papers_changed_thumbnails(**kwargs: Any) -> None:
    """Queue the thumbnails task; a broker that is down is logged, the fetch already committed."""
    if not settings.PAPERBOY_THUMBNAILS_ON_CHANGE or not cache.add(_QUEUED_KEY, 1, _QUEUED_SECONDS):
        return
    try:
        thumbnails_fetch.delay()
    except Exception as exc:  # kombu's errors vary by transport
        logger.warning("could not queue the thumbnails task: %s", exc)
