"""The email provider is chosen by environment variables (each case read by a fresh interpreter)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import clean_env, run_python

PROBE = (
    "import json; from django.conf import settings; "
    "print(json.dumps({'backend': settings.EMAIL_BACKEND, 'anymail': settings.ANYMAIL}))"
)


def _email_settings(tmp_path: Path, **env: str) -> dict:
    result = run_python(PROBE, clean_env(tmp_path, **env))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_email_provider_selects_the_anymail_backend_with_its_own_variables(tmp_path: Path) -> None:
    seen = _email_settings(
        tmp_path,
        SECRET_KEY="k" * 60,
        EMAIL_PROVIDER="Postmark",
        POSTMARK_SERVER_TOKEN="pm-token",
        ANYMAIL_WEBHOOK_SECRET="user:pass",
        MAILGUN_API_KEY="not-for-postmark",
    )

    assert seen["backend"] == "anymail.backends.postmark.EmailBackend"
    assert seen["anymail"] == {"POSTMARK_SERVER_TOKEN": "pm-token", "WEBHOOK_SECRET": "user:pass"}


def test_any_anymail_provider_works_by_its_module_name(tmp_path: Path) -> None:
    seen = _email_settings(
        tmp_path,
        DEBUG="true",
        EMAIL_PROVIDER="mailgun",
        MAILGUN_API_KEY="key",
        MAILGUN_SENDER_DOMAIN="mg.example.org",
    )

    assert seen["backend"] == "anymail.backends.mailgun.EmailBackend"
    assert seen["anymail"] == {"MAILGUN_API_KEY": "key", "MAILGUN_SENDER_DOMAIN": "mg.example.org"}


def test_an_unknown_provider_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    for provider in ("carrier-pigeon", "../etc", "base"):
        result = run_python(PROBE, clean_env(tmp_path, DEBUG="true", EMAIL_PROVIDER=provider))

        assert result.returncode != 0
        assert "is not an Anymail email provider" in result.stderr


def test_without_a_provider_development_mail_goes_to_the_outbox(tmp_path: Path) -> None:
    seen = _email_settings(tmp_path, DEBUG="true")

    assert seen["backend"] == "django.core.mail.backends.filebased.EmailBackend"
    assert seen["anymail"] == {}
