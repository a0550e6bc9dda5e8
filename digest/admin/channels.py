"""Team channels in the admin: list, add and change them (through digest.channels' services),
pause and resume them, and read each one's latest deliveries.

A channel's preferences are its reader row's (the Subscribers admin does not list channels);
saving writes both in one transaction. A signed webhook's secret is shown once, after saving.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from digest.channels import (
    ChannelFields,
    ChannelURLError,
    channel_create,
    channel_delete,
    channel_pause,
    channel_resume,
    channel_update,
    channel_url_check,
)
from digest.models import Channel, Delivery
from digest.selectors import delivery_list_latest
from subscriptions.forms import PreferencesForm, SeedIdsField
from subscriptions.models import PREFERENCE_FIELDS, Seed
from subscriptions.seeds import SEEDS_MAX, SeedError, SeedInput
from subscriptions.services import seeds_add

HISTORY_ROWS = 50
_STATUS_FIELDS = [
    "state",
    "failures",
    "last_error",
    "last_sent_at",
    "secret_masked",
    "example_papers",
    "created_at",
]


class ChannelAdminForm(forms.ModelForm, PreferencesForm):
    """A channel's name, kind and URL, with the reader's preferences under the sign-up's rules."""

    url = forms.CharField(
        max_length=500,
        label="URL",
        widget=forms.TextInput(attrs={"class": "vURLField"}),
        help_text="The webhook's address, as Slack or Discord shows it (https only).",
    )
    seeds = SeedIdsField(
        required=False,
        label="Add papers like these",
        help_text=(
            "Optional: arXiv ids or links of papers the team liked, one a line. The channel's "
            "digest looks for papers like them (those it has are listed under Status)."
        ),
    )

    class Meta:
        model = Channel
        fields = ["name", "kind", "url"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            subscriber = self.instance.subscriber
            for name in PREFERENCE_FIELDS:
                self.initial.setdefault(name, getattr(subscriber, name))

    def clean_seeds(self) -> list[str]:
        ids = list(self.cleaned_data.get("seeds") or [])
        held = 0 if self.instance._state.adding else self.instance.subscriber.seeds.count()
        if held + len(ids) > SEEDS_MAX:
            raise forms.ValidationError(
                f"A channel keeps at most {SEEDS_MAX} example papers: it has {held}, and these "
                f"would add {len(ids)}."
            )
        return ids

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind") or self.instance.kind
        url = cleaned.get("url")
        if kind and url:
            try:
                cleaned["url"] = channel_url_check(kind=kind, url=url)
            except ChannelURLError as error:
                self.add_error("url", str(error))
        return cleaned

    def channel_fields(self) -> ChannelFields:
        """The cleaned name, kind and URL, for the services."""
        data = self.cleaned_data
        return ChannelFields(
            name=data["name"], kind=data.get("kind") or self.instance.kind, url=data["url"]
        )


def _time_cell(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "–"


def _history_row(delivery: Delivery) -> tuple[object, ...]:
    issue = f"{delivery.issue.date:%Y-%m-%d} {delivery.issue.get_kind_display().lower()}"
    return (
        reverse("admin:digest_issue_change", args=[delivery.issue_id]),
        issue,
        delivery.get_status_display(),
        _time_cell(delivery.sent_at),
        len(delivery.papers or []),
        Truncator(delivery.error).chars(120) or "–",
    )


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """Where teams get their digests: Slack, Discord or a signed webhook."""

    form = ChannelAdminForm
    list_display = [
        "name",
        "kind",
        "frequency",
        "delivery",
        "state",
        "failures",
        "last_sent_at",
        "short_error",
    ]
    list_filter = ["kind"]
    list_select_related = ["subscriber"]
    search_fields = ["name"]
    ordering = ["name"]
    actions = ["resume", "pause"]

    def get_fieldsets(self, request: HttpRequest, obj: Channel | None = None) -> Any:
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": ["name", "kind", "url"]}),
            ("Preferences", {"fields": [*PREFERENCE_FIELDS, "seeds"]}),
        ]
        if obj is not None:
            fieldsets += [
                ("Status", {"fields": _STATUS_FIELDS}),
                (f"Latest {HISTORY_ROWS} deliveries", {"fields": ["history"]}),
            ]
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Channel | None = None) -> Any:
        # The kind stays: a Slack URL is no signed webhook, and the secret is made at creation.
        return ["kind", *_STATUS_FIELDS, "history"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        fields, preferences = form.channel_fields(), form.preferences()
        if change:
            channel_update(channel=obj, fields=fields, preferences=preferences)
            self._seeds_add(request, obj, form.cleaned_data.get("seeds") or [])
            return
        created = channel_create(fields=fields, preferences=preferences)
        self._seeds_add(request, created, form.cleaned_data.get("seeds") or [])
        # The admin goes on with `obj` (its messages, its redirect): make it the saved row.
        obj.subscriber, obj.secret = created.subscriber, created.secret
        obj.created_at, obj.updated_at = created.created_at, created.updated_at
        obj._state.adding, obj._state.db = False, created._state.db
        if created.secret:
            self.message_user(
                request,
                f"The signing secret of “{created.name}”, shown only this once: {created.secret} "
                "— copy it into the receiving end now.",
                messages.WARNING,
            )

    def _seeds_add(self, request: HttpRequest, channel: Channel, arxiv_ids: list[str]) -> None:
        """The example papers given, added to the channel's reader (unknown ones fetched)."""
        if not arxiv_ids:
            return
        inputs = [SeedInput(arxiv_id=arxiv_id) for arxiv_id in arxiv_ids]
        try:
            added = seeds_add(subscriber=channel.subscriber, inputs=inputs, origin=Seed.Origin.ID)
        except SeedError as error:  # the form checked the count; a race may still get here
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(
            request,
            f"Added {added.added} example papers to “{channel.name}”"
            + (f" ({added.pending} being fetched from arXiv)." if added.pending else "."),
        )

    @admin.display(description="example papers")
    def example_papers(self, channel: Channel) -> str:
        seeds = list(channel.subscriber.seeds.all()[:SEEDS_MAX])
        if not seeds:
            return "None: the channel is ranked on its interests (add papers under Preferences)."
        return "; ".join(seed.arxiv_id or seed.title for seed in seeds)

    def delete_model(self, request: HttpRequest, obj: Channel) -> None:
        channel_delete(channel=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        for channel in queryset:
            channel_delete(channel=channel)

    @admin.display(description="frequency", ordering="subscriber__frequency")
    def frequency(self, channel: Channel) -> str:
        return channel.subscriber.get_frequency_display()

    @admin.display(description="delivery", ordering="subscriber__delivery_hour")
    def delivery(self, channel: Channel) -> str:
        return f"{channel.subscriber.delivery_hour:02d}:00 {channel.subscriber.timezone}"

    @admin.display(description="status", ordering="paused_at")
    def state(self, channel: Channel) -> str:
        if channel.paused_at is None:
            return "active"
        return f"paused {channel.paused_at:%Y-%m-%d %H:%M}: {channel.pause_reason or 'no reason'}"

    @admin.display(description="last error")
    def short_error(self, channel: Channel) -> str:
        return Truncator(channel.last_error).chars(80)

    @admin.display(description="signing secret")
    def secret_masked(self, channel: Channel) -> str:
        if not channel.secret:
            return "– (Slack and Discord sign nothing)"
        return "whsec_•••••••• (shown once, when the channel was created)"

    @admin.display(description="deliveries")
    def history(self, channel: Channel) -> SafeString | str:
        deliveries = delivery_list_latest(subscriber=channel.subscriber, limit=HISTORY_ROWS)
        if not deliveries:
            return "No digest yet."
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (_history_row(delivery) for delivery in deliveries),
        )
        return format_html(
            '<table class="channel-deliveries"><thead><tr><th>issue</th><th>status</th>'
            "<th>sent (UTC)</th><th>papers</th><th>error</th></tr></thead><tbody>{}</tbody>"
            "</table>",
            rows,
        )

    @admin.action(description="Resume the selected channels (failures forgotten)")
    def resume(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        done = sum(channel_resume(subscriber_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"Resumed {done} of {queryset.count()} channels.")

    @admin.action(description="Pause the selected channels")
    def pause(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        reason = f"paused by {request.user.get_username() or 'an editor'}"
        done = sum(
            channel_pause(subscriber_id=pk, reason=reason)
            for pk in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"Paused {done} of {queryset.count()} channels.")
