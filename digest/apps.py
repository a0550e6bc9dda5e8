from __future__ import annotations

from django.apps import AppConfig


class DigestConfig(AppConfig):
    name = "digest"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from anymail.signals import tracking

        from digest.webhooks import tracking_received

        # Delivered, opened, clicked, bounced and complained, stamped on each digest's Delivery.
        tracking.connect(tracking_received, dispatch_uid="digest.tracking_received")
