"""Optional JSON logs (LOG_FORMAT=json) and Sentry (SENTRY_DSN), each in a fresh interpreter."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.observability import networks_parse
from tests.helpers import clean_env, run_python

LOG_SOME_LINES = """
import logging, logging.config
from django.conf import settings
logging.config.dictConfig(settings.LOGGING)
print(getattr(settings, "CELERY_WORKER_HIJACK_ROOT_LOGGER", "unset"))
logging.getLogger("digest.tasks").info("digest tick", extra={"due": 3, "batches": 1, "closed": 0})
"""

SENTRY_STATE = """
import json
from django.conf import settings
settings.INSTALLED_APPS  # the settings are read, and with them SENTRY_DSN
import sentry_sdk
client = sentry_sdk.get_client()
print(json.dumps({
    "active": client.is_active(),
    "pii": client.options.get("send_default_pii"),
    "traces": client.options.get("traces_sample_rate"),
    "integrations": sorted(getattr(client, "integrations", {})),
}))
"""


def production(tmp_path: Path, **overrides: str) -> dict[str, str]:
    return clean_env(
        tmp_path,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        **overrides,
    )


def test_json_logs_carry_the_extra_keys_and_celery_leaves_the_handler_alone(
    tmp_path: Path,
) -> None:
    result = run_python(LOG_SOME_LINES, production(tmp_path, LOG_FORMAT="json"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    record = json.loads(result.stderr.strip().splitlines()[-1])
    assert record["message"] == "digest tick"
    assert record["levelname"] == "INFO"
    assert record["name"] == "digest.tasks"
    assert (record["due"], record["batches"], record["closed"]) == (3, 1, 0)
    assert "asctime" in record


def test_plain_logs_stay_as_they_were(tmp_path: Path) -> None:
    result = run_python(LOG_SOME_LINES, production(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "unset"
    assert result.stderr.strip().splitlines()[-1].endswith("INFO digest.tasks digest tick")


def test_an_unknown_log_format_stops_start_up(tmp_path: Path) -> None:
    result = run_python(LOG_SOME_LINES, production(tmp_path, LOG_FORMAT="xml"))

    assert result.returncode != 0
    assert "LOG_FORMAT='xml': write plain or json." in result.stderr


def test_sentry_is_configured_only_with_a_dsn_and_without_personal_data(tmp_path: Path) -> None:
    # A DSN nothing listens on: even a report sent by mistake would go nowhere.
    dsn = "https://public@127.0.0.1:9/1"
    off = run_python(SENTRY_STATE, production(tmp_path))
    on = run_python(SENTRY_STATE, production(tmp_path, SENTRY_DSN=dsn))

    assert off.returncode == 0, off.stderr
    assert json.loads(off.stdout)["active"] is False
    assert on.returncode == 0, on.stderr
    state = json.loads(on.stdout)
    assert state["active"] is True
    assert state["pii"] is False
    assert state["traces"] == 0.0
    assert {"django", "celery"} <= set(state["integrations"])


def test_the_metrics_allow_list_is_checked_at_start_up() -> None:
    assert networks_parse("X", ["10.0.0.0/8", " 127.0.0.1 ", "", "10.1.2.3/8"]) == [
        "10.0.0.0/8",
        "127.0.0.1/32",
        "10.0.0.0/8",
    ]
    with pytest.raises(ImproperlyConfigured, match="'intranet' is not an address or network"):
        networks_parse("PAPERBOY_METRICS_ALLOW", ["intranet"])
