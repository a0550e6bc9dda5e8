"""Answers for requests Django itself would turn into a server error."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

FORM = "application/x-www-form-urlencoded"


def form_charset_refuse(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """A form posted in a charset other than UTF-8 gets a 400, before anything reads it.

    Django refuses such a body (RFC 1866: a form is UTF-8) with BadRequest, but without marking
    the body as unreadable, so its own error page, which checks the CSRF token and so reads the
    body again, raises once more and the client gets a 500 from any form.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        encoding = request.encoding
        if (
            request.method == "POST"
            and request.content_type == FORM
            and encoding is not None
            and encoding.lower() != "utf-8"
        ):
            return HttpResponseBadRequest(
                "Forms must be sent in UTF-8.", content_type="text/plain; charset=utf-8"
            )
        return get_response(request)

    return middleware
