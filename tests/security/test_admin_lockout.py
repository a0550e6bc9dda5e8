"""Admin sign-in under django-axes: a lock per user name and per address, a clear page, a record."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
PASSWORD = "a long passphrase 42"
LIMIT = 3  # smaller than the default (10) to keep the tests short; the rule is the same


@pytest.fixture(autouse=True)
def _small_limit(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.PAPERBOY_TRUSTED_PROXIES = 0


def _editor(name: str = "editor") -> User:
    return User.objects.create_superuser(name, f"{name}@example.org", PASSWORD)


def _sign_in(name: str, password: str, *, address: str = "192.0.2.10", **headers: str) -> Any:
    return Client(REMOTE_ADDR=address).post(
        f"{LOGIN}?next=/admin/",
        {"username": name, "password": password, "next": "/admin/"},
        secure=True,
        headers=headers,
    )


def _assert_locked(response: Any) -> None:
    assert response.status_code == 429
    page = response.content.decode()
    assert "Sign-in locked" in page
    assert "axes_reset_username" in page
    assert "an hour" in page
    assert response["Retry-After"] == "3600"
    assert "_auth_user_id" not in response.client.session


def test_forty_wrong_passwords_then_the_right_one_is_still_refused() -> None:
    _editor()
    for _ in range(40):
        response = _sign_in("editor", "wrong")
        assert response.status_code in (200, 429)  # the form again, then the lockout page

    response = _sign_in("editor", PASSWORD)

    _assert_locked(response)
    assert not AccessLog.objects.exists()  # no successful sign-in was recorded


def test_the_limit_is_reached_exactly_at_the_setting() -> None:
    _editor()
    answers = [_sign_in("editor", "wrong").status_code for _ in range(LIMIT)]

    assert answers == [200] * (LIMIT - 1) + [429]


def test_another_user_from_the_same_address_is_locked_by_address() -> None:
    _editor()
    _editor("colleague")
    for _ in range(LIMIT):
        _sign_in("editor", "wrong", address="192.0.2.10")

    _assert_locked(_sign_in("colleague", PASSWORD, address="192.0.2.10"))
    assert _sign_in("colleague", PASSWORD, address="198.51.100.7").status_code == 302


def test_the_same_user_from_another_address_is_locked_by_user_name() -> None:
    _editor()
    for index in range(LIMIT):
        _sign_in("editor", "wrong", address=f"203.0.113.{index + 1}")

    _assert_locked(_sign_in("editor", PASSWORD, address="198.51.100.7"))


def test_a_successful_sign_in_resets_the_count() -> None:
    _editor()
    for _ in range(LIMIT - 1):
        _sign_in("editor", "wrong")

    assert _sign_in("editor", PASSWORD).status_code == 302
    assert not AccessAttempt.objects.exists()
    # A full set of failures is needed again before the next lock.
    answers = [_sign_in("editor", "wrong").status_code for _ in range(LIMIT - 1)]
    assert answers == [200] * (LIMIT - 1)
    assert _sign_in("editor", PASSWORD).status_code == 302


def test_every_attempt_is_recorded_without_the_password() -> None:
    _editor()
    for _ in range(2):
        _sign_in("editor", "hunter2-secret")
    _sign_in("editor", PASSWORD)  # success: logged, and the two failures' count reset
    for _ in range(LIMIT):
        _sign_in("editor", "hunter2-secret", address="192.0.2.99")

    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (
        "editor",
        "192.0.2.99",
        LIMIT,
    )
    failures = AccessFailureLog.objects.order_by("pk")
    assert [row.locked_out for row in failures] == [False] * (2 + LIMIT - 1) + [True]
    assert AccessLog.objects.get().username == "editor"
    assert "hunter2-secret" not in attempt.post_data
    assert PASSWORD not in attempt.post_data


def test_the_proxy_address_counts_only_as_far_as_the_trusted_proxies(settings: Any) -> None:
    settings.PAPERBOY_TRUSTED_PROXIES = 1
    _editor()
    # The client writes the left entries and may change them at will: only the one the proxy
    # appended counts, so rotating them does not escape the address lock.
    for index in range(LIMIT):
        _sign_in(
            f"nobody{index}",
            "wrong",
            address="10.0.0.2",
            X_Forwarded_For=f"198.18.0.{index}, 192.0.2.50",
        )

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"192.0.2.50"}
    _assert_locked(
        _sign_in("editor", PASSWORD, address="10.0.0.2", X_Forwarded_For="1.2.3.4, 192.0.2.50")
    )


def test_a_forwarded_address_that_is_no_address_is_not_a_server_error(settings: Any) -> None:
    settings.PAPERBOY_TRUSTED_PROXIES = 2  # more than there are: the client's text is taken
    _editor()

    response = _sign_in("editor", "wrong", X_Forwarded_For="not-an-address, 192.0.2.50")

    assert response.status_code == 200
    assert AccessAttempt.objects.get().ip_address is None


def test_the_audit_records_are_in_the_admin() -> None:
    editor = _editor()
    _sign_in("editor", "wrong")
    client = Client()
    client.force_login(editor)

    for model in ("accessattempt", "accessfailurelog", "accesslog"):
        response = client.get(reverse(f"admin:axes_{model}_changelist"), secure=True)
        assert response.status_code == 200, model
