"""Shared test set-up: test settings, the fixtures directory, and service-dependent markers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connection

FIXTURES = Path(__file__).parent / "fixtures"
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
