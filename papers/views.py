from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def home(request: HttpRequest) -> HttpResponse:
    """Placeholder until the papers pages land."""
    return HttpResponse("Paperboy")
