"""Shared test set-up: service markers, a fresh cache, the headless browser, eager retries, and
a stub DNS for the team channels."""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from hypothesis import is_hypothesis_test

from config.celery import app
from tests.helpers import CHROMIUM, CHROMIUM_ARGS

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _service_missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}, and CI=true requires it", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _skip_without_service(request: pytest.FixtureRequest) -> None:
    """Skip (or, under CI=true, fail) tests whose service is absent."""
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _service_missing("needs PostgreSQL: set DATABASE_URL=postgres://...")
    if request.node.get_closest_marker("redis") and not os.environ.get("REDIS_URL"):
        _service_missing("needs Redis: set REDIS_URL=redis://...")


@pytest.fixture(autouse=True)
def _fresh_cache(settings: Any) -> None:
    """A new empty cache per test: rate limits and once-a-minute keys count there, and a test
    must not inherit another's (never a flush of a real Redis). Tests of Redis set their own."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": uuid.uuid4().hex,
        }
    }


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        _service_missing(f"needs headless Chromium at {CHROMIUM} (apt-get install chromium)")
    # Imported here: playwright is optional; without it the fixture skips (fails under CI=true).
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _service_missing("needs the playwright package")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # around it are still plain synchronous calls.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield launched
            launched.close()


@pytest.fixture
def retrying_eagerly() -> Iterator[None]:
    """Let eager tasks retry in place like a worker (propagation lets the first Retry escape)."""
    propagates = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = propagates


@pytest.fixture
def channel_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A DNS of a few public hosts (add names to the dict); any other name does not resolve,
    and an address resolves to itself."""
    table = {
        "hooks.slack.com": "52.89.214.238",
        "discord.com": "162.159.128.233",
        "discordapp.com": "162.159.129.233",
        "hooks.example.org": "93.184.216.34",
    }

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list:
        address = table.get(host, host if _is_address(host) else None)
        if address is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if ":" in address:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# The fixture that loads the real MiniLM model and embeds the judged papers
# (tests/digest/conftest.py).
REAL_MODEL_FIXTURES = {"judged"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark browser, Hypothesis and real-model tests `slow` by rule, so `test-fast` skips them."""
    # Hypothesis' own plugin adds its `hypothesis` marker after this conftest hook has run, so ask
    # it directly.
    for item in items:
        fuzzing = isinstance(item, pytest.Function) and is_hypothesis_test(item.obj)
        real_model = bool(REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ())))
        if fuzzing or real_model or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)
