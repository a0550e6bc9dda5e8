"""Shared by the security tests: no network at all, a snapshot of everything stored, and the fuzz settings."""

from __future__ import annotations

import ipaddress
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.apps import apps
from hypothesis import HealthCheck, settings

# Deterministic and modest: the same examples every run, and the whole folder in well under a minute.
FUZZ = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# The apps whose rows bad input must never touch, plus the users and sessions of the admin.
STORED_APPS = ("papers", "subscriptions", "digest", "auth", "sessions")


def _loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[responses.RequestsMock]:
    """Every `requests` call fails as if offline, and any socket to a non-loopback address is refused."""
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            raise ConnectionRefusedError(f"the security tests never touch the network ({address!r})")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


@pytest.fixture(autouse=True)
def _own_cache(settings: Any) -> None:
    """Rate limits count in the cache: each test gets an empty one of its own (never a flush of a real Redis)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }


def stored_state() -> dict[str, Any]:
    """Every row of every model that bad input must not change, by model (ids and all field values)."""
    state: dict[str, Any] = {}
    for app_label in STORED_APPS:
        try:
            config = apps.get_app_config(app_label)
        except LookupError:
            continue
        for model in config.get_models():
            fields = [field.attname for field in model._meta.concrete_fields]
            rows = model._default_manager.order_by("pk").values_list(*fields)
            state[model._meta.label] = [tuple(_comparable(value) for value in row) for row in rows]
    return state


def _comparable(value: Any) -> Any:
    # Vectors and JSON come back as lists and dicts: compare them by their text.
    return repr(value) if isinstance(value, list | dict | bytes | memoryview) else value


def state_counts(state: dict[str, Any]) -> dict[str, int]:
    """Rows per model, for a readable assertion message."""
    return {label: len(rows) for label, rows in state.items() if rows}
