"""Deployment: the production settings, docker-compose.yml, the Dockerfile and the web container.

The production settings pass `check --deploy`, docker-compose.yml and the Dockerfile hang
together, and what the web container runs (gunicorn + whitenoise) really serves the site.
"""

from __future__ import annotations

import importlib.util
import re
import secrets
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import yaml
from celery.app.utils import find_app
from django.conf import settings
from django.core.management import get_commands

from subscriptions.forms import bibtex_max_bytes
from tests.helpers import clean_env, free_port, matched, process_stop

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web", "worker", "beat")


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """A production environment (DEBUG off, a random 50+ character key), none of ours inherited."""
    production = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    return clean_env(tmp_path, **{**production, **overrides})


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


# --- Production settings --------------------------------------------------------------------------


def test_production_settings_pass_check_deploy_without_a_warning(tmp_path: Path) -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_does_fail_on_a_weak_secret_key(tmp_path: Path) -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=production_env(tmp_path, SECRET_KEY="short"),
    )

    assert result.returncode != 0
    assert "security.W009" in result.stderr


@pytest.mark.parametrize("debug", ["false", ""])
def test_it_refuses_to_start_without_secret_key_when_debug_is_off(
    tmp_path: Path, debug: str
) -> None:
    env = production_env(tmp_path, DEBUG=debug)
    del env["SECRET_KEY"]

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set when DEBUG is off" in result.stderr


# --- docker-compose.yml and the Dockerfile --------------------------------------------------------


def test_compose_has_the_seven_services_and_app_services_share_one_image(compose: dict) -> None:
    services = compose["services"]

    assert set(services) == {"postgres", "redis", *APP_SERVICES, "proxy"}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in APP_SERVICES:
        assert services[name]["build"] == ".", name
        assert services[name]["image"] == services["web"]["image"], name
        assert services[name]["env_file"] == ".env", name
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://"), name
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://redis:6379"), name


def test_only_the_proxy_is_published_and_it_runs_the_shipped_config(compose: dict) -> None:
    services = compose["services"]
    proxy = services["proxy"]
    source, target, mode = proxy["volumes"][0].split(":")
    web = services["web"]["command"]
    web_port = web[web.index("--bind") + 1].rpartition(":")[2]
    config = (ROOT / source).read_text()

    # gunicorn's sync workers must never face a client directly (tests/test_slow_clients.py).
    assert [name for name, service in services.items() if "ports" in service] == ["proxy"]
    assert proxy["ports"] == ["${WEB_PORT:-8000}:80"]
    assert services["web"]["expose"] == [web_port]
    assert re.fullmatch(r"nginx:1\.\d+-alpine", proxy["image"])
    assert (target, mode) == ("/etc/nginx/nginx.conf", "ro")
    assert proxy["depends_on"] == {"web": {"condition": "service_healthy"}}
    assert "listen 80 default_server;" in config
    assert f"server web:{web_port} " in config
    # nginx appends one hop to X-Forwarded-For: the rate limits and admin lockout count it.
    for name in APP_SERVICES:
        trusted = services[name]["environment"]["PAPERBOY_TRUSTED_PROXIES"]
        assert trusted == "${PAPERBOY_TRUSTED_PROXIES:-1}", name


def nginx_bytes(config: str, directive: str) -> int:
    """The size an nginx directive sets (as 10m or 256k), in bytes."""
    number, unit = matched(rf"^\s*{directive} (\d+)([km]);", config, re.MULTILINE).groups()
    return int(number) * {"k": 1024, "m": 1024 * 1024}[unit]


def test_the_proxy_buffers_both_ways_and_takes_every_body_the_site_takes() -> None:
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    timeouts = {
        name: int(matched(rf"^\s*{name} (\d+)s;", config, re.MULTILINE)[1])
        for name in ("client_header_timeout", "client_body_timeout", "send_timeout")
    }

    assert "proxy_request_buffering on;" in config
    assert "proxy_buffering on;" in config
    assert "_buffering off" not in config
    assert max(timeouts.values()) <= 30, timeouts
    # A BibTeX file a little over the limit still reaches the app, which explains the limit.
    assert nginx_bytes(config, "client_max_body_size") >= 2 * bibtex_max_bytes()
    assert nginx_bytes(config, "client_body_buffer_size") >= settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert settings.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    assert "proxy_set_header X-Forwarded-Proto $forwarded_proto;" in config
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in config


def test_compose_keeps_data_in_named_volumes(compose: dict) -> None:
    for service, mount_point in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        volume, _, target = compose["services"][service]["volumes"][0].partition(":")
        assert target == mount_point
        assert volume in compose["volumes"]


