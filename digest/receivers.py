"""The digest's answers to what the lower apps announce: new papers and new interests get embedded.

Connected in DigestConfig.ready(). The embedding runs in the worker, never in the web process
(which has no model), and only with PAPERBOY_EMBED_ON_CHANGE on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction

from digest.tasks import interests_embed, papers_embed_since


def papers_changed_embed(*, since: dt.datetime, **kwargs: Any) -> None:
    """Have the worker embed the papers a fetch created or changed (ranking reads their vectors)."""
    if settings.PAPERBOY_EMBED_ON_CHANGE:
        papers_embed_since.delay(since.isoformat())


def interests_changed_embed(*, interests: str, **kwargs: Any) -> None:
    """Have the worker embed a reader's new interests text once the change has committed."""
    if not interests.strip() or not settings.PAPERBOY_EMBED_ON_CHANGE:
        return
    # robust: a broker that is down is logged, not turned into an error after the change committed.
    transaction.on_commit(lambda: interests_embed.delay(interests), robust=True)
