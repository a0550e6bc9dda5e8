"""The environment switches of config/settings.py, each read by a new interpreter in a clean env."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import clean_env, run_python

# Prints what the settings and the Celery app made of the environment, as JSON.
PROBE = """
import json
from django.conf import settings
from config.celery import app

db = settings.DATABASES["default"]
print(json.dumps({
    "debug": settings.DEBUG,
    "secret_key": settings.SECRET_KEY,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "cache_backend": settings.CACHES["default"]["BACKEND"],
    "cache_location": settings.CACHES["default"].get("LOCATION"),
    "broker_url": app.conf.broker_url,
    "broker_options": app.conf.broker_transport_options,
    "db": {
        k: db.get(k)
        for k in ("ENGINE", "NAME", "USER", "HOST", "PORT", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS")
    },
    "static_root": str(settings.STATIC_ROOT),
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
    "hsts": settings.SECURE_HSTS_SECONDS,
    "secure_cookies": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE],
    "email_backend": settings.EMAIL_BACKEND,
    "email_file_path": str(settings.EMAIL_FILE_PATH),
    "log_level": settings.LOGGING["root"]["level"],
    "worker_concurrency": app.conf.worker_concurrency,
}))
"""


def probe(tmp_path: Path, **overrides: str) -> dict:
    result = run_python(PROBE, clean_env(tmp_path, **overrides))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_it_uses_redis_for_the_cache_and_the_broker_when_redis_url_is_set(tmp_path: Path) -> None:
    seen = probe(tmp_path, DEBUG="true", REDIS_URL="redis://cache.internal:6380/2")

    assert seen["cache_backend"] == "config.cache.SharedClientRedisCache"
    assert seen["cache_location"] == "redis://cache.internal:6380/2"
    assert seen["broker_url"] == "redis://cache.internal:6380/2"
    assert not (tmp_path / "var" / "celery-broker").exists()


def test_without_redis_url_it_uses_locmem_and_a_filesystem_broker_whose_folders_exist(
    tmp_path: Path,
) -> None:
    seen = probe(tmp_path, DEBUG="true")

    broker_dir = tmp_path / "var" / "celery-broker"
    assert seen["cache_backend"] == "django.core.cache.backends.locmem.LocMemCache"
    assert seen["broker_url"].startswith("filesystem://")
    options = seen["broker_options"]
    assert options["data_folder_in"] == options["data_folder_out"] == str(broker_dir)
    assert options["control_folder"] == str(broker_dir / "control")
    assert (broker_dir / "control").is_dir()


def test_the_embedded_broker_carries_a_task_from_one_process_to_another(tmp_path: Path) -> None:
    env = clean_env(tmp_path, DEBUG="true")
    sent = run_python(
        "from config.celery import app; "
        "app.send_task('papers.tasks.fetch_hf_today', kwargs={'probe': 1})",
        env,
    )
    assert sent.returncode == 0, sent.stderr
    # Routed to the fetch queue, as a file the worker (another process) will pick up.
    assert len(list((tmp_path / "var" / "celery-broker").glob("*.fetch.msg"))) == 1

    received = run_python(
        "from config.celery import app\n"
        "with app.connection_for_read() as conn:\n"
        "    message = conn.SimpleQueue('fetch', no_ack=True).get(timeout=10)\n"
        "    print(message.headers['task'], message.payload[1])\n",
        env,
    )
    assert received.returncode == 0, received.stderr
    assert received.stdout.split() == ["papers.tasks.fetch_hf_today", "{'probe':", "1}"]


def test_it_uses_postgres_through_psycopg_3_when_database_url_points_there(tmp_path: Path) -> None:
    seen = probe(
        tmp_path,
        DEBUG="true",
        DATABASE_URL="postgres://pb:pw@db.internal:5433/paperboy",
        CONN_MAX_AGE="30",
    )

    assert seen["db"] == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "paperboy",
        "USER": "pb",
        "HOST": "db.internal",
        "PORT": 5433,
        "CONN_MAX_AGE": 30,
        "CONN_HEALTH_CHECKS": True,
    }
    driver = run_python(
        "from django.db.backends.postgresql.psycopg_any import is_psycopg3; print(is_psycopg3)",
        clean_env(tmp_path, DEBUG="true"),
    )
    assert driver.stdout.strip() == "True", driver.stderr


def test_without_database_url_it_uses_sqlite_in_the_var_folder_and_creates_it(
    tmp_path: Path,
) -> None:
    seen = probe(tmp_path, DEBUG="true")

    assert seen["db"]["ENGINE"] == "django.db.backends.sqlite3"
    assert seen["db"]["NAME"] == str(tmp_path / "var" / "paperboy.sqlite3")
    assert (tmp_path / "var").is_dir()


def test_with_debug_off_it_is_secure_by_default(tmp_path: Path) -> None:
    seen = probe(tmp_path, SECRET_KEY="k" * 60)

    assert seen["debug"] is False
    assert seen["allowed_hosts"] == []
    assert seen["ssl_redirect"] is True
    assert seen["hsts"] == 31536000
    assert seen["secure_cookies"] == [True, True]
    assert seen["email_backend"] == "django.core.mail.backends.smtp.EmailBackend"


def test_debug_gives_development_defaults_with_an_outbox_for_email(tmp_path: Path) -> None:
    seen = probe(tmp_path, DEBUG="true")

    assert seen["debug"] is True
    assert seen["secret_key"].startswith("dev-only")
    assert seen["allowed_hosts"] == ["127.0.0.1", "localhost"]
    assert seen["ssl_redirect"] is False
    assert seen["email_backend"] == "django.core.mail.backends.filebased.EmailBackend"
    assert seen["email_file_path"] == str(tmp_path / "var" / "outbox")


def test_real_environment_variables_win_over_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "site.env"
    env_file.write_text("DEBUG=true\nREDIS_URL=redis://from-file:6379/0\nLOG_LEVEL=WARNING\n")

    seen = probe(tmp_path, PAPERBOY_ENV_FILE=str(env_file), REDIS_URL="redis://from-env:6379/1")

    assert seen["debug"] is True
    assert seen["broker_url"] == "redis://from-env:6379/1"
    assert seen["log_level"] == "WARNING"


def test_operators_can_move_static_files_and_size_workers(tmp_path: Path) -> None:
    seen = probe(
        tmp_path, DEBUG="true", STATIC_ROOT=str(tmp_path / "static"), CELERY_WORKER_CONCURRENCY="6"
    )

    assert seen["static_root"] == str(tmp_path / "static")
    assert seen["worker_concurrency"] == 6
