"""Subscription test fixtures: the real sign-up form and on-commit callbacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.helpers import FORM


@pytest.fixture
def signup(client: Client, django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """POST the sign-up form (FORM's defaults) and run the on-commit callbacks (the email task)."""

    def post(**fields: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/subscribe/", {**FORM, **fields})

    return post


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """A context manager that runs on-commit callbacks (the eager Celery tasks) when it exits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
