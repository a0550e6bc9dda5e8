"""Helpers for the subscription tests: a factory, sign-up through the real form, links out of emails."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import factory
import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from subscriptions.models import Subscriber

FORM = {
    "email": "ada@example.org",
    "interests": "3D human pose estimation, efficient LLM inference",
    "categories": ["cs.CV", "cs.CL"],
    "frequency": "weekdays",
    "digest_size": "7",
    "delivery_hour": "9",
    "timezone": "Europe/Paris",
}


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings: Any) -> None:
    """Rate limits count in the cache: each test gets an empty one of its own (never a flush of a real Redis)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }


class SubscriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscriber

    email = factory.Sequence(lambda n: f"reader{n}@example.org")
    interests = "sparse attention"
    status = Subscriber.Status.ACTIVE
    confirmed_at = factory.LazyFunction(timezone.now)


def link_path(message: mail.EmailMessage, name: str) -> str:
    """The path of the first /<name>/<token>/ link in an email's text part."""
    found = re.search(rf"https?://[^\s/]+(/{name}/[^\s/]+/)", message.body)
    assert found, f"no /{name}/ link in:\n{message.body}"
    return urlsplit(found.group(0)).path


@pytest.fixture
def signup(client: Client, django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """POST the sign-up form (with FORM's defaults) and run what was queued on commit (the email task)."""

    def post(**fields: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/subscribe/", {**FORM, **fields})

    return post


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """A context manager that runs on-commit callbacks (the eager Celery tasks) when it exits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def page_link(response: Any, name: str) -> str:
    """The path of the first href="/<name>/<token>/..." link on a page."""
    found = re.search(rf'href="(/{name}/[^"/]+/)"', response.content.decode())
    assert found, f"no /{name}/ link on the page"
    return found.group(1)