def test_compose_health_checks_and_start_order(compose: dict) -> None:
    services = compose["services"]

    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert services["web"]["healthcheck"]["test"][:3] == ["CMD", "python", "-c"]
    # Ready, not merely up: a web that cannot reach the database gets no traffic.
    assert "http://127.0.0.1:8000/readyz" in services["web"]["healthcheck"]["test"][3]
    assert services["beat"]["healthcheck"]["test"] == [
        "CMD",
        "python",
        "manage.py",
        "health_check",
        "tick",
    ]
    assert "health_check" in get_commands()
    assert (
        "celery -A config inspect ping -d celery@$$HOSTNAME"
        in services["worker"]["healthcheck"]["test"][1]
    )
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }, name
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}, name


def test_compose_commands_refer_to_code_that_exists(compose: dict) -> None:
    services = compose["services"]

    migrate = services["migrate"]["command"]
    assert migrate == ["python", "manage.py", "migrate", "--noinput"]
    assert (ROOT / migrate[1]).is_file()

    web = services["web"]["command"]
    assert web[0] == "gunicorn"
    # Only located here: the gunicorn tests below run this very command.
    module, _, attribute = web[1].partition(":")
    assert attribute == "application"
    assert importlib.util.find_spec(module) is not None

    for name in ("worker", "beat"):
        command = services[name]["command"]
        assert command[:3] == ["celery", "-A", "config"], name
        assert find_app(command[2]).main == "paperboy"
    assert services["beat"]["command"][3] == "beat"


def test_metrics_of_every_process_go_to_one_shared_directory(compose: dict) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env = re.search(r"PROMETHEUS_MULTIPROC_DIR=(\S+)", dockerfile)
    web = compose["services"]["web"]["command"]
    cmd = re.search(r"^CMD (.+)$", dockerfile, flags=re.MULTILINE)

    assert env is not None
    assert f"mkdir -p {env[1]}" in dockerfile
    for name in ("web", "worker"):
        volume, _, target = compose["services"][name]["volumes"][0].partition(":")
        assert target == env[1], name
        assert volume in compose["volumes"], name
    # gunicorn's hook for exited workers (config/gunicorn.py), in compose and the image alike.
    assert web[web.index("--config") + 1] == "python:config.gunicorn"
    assert importlib.util.find_spec("config.gunicorn") is not None
    assert cmd is not None
    assert yaml.safe_load(cmd[1]) == web


def worker_queues(command: list[str]) -> set[str]:
    return set(command[command.index("-Q") + 1].split(","))


def test_every_worker_listens_to_every_queue_tasks_are_routed_to(compose: dict) -> None:
    routed = {settings.CELERY_TASK_DEFAULT_QUEUE} | {
        route["queue"] for route in settings.CELERY_TASK_ROUTES.values()
    }
    procfile = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile.dev").read_text().splitlines() if line
    )

    assert worker_queues(compose["services"]["worker"]["command"]) == routed
    assert worker_queues(shlex.split(procfile["worker"])) == routed
    assert shlex.split(procfile["beat"])[:4] == ["celery", "-A", "config", "beat"]


def test_make_run_migrates_loads_the_sample_queues_a_live_fetch_and_starts_the_procfile() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    steps = [
        "manage.py migrate",
        "manage.py load_sample",
        "fetch_hf_today.delay()",
        "honcho -f Procfile.dev start",
    ]
    positions = [dry_run.stdout.find(step) for step in steps]
    procfile = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile.dev").read_text().splitlines() if line
    )

    assert -1 not in positions, dry_run.stdout
    assert positions == sorted(positions), dry_run.stdout
    assert "DEBUG=${DEBUG:-true}" in dry_run.stdout
    assert set(procfile) == {"web", "worker", "beat"}
    assert shlex.split(procfile["web"])[:4] == [
        "python",
        "manage.py",
        "runserver",
        "127.0.0.1:8000",
    ]


def test_the_beat_schedule_names_tasks_that_exist() -> None:
    app = find_app("config")
    app.loader.import_default_modules()

    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled
    assert scheduled <= set(app.tasks)


