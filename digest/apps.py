from __future__ import annotations

from django.apps import AppConfig


class DigestConfig(AppConfig):
    name = "digest"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: Django loads every app's models before ready(), and these
        # modules import models.
        from anymail.signals import tracking

        from digest import retention  # noqa: F401 (registers its system check)
        from digest.receivers import (
            export_collect_feed,
            export_collect_paper_clicks,
            export_collect_papers_sent,
            export_collect_votes,
            interests_changed_embed,
            interests_changed_refit,
            papers_changed_embed,
            reader_signals_changed_refit,
        )
        from digest.webhooks import tracking_received
        from papers.signals import papers_changed
        from subscriptions.signals import (
            export_collect,
            interests_changed,
            reader_signals_changed,
        )

        # Delivered, opened, clicked, bounced and complained, stamped on each digest's Delivery.
        tracking.connect(tracking_received, dispatch_uid="digest.tracking_received")
        # The lower apps announce changes; the digest embeds what it will rank with.
        papers_changed.connect(papers_changed_embed, dispatch_uid="digest.papers_changed_embed")
        interests_changed.connect(
            interests_changed_embed, dispatch_uid="digest.interests_changed_embed"
        )
        # What a reader teaches the ranking is refit into their profile, in the worker.
        interests_changed.connect(
            interests_changed_refit, dispatch_uid="digest.interests_changed_refit"
        )
        reader_signals_changed.connect(
            reader_signals_changed_refit, dispatch_uid="digest.reader_signals_changed_refit"
        )
        # A reader's data export holds what the digest stores about them.
        export_collect.connect(export_collect_votes, dispatch_uid="digest.export_collect_votes")
        export_collect.connect(
            export_collect_paper_clicks, dispatch_uid="digest.export_collect_paper_clicks"
        )
        export_collect.connect(export_collect_feed, dispatch_uid="digest.export_collect_feed")
        export_collect.connect(
            export_collect_papers_sent, dispatch_uid="digest.export_collect_papers_sent"
        )
