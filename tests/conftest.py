"""Shared test set-up: test settings, the fixtures directory, and service-dependent markers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

FIXTURES = Path(__file__).parent / "fixtures"
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
# As root and offline: no sandbox, and none of Chromium's own calls home (they would be refused).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def fixture_bytes(relative: str) -> bytes:
    """The bytes of a captured real response under tests/fixtures."""
    return (FIXTURES / relative).read_bytes()


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}, and CI=true requires it", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _services(request: pytest.FixtureRequest) -> None:
    """Skip (or, under CI=true, fail) tests whose service is absent."""
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _missing("needs PostgreSQL: set DATABASE_URL=postgres://...")
    if request.node.get_closest_marker("redis") and not os.environ.get("REDIS_URL"):
        _missing("needs Redis: set REDIS_URL=redis://...")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        _missing(f"needs headless Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("needs the playwright package")
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
    """Let eager tasks run their retries in place, as a worker would (with propagation on, the first Retry escapes)."""
    from config.celery import app

    propagates = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = propagates
