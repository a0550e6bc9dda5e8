from __future__ import annotations

from django.apps import AppConfig


class DigestConfig(AppConfig):
    name = "digest"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: Django loads every app's models before ready(), and these
        # modules import models.
        from anymail.signals import tracking

        from digest.receivers import interests_changed_embed, papers_changed_embed
        from digest.webhooks import tracking_received
        from papers.signals import papers_changed
        from subscriptions.signals import interests_changed

        # Delivered, opened, clicked, bounced and complained, stamped on each digest's Delivery.
        tracking.connect(tracking_received, dispatch_uid="digest.tracking_received")
        # The lower apps announce changes; the digest embeds what it will rank with.
        papers_changed.connect(papers_changed_embed, dispatch_uid="digest.papers_changed_embed")
        interests_changed.connect(
            interests_changed_embed, dispatch_uid="digest.interests_changed_embed"
        )
