"""The subscriber's admin page, with their latest digests from the ledger.

subscriptions knows nothing of the digest, so its SubscriberAdmin has no deliveries panel: the
digest registers a subclass in its place that adds one, at the end of the page.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from digest.models import Delivery
from digest.selectors import delivery_list_latest
from subscriptions.admin import SubscriberAdmin
from subscriptions.models import Subscriber

RECENT_DELIVERIES = 20
_DELIVERY_EVENTS = ["delivered_at", "opened_at", "clicked_at", "bounced_at", "complained_at"]


def _time_cell(value: object) -> str:
    """A date and time to the minute, or a dash for none."""
    return f"{value:%Y-%m-%d %H:%M}" if value else "–"


def _delivery_row(delivery: Delivery) -> tuple[object, ...]:
    """The cells of a delivery's row: issue link and name, status, sent, papers, events, error."""
    events = ", ".join(
        name.removesuffix("_at") for name in _DELIVERY_EVENTS if getattr(delivery, name)
    )
    issue_url = reverse("admin:digest_issue_change", args=[delivery.issue_id])
    issue = f"{delivery.issue.date:%Y-%m-%d} {delivery.issue.get_kind_display().lower()}"
    error = Truncator(delivery.error).chars(100)
    papers = len(delivery.papers or [])
    return (
        issue_url,
        issue,
        delivery.status,
        delivery.get_status_display(),
        _time_cell(delivery.sent_at),
        papers,
        events or "–",
        error,
    )


admin.site.unregister(Subscriber)


@admin.register(Subscriber)
class SubscriberWithDeliveriesAdmin(SubscriberAdmin):
    """The subscriptions app's SubscriberAdmin, plus the subscriber's latest digests."""

    readonly_fields = [*SubscriberAdmin.readonly_fields, "recent_deliveries"]
    fieldsets = [*SubscriberAdmin.fieldsets, ("Deliveries", {"fields": ["recent_deliveries"]})]

    @admin.display(description=f"latest {RECENT_DELIVERIES}")
    def recent_deliveries(self, subscriber: Subscriber) -> SafeString | str:
        """The subscriber's latest digests from the ledger (one query), and a link to them all."""
        deliveries = delivery_list_latest(subscriber=subscriber, limit=RECENT_DELIVERIES)
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td class="delivery-{}">{}</td>'
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (_delivery_row(delivery) for delivery in deliveries),
        )
        if not rows:
            return "No digest yet."
        all_url = (
            reverse("admin:digest_delivery_changelist") + f"?subscriber__id__exact={subscriber.pk}"
        )
        return format_html(
            '<table class="subscriber-deliveries"><thead><tr>'
            "<th>issue</th><th>status</th><th>sent (UTC)</th>"
            "<th>papers</th><th>events</th><th>error</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}">All deliveries to this subscriber</a></p>',
            rows,
            all_url,
        )
