"""The send ledger in the admin, read-only: written by the sending batches and provider webhooks."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin
from django.http import HttpRequest
from django.utils.text import Truncator

from digest.models import Delivery


def _happened(when: dt.datetime | None) -> bool:
    """Whether the provider reported this event (its time is set), for a yes/no column."""
    return when is not None


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The send ledger, read-only: written by the sending batches and the provider's webhooks."""

    list_display = [
        "issue",
        "subscriber_email",
        "status",
        "attempts",
        "sent_at",
        "delivered",
        "opened",
        "clicked",
        "bounced",
        "complained",
        "short_error",
    ]
    list_filter = ["status", "issue"]
    list_select_related = ["issue", "subscriber"]
    search_fields = ["subscriber__email"]
    ordering = ["-pk"]
    list_per_page = 100
    show_full_result_count = False  # a COUNT(*) over the whole ledger on each page buys nothing

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    @admin.display(description="subscriber", ordering="subscriber__email")
    def subscriber_email(self, delivery: Delivery) -> str:
        return delivery.subscriber.email

    @admin.display(description="error")
    def short_error(self, delivery: Delivery) -> str:
        return Truncator(delivery.error).chars(80)

    @admin.display(description="delivered", boolean=True, ordering="delivered_at")
    def delivered(self, delivery: Delivery) -> bool:
        return _happened(delivery.delivered_at)

    @admin.display(description="opened", boolean=True, ordering="opened_at")
    def opened(self, delivery: Delivery) -> bool:
        return _happened(delivery.opened_at)

    @admin.display(description="clicked", boolean=True, ordering="clicked_at")
    def clicked(self, delivery: Delivery) -> bool:
        return _happened(delivery.clicked_at)

    @admin.display(description="bounced", boolean=True, ordering="bounced_at")
    def bounced(self, delivery: Delivery) -> bool:
        return _happened(delivery.bounced_at)

    @admin.display(description="complained", boolean=True, ordering="complained_at")
    def complained(self, delivery: Delivery) -> bool:
        return _happened(delivery.complained_at)
