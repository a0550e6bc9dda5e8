"""The one helper that builds every email: subject, text and HTML from templates/emails/<name>.*.

Every email to a subscriber carries List-Unsubscribe (the https link, and a mailto where
PAPERBOY_UNSUBSCRIBE_MAILTO is set) and List-Unsubscribe-Post for RFC 8058 one-click
unsubscribe, so that mail clients can show their own "Unsubscribe" button.

It also holds the one rule that says whether a failed send is worth another try, shared by
the sign-up emails here and the digest's transport (which may not be imported from here).
"""

from __future__ import annotations

import smtplib
import socket
from typing import Any
from urllib.parse import quote

import requests
from anymail.exceptions import AnymailAPIError, AnymailRequestsAPIError
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def site_url(path: str) -> str:
    """An absolute URL on the public site, for links in emails."""
    return f"{settings.SITE_URL}{path}"


def unsubscribe_headers(*, unsubscribe_url: str) -> dict[str, str]:
    """List-Unsubscribe and -Post headers (RFC 2369, RFC 8058) for an absolute unsubscribe URL."""
    targets = [f"<{unsubscribe_url}>"]
    if mailto := settings.PAPERBOY_UNSUBSCRIBE_MAILTO:
        targets.append(f"<mailto:{mailto}?subject={quote('unsubscribe')}>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def email_build(
    *, name: str, to: str, context: dict[str, Any], unsubscribe_url: str | None = None
) -> EmailMultiAlternatives:
    """A text + HTML email from templates/emails/<name>.subject.txt, <name>.txt and <name>.html."""
    context = {"site_url": settings.SITE_URL, "unsubscribe_url": unsubscribe_url, **context}
    # One line, whatever the template produced: a newline in a subject is a header injection.
    subject = " ".join(render_to_string(f"emails/{name}.subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{name}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=unsubscribe_headers(unsubscribe_url=unsubscribe_url) if unsubscribe_url else None,
    )
    message.attach_alternative(render_to_string(f"emails/{name}.html", context), "text/html")
    return message


class TransientSendError(Exception):
    """The email provider or the network failed in a way worth another try."""


def send_error_is_transient(error: BaseException) -> bool:
    """Whether a retry may pass: no answer, timeout, HTTP 429 or 5xx, SMTP 4xx; never a refusal."""
    if isinstance(error, AnymailRequestsAPIError):
        return error.status_code is None or error.status_code == 429 or error.status_code >= 500
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    # Any other answer of the provider's API is a refusal, whatever else its class derives from.
    if isinstance(error, AnymailAPIError):
        return False
    return isinstance(
        error,
        (
            requests.ConnectionError,
            requests.Timeout,
            smtplib.SMTPServerDisconnected,
            socket.timeout,
            OSError,
        ),
    )
