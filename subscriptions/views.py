"""Subscriptions: for now a placeholder page where the home page's email box lands."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe


@require_safe
def subscribe(request: HttpRequest) -> HttpResponse:
    """Says subscriptions open soon; the address in ?email= is neither stored nor shown back."""
    return render(request, "subscriptions/subscribe.html")
