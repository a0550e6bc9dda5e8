from __future__ import annotations

from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: Django loads every app's models before ready(), and
        # these modules import models.
        from anymail.signals import tracking

        from subscriptions.webhooks import tracking_received

        # The email provider's bounces, complaints and unsubscribes suppress addresses.
        tracking.connect(tracking_received, dispatch_uid="subscriptions.tracking_received")
