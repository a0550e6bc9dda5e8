"""The digest's answers to what the lower apps announce: new papers and new interests get embedded,
and a reader's data export gets their votes and clicks.

Connected in DigestConfig.ready(). The embedding runs in the worker, never in the web process
(which has no model), and only with PAPERBOY_EMBED_ON_CHANGE on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction

from digest.feeds import reader_feed_urls
from digest.history import history_list_export
from digest.selectors import paper_click_list_export, vote_list_export
from digest.tasks import interests_embed, papers_embed_since, profile_refresh_later


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


def reader_signals_changed_refit(*, subscriber_id: int, **kwargs: Any) -> None:
    """Have the worker refit the reader's learned profile after their seeds or texts changed."""
    profile_refresh_later(subscriber_id=subscriber_id)


def interests_changed_refit(*, subscriber_id: int | None = None, **kwargs: Any) -> None:
    """The interests are the profile's positives too: refit it (a reader without one: no-op)."""
    if subscriber_id is not None:
        profile_refresh_later(subscriber_id=subscriber_id)


def export_collect_votes(*, subscriber_id: int, **kwargs: Any) -> tuple[str, list[dict[str, Any]]]:
    """The reader's "more / less like this" votes, for their data export."""
    return "votes", vote_list_export(subscriber_id=subscriber_id)


def export_collect_paper_clicks(
    *, subscriber_id: int, **kwargs: Any
) -> tuple[str, list[dict[str, Any]]]:
    """The reader's tracked clicks on papers in their digests, for their data export."""
    return "paper_clicks", paper_click_list_export(subscriber_id=subscriber_id)


def export_collect_papers_sent(
    *, subscriber_id: int, **kwargs: Any
) -> tuple[str, list[dict[str, Any]]]:
    """Every paper the reader's digests sent them, by issue, for their data export."""
    return "papers_sent", history_list_export(subscriber_id=subscriber_id)


def export_collect_feed(*, subscriber_id: int, **kwargs: Any) -> tuple[str, dict[str, str] | None]:
    """The reader's private feed addresses (None: they have none yet), for their data export."""
    return "feed", reader_feed_urls(subscriber_id=subscriber_id)
