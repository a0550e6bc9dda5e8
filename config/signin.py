"""Admin sign-in under django-axes: the client's address it counts by, and the lockout page.

Axes counts wrong passwords per user name and per address (config.settings, AXES_*); these two
hooks make it see the same address as the sign-up limits, and answer a locked sign-in with a
page that says for how long and how an operator lifts the lock.
"""

from __future__ import annotations

import datetime as dt
import ipaddress

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from subscriptions.ratelimit import client_ip

LOCKOUT_TEMPLATE = "axes/lockout.html"


def signin_client_ip(request: HttpRequest) -> str | None:
    """The client's address as the sign-up limits see it, or None when it is not an address.

    Axes stores it in an IP address column: a bad X-Forwarded-For hop (more trusted proxies
    configured than there are) must not turn into a database error on the sign-in page.
    """
    address = client_ip(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _duration_text(delta: dt.timedelta) -> str:
    minutes = max(1, round(delta.total_seconds() / 60))
    if minutes % 60 == 0:
        hours = minutes // 60
        return "an hour" if hours == 1 else f"{hours} hours"
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def signin_lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, object] | None = None,
) -> HttpResponse:
    """The answer to a sign-in refused for too many failures: 429, with a Retry-After."""
    cool_off = get_cool_off(request) or dt.timedelta(
        minutes=settings.PAPERBOY_ADMIN_LOCKOUT_MINUTES
    )
    context = {
        **admin.site.each_context(request),  # the admin's header and title around the message
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cool_off": _duration_text(cool_off),
    }
    response = render(request, LOCKOUT_TEMPLATE, context, status=429)
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