def test_the_image_is_slim_runs_as_a_user_and_keeps_no_secret() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = [
        line.split(None, 1) for line in dockerfile.splitlines() if line and not line.startswith("#")
    ]
    env_lines = " ".join(rest for word, rest in instructions if word == "ENV")
    users = [rest.strip() for word, rest in instructions if word == "USER"]

    assert instructions[0] == ["FROM", "python:3.11-slim"]
    assert "pip install -r requirements.txt" in dockerfile
    assert re.search(
        r"SECRET_KEY=\S+ DEBUG=false python manage.py collectstatic --noinput", dockerfile
    )
    assert "SECRET_KEY" not in env_lines
    assert users
    assert users[-1] not in {"root", "0"}
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", "var/", ".git"} <= set(ignored)


def settings_variables() -> set[str]:
    source = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r"env\.\w+\(\s*\"([A-Z][A-Z0-9_]+)\"", source))


def test_the_readme_documents_every_variable_the_settings_read() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))

    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DEBUG"} <= settings_variables()
    assert settings_variables() <= documented


def test_the_env_example_names_the_production_variables_without_a_secret() -> None:
    example = (ROOT / ".env.example").read_text()
    values = dict(
        line.split("=", 1)
        for line in example.splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )

    assert {
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
        "SITE_URL",
        "POSTGRES_PASSWORD",
    } <= set(values)
    assert values["SECRET_KEY"] == ""


# --- What the web container runs, run here --------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated SQLite database and collected static files, as the migrate job and build do."""
    tmp = tmp_path_factory.mktemp("site")
    env = production_env(
        tmp,
        DATABASE_URL=f"sqlite:///{tmp / 'paperboy.sqlite3'}",
        STATIC_ROOT=str(tmp / "static"),
        LOG_LEVEL="WARNING",
    )
    for args in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        result = manage(*args, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    return env


@contextmanager
def gunicorn(command: list[str], env: dict[str, str]) -> Iterator[str]:
    """Run the compose web command on a free loopback port; yield its base URL; stop it."""
    port = free_port()
    bind = command.index("--bind") + 1
    argv = [
        sys.executable,
        "-m",
        *command[:bind],
        f"127.0.0.1:{port}",
        *command[bind + 1 :],
        "--workers",
        "1",
    ]
    log = Path(env["HOME"]) / f"gunicorn-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                requests.get(base, timeout=2, allow_redirects=False)
                break
            except (requests.ConnectionError, requests.Timeout):
                # Refused while it binds; a timeout while its worker is still importing the site.
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield base
    finally:
        process_stop(process)


# slow: it migrates a fresh database, collects static files and starts gunicorn.
@pytest.mark.slow
def test_gunicorn_serves_the_site_and_its_static_files_with_production_settings(
    compose: dict, site: dict[str, str]
) -> None:
    env = {**site, "SECURE_SSL_REDIRECT": "false"}
    manifest = (Path(env["STATIC_ROOT"]) / "staticfiles.json").read_text()
    hashed = yaml.safe_load(manifest)["paths"]["admin/css/base.css"]

    with gunicorn(compose["services"]["web"]["command"], env) as base:
        home = requests.get(f"{base}/", timeout=10)
        static = requests.get(f"{base}/static/{hashed}", timeout=10)
        unknown_host = requests.get(f"{base}/", headers={"Host": "evil.example"}, timeout=10)

    assert home.status_code == 200
    assert home.headers["Content-Type"].startswith("text/html")
    assert home.headers["X-Frame-Options"] == "DENY"
    assert static.status_code == 200
    assert static.content == (Path(env["STATIC_ROOT"]) / hashed).read_bytes()
    assert "immutable" in static.headers["Cache-Control"]
    assert unknown_host.status_code == 400


# slow: it migrates a fresh database, collects static files and starts gunicorn.
@pytest.mark.slow
def test_behind_a_tls_proxy_plain_http_is_redirected_and_the_web_healthcheck_passes(
    compose: dict, site: dict[str, str]
) -> None:
    web = compose["services"]["web"]
    healthcheck = web["healthcheck"]["test"][3]

    def probe(port: str) -> int:
        code = healthcheck.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        return subprocess.run(
            [sys.executable, "-c", code], env=site, capture_output=True, timeout=30
        ).returncode

    with gunicorn(web["command"], site) as base:
        plain = requests.get(f"{base}/", timeout=10, allow_redirects=False)
        proxied = requests.get(f"{base}/", headers={"X-Forwarded-Proto": "https"}, timeout=10)
        healthy = probe(base.rsplit(":", 1)[1])
        port = base.rsplit(":", 1)[1]

    assert plain.status_code == 301
    assert plain.headers["Location"] == f"https://127.0.0.1:{port}/"
    assert proxied.status_code == 200
    assert proxied.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert healthy == 0
    assert probe(port) != 0  # and it does fail once the site is down
