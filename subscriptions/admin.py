"""A minimal admin for subscribers (search, filters, read-only history); the full one comes with its issue."""

from __future__ import annotations

from django.contrib import admin

from subscriptions.models import Subscriber, SubscriptionStat


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["email", "status", "frequency", "digest_size", "delivery_hour", "timezone", "created_at"]
    list_filter = ["status", "frequency", "created_at", "timezone"]
    search_fields = ["email", "pending_email"]
    readonly_fields = ["confirmed_at", "unsubscribed_at", "confirmation_sent_at", "created_at", "updated_at"]
    date_hierarchy = "created_at"


@admin.register(SubscriptionStat)
class SubscriptionStatAdmin(admin.ModelAdmin):
    list_display = ["day", "kind", "count"]
    list_filter = ["kind"]
    readonly_fields = ["day", "kind", "count"]
