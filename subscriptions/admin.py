"""Operators' admin: find subscribers, see where they stand, resend, unsubscribe, export.

The anonymous counts are read here too. State changes go through the same services as the
readers' own links (the once-an-hour limit on confirmations, the unsubscribe transition), never
through a raw edit of `status`.
"""

from __future__ import annotations

import csv
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from subscriptions import services
from subscriptions.addresses import address_search_term
from subscriptions.forms import interests_clean, timezone_names
from subscriptions.models import (
    ARXIV_CATEGORIES,
    PREFERENCE_FIELDS,
    Subscriber,
    SubscriptionStat,
    WebhookEvent,
)
from subscriptions.selectors import subscriber_status_counts, subscriber_timezones_in_use

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "email",
    "status",
    "frequency",
    "digest_size",
    "delivery_hour",
    "timezone",
    "created_at",
    "confirmed_at",
)


def csv_cell(value: object) -> str:
    """A value as a CSV cell that a spreadsheet shows as text, never evaluates."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return f"'{text}" if text.startswith(_FORMULA_PREFIXES) else text


def _plural(count: int, word: str = "subscriber") -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class TimezoneFilter(admin.SimpleListFilter):
    """Only the time zones subscribers actually have, not the 400-odd zoneinfo knows."""

    title = "time zone"
    parameter_name = "timezone"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(name, name) for name in subscriber_timezones_in_use()]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Subscriber]
    ) -> QuerySet[Subscriber]:
        value = self.value()
        return queryset.filter(timezone=value) if value else queryset


class SubscriberAdminForm(forms.ModelForm):
    """Preferences under the manage page's rules: a real time zone, a known frequency.

    The database's constraints check the rest.
    """

    categories = forms.MultipleChoiceField(
        required=False,
        choices=[(code, f"{code} — {name}") for code, name in ARXIV_CATEGORIES.items()],
        widget=forms.CheckboxSelectMultiple,
    )
    timezone = forms.ChoiceField(choices=())

    class Meta:
        model = Subscriber
        fields = PREFERENCE_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        timezone_field = self.fields["timezone"]
        assert isinstance(timezone_field, forms.ChoiceField)
        timezone_field.choices = [(name, name) for name in timezone_names()]

    def clean_interests(self) -> str:
        return interests_clean(self.cleaned_data["interests"])


_HISTORY = ("created_at", "confirmed_at", "confirmation_sent_at", "unsubscribed_at", "updated_at")


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    form = SubscriberAdminForm
    list_display = [
        "email",
        "status",
        "frequency",
        "digest_size",
        "delivery",
        "created_at",
        "confirmed_at",
    ]
    list_filter = ["status", "frequency", "created_at", TimezoneFilter]
    search_fields = ["email", "pending_email"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-pk"]
    list_per_page = 100
    actions = ["resend_confirmation", "unsubscribe", "export_csv"]
    # The address and the status change only through the reader's signed links or the actions above.
    readonly_fields = ["email", "pending_email", "status", "soft_bounces", *_HISTORY]
    # The signed manage link is left out on purpose: it would let staff act as the reader.
    fieldsets = [
        (None, {"fields": ["email", "pending_email", "status", "soft_bounces"]}),
        ("Preferences", {"fields": SubscriberAdminForm.Meta.fields}),
        ("History", {"fields": _HISTORY}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Addresses come in through sign-up and its double opt-in, never typed in by staff.
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Subscriber], search_term: str
    ) -> tuple[QuerySet[Subscriber], bool]:
        # Addresses are stored with their domain in ASCII: "bücher.de" finds "xn--bcher-kva.de".
        return super().get_search_results(request, queryset, address_search_term(search_term))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscriber]:
        # A team channel's reader row is shown and changed with its channel (the digest's admin).
        return super().get_queryset(request).exclude(via=Subscriber.Via.CHANNEL)

    @admin.display(description="delivery", ordering="delivery_hour")
    def delivery(self, subscriber: Subscriber) -> str:
        return f"{subscriber.delivery_hour:02d}:00 {subscriber.timezone}"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        # Not a redirect after an action, nor a CSV download.
        if isinstance(response, TemplateResponse) and response.context_data is not None:
            response.context_data["status_counts"] = subscriber_status_counts()
        return response

    @admin.action(description="Resend the confirmation email (pending only, at most once an hour)")
    def resend_confirmation(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        now = timezone.now()
        selected = list(queryset.values_list("pk", "status"))
        pending = [pk for pk, status in selected if status == Subscriber.Status.PENDING]
        sent = 0
        for pk in pending:
            # The sign-up's own claim and task: the once-an-hour limit holds, the email leaves
            # after commit.
            if services.subscriber_confirmation_resend(subscriber_id=pk, now=now):
                sent += 1
        skipped = []
        if len(selected) > len(pending):
            skipped.append(f"{len(selected) - len(pending)} not pending")
        if len(pending) > sent:
            skipped.append(f"{len(pending) - sent} already sent one within the hour")
        detail = f"; skipped {', '.join(skipped)}" if skipped else ""
        level = messages.SUCCESS if sent else messages.WARNING
        self.message_user(request, f"Confirmation resent to {_plural(sent)}{detail}.", level)

    @admin.action(description="Unsubscribe selected subscribers")
    def unsubscribe(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        subscribers = list(queryset)
        done = sum(
            services.subscriber_unsubscribe(subscriber=subscriber) for subscriber in subscribers
        )
        left = len(subscribers) - done
        detail = f"; {_plural(left)} already unsubscribed or suppressed" if left else ""
        self.message_user(request, f"Unsubscribed {_plural(done)}{detail}.", messages.SUCCESS)

    @admin.action(description="Export selected subscribers as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="subscribers-{timezone.now():%Y%m%d-%H%M}.csv"'
        )
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for row in (
            queryset.order_by("created_at", "pk")
            .values_list(*CSV_COLUMNS)
            .iterator(chunk_size=2000)
        ):
            writer.writerow([csv_cell(value) for value in row])
        return response


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services only: listed and shown, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    """Every provider event received, once each (deduplicated on the provider's event id)."""

    list_display = ["received_at", "esp_name", "event_type", "action", "subscriber"]
    list_filter = ["esp_name", "event_type", "action"]
    list_select_related = ["subscriber"]
    search_fields = ["subscriber__email", "event_id", "message_id"]
    date_hierarchy = "received_at"


@admin.register(SubscriptionStat)
class SubscriptionStatAdmin(ReadOnlyAdmin):
    """What is left of deleted readers: counts only, written by the service, read here."""

    list_display = ["day", "kind", "count"]
    list_filter = ["kind"]
    date_hierarchy = "day"
    ordering = ["-day", "kind"]
