"""Logs and error reports: the settings' helpers, checked at start-up.

LOG_FORMAT=json writes each log record as one JSON object (python-json-logger), with the keys
the code passes in `extra={...}`; SENTRY_DSN sends errors to Sentry (sentry-sdk, with its Django
and Celery integrations). Both are off unless set, and nothing changes then.
"""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ImproperlyConfigured

LOG_FORMATS = ("plain", "json")
# The console formatters; "json" keeps the plain one's fields and adds every `extra` key.
LOG_FORMATTERS = {
    "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    "json": {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
    },
}


def log_format_parse(raw: str) -> str:
    """LOG_FORMAT, "plain" or "json"; anything else stops start-up."""
    value = raw.strip().lower() or "plain"
    if value not in LOG_FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT={raw!r}: write plain or json.")
    return value


def networks_parse(name: str, raw: list[str]) -> list[str]:
    """A list of networks ("10.0.0.0/8", "127.0.0.1"), each checked; a mistake stops start-up."""
    networks = []
    for item in (text.strip() for text in raw):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError as error:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an address or network, e.g. 10.0.0.0/8,127.0.0.1."
            ) from error
    return networks


def sentry_init(*, dsn: str, environment: str, release: str, traces_sample_rate: float) -> None:
    """Report errors to Sentry: Django's and Celery's, without personal data, traces off by default.

    send_default_pii=False keeps readers' addresses, cookies and IP addresses out of the reports.
    """
    if not 0.0 <= traces_sample_rate <= 1.0:
        raise ImproperlyConfigured(
            f"SENTRY_TRACES_SAMPLE_RATE={traces_sample_rate}: write a share from 0 to 1."
        )
    # Imported here: without a DSN the SDK is never loaded.
    import sentry_sdk  # noqa: PLC0415
    from sentry_sdk.integrations.celery import CeleryIntegration  # noqa: PLC0415
    from sentry_sdk.integrations.django import DjangoIntegration  # noqa: PLC0415

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        environment=environment or None,
        release=release or None,
    )
