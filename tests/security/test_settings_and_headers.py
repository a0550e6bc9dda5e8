"""Security settings on real responses: HSTS, cookies, the Content Security Policy, frame
protection, the admin behind its login, no secret with a production default, and `check --deploy`
clean.

The test settings are the production ones (DEBUG off) but for SECURE_SSL_REDIRECT, so requests
made with `secure=True` are what a browser sends through the TLS proxy.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from subscriptions.models import Subscriber
from subscriptions.tokens import Purpose, token_make
from tests.factories import PaperFactory, SubscriberFactory
from tests.helpers import clean_env, run_python

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
ONE_YEAR = 31536000


def csp_directives(response: Any) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def public_pages() -> list[str]:
    """One URL of every kind of public page, with the data each needs."""
    paper = PaperFactory.create(arxiv_id="2511.00042")
    subscriber = SubscriberFactory.create()
    pages = ["/", f"/papers/{paper.arxiv_id}/", "/search/?q=attention", "/papers/date/2025-11-20/"]
    pages += [
        "/papers/week/2025-W47/",
        "/papers/month/2025-11/",
        "/subscribe/",
        "/subscribe/check-your-inbox/",
    ]
    for purpose in (Purpose.CONFIRM, Purpose.MANAGE, Purpose.UNSUBSCRIBE):
        token = token_make(subscriber_id=subscriber.pk, address=subscriber.email, purpose=purpose)
        pages.append(f"/{purpose.value}/{token}/")
    pages += ["/confirm/not-a-token/", "/no-such-page/", "/admin/login/"]
    return pages


# --- Headers on every page ------------------------------------------------------------------------


def test_every_page_sends_hsts_for_a_year_with_subdomains_and_preload_over_https(
    client: Client,
) -> None:
    for url in public_pages():
        response = client.get(url, secure=True)

        hsts = response["Strict-Transport-Security"]
        assert hsts == f"max-age={ONE_YEAR}; includeSubDomains; preload", url


def test_hsts_is_never_sent_over_plain_http(client: Client) -> None:
    # A browser ignores it there, and a man in the middle could strip it: only the TLS answer
    # carries it.
    assert not client.get("/").has_header("Strict-Transport-Security")


def test_every_page_forbids_framing_sniffing_and_leaking_the_referrer(client: Client) -> None:
    for url in public_pages():
        response = client.get(url, secure=True)

        assert response["X-Frame-Options"] == "DENY", url
        assert csp_directives(response)["frame-ancestors"] == ["'none'"], url
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert response["Referrer-Policy"] == "same-origin", url
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", url


def test_every_page_has_a_strict_content_security_policy(client: Client) -> None:
    for url in public_pages():
        policy = csp_directives(client.get(url, secure=True))

        assert policy["default-src"] == ["'self'"], url
        # Scripts: only our own files. No inline script, no eval, no other host, no data: or blob:
        # URL.
        assert policy["script-src"] == ["'self'"], url
        assert policy["style-src"] == ["'self'"], url
        assert policy["object-src"] == ["'none'"], url
        assert policy["base-uri"] == ["'none'"], url
        assert policy["form-action"] == ["'self'"], url
        for name, sources in policy.items():
            if name != "style-src-attr":
                assert "'unsafe-inline'" not in sources, (url, name)
                assert "'unsafe-eval'" not in sources, (url, name)
            assert "*" not in sources, (url, name)
            assert "http:" not in sources, (url, name)


def test_no_page_of_ours_holds_an_inline_script_or_style_element(client: Client) -> None:
    """What the policy would block: every script and style sheet is a file under /static/."""
    for url in public_pages():
        html = client.get(url, secure=True).content.decode()

        for tag in re.findall(r"<script\b[^>]*>", html):
            assert re.search(r'\ssrc="/static/', tag), (url, tag)
        assert "<style" not in html, url
        assert not re.search(r"\son[a-z]+\s*=", html), url  # no onclick= and the like
        assert "javascript:" not in html, url


# --- Cookies --------------------------------------------------------------------------------------


def test_the_csrf_cookie_is_secure_httponly_and_same_site() -> None:
    response = Client().get("/subscribe/", secure=True)

    cookie = response.cookies[django_settings.CSRF_COOKIE_NAME]
    assert cookie.value
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_the_admin_session_cookie_is_secure_httponly_and_same_site() -> None:
    get_user_model().objects.create_superuser(
        "editor", "editor@example.org", "a long passphrase 42"
    )
    client = Client()

    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "editor", "password": "a long passphrase 42", "next": "/admin/"},
        secure=True,
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie.value
    assert (cookie["secure"], cookie["httponly"], cookie["samesite"]) == (True, True, "Lax")


# --- The admin ------------------------------------------------------------------------------------

ADMIN_PAGES = [
    "/admin/",
    "/admin/subscriptions/subscriber/",
    "/admin/subscriptions/subscriber/1/change/",
    "/admin/papers/paper/",
    "/admin/papers/fetchrun/",
    "/admin/auth/user/",
]


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_the_admin_sends_anyone_not_logged_in_to_its_login_page(client: Client, url: str) -> None:
    SubscriberFactory.create(email="private@example.org")

    response = client.get(url, secure=True)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")
    assert b"private@example.org" not in response.content


def test_the_admin_refuses_a_staff_member_without_permissions_and_a_non_staff_user() -> None:
    user_model = get_user_model()
    staff = user_model.objects.create_user(
        "staff", "staff@example.org", "a long passphrase 42", is_staff=True
    )
    reader = user_model.objects.create_user("reader", "reader@example.org", "a long passphrase 42")
    SubscriberFactory.create(email="private@example.org")

    staff_client, reader_client = Client(), Client()
    staff_client.force_login(staff)
    reader_client.force_login(reader)

    assert staff_client.get("/admin/subscriptions/subscriber/", secure=True).status_code == 403
    assert reader_client.get("/admin/subscriptions/subscriber/", secure=True).status_code == 302


def test_an_admin_post_without_a_login_changes_nothing(client: Client) -> None:
    subscriber = SubscriberFactory.create(email="private@example.org")

    response = client.post(
        f"/admin/subscriptions/subscriber/{subscriber.pk}/delete/", {"post": "yes"}, secure=True
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()


# --- Secrets and check --deploy -------------------------------------------------------------------

# Settings names that hold a secret: none may get a non-empty default from settings.py.
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|TOKEN|API_KEY|SIGNING_KEY|PRIVATE)")


def test_no_secret_read_from_the_environment_has_a_production_default() -> None:
    source = (ROOT / "config" / "settings.py").read_text()
    reads = re.findall(r'env\.\w+\(\s*"([A-Z0-9_]+)"(?:,\s*default=([^)]*))?\)', source)

    secret_reads = [(name, default) for name, default in reads if SECRET_NAME.search(name)]
    assert any(name == "SECRET_KEY" for name, _ in secret_reads)
    for name, default in secret_reads:
        if name == "SECRET_KEY" and "dev-only" in default:
            continue  # the DEBUG-only key, guarded by `if DEBUG:` (checked below)
        assert default.strip() in {"", '""', "''"}, f"{name} has a default: {default}"
    # The only default key is the development one, and only inside `if DEBUG:`.
    assert re.search(
        r"if DEBUG:\n\s+SECRET_KEY = env\.str\(\"SECRET_KEY\", default=\"dev-only", source
    )


def _settings_in_a_fresh_process(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    code = (
        "from django.conf import settings; print(repr(settings.SECRET_KEY), repr(settings.ANYMAIL))"
    )
    return run_python(code, clean_env(tmp_path, **env))


@pytest.mark.parametrize("debug", [None, "false", "0", "no"])
def test_with_debug_off_nothing_starts_without_a_secret_key(
    tmp_path: Path, debug: str | None
) -> None:
    env = {} if debug is None else {"DEBUG": debug}

    result = _settings_in_a_fresh_process(tmp_path, **env)

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
    assert "dev-only" not in result.stdout


def test_with_debug_off_webhooks_get_no_secret_by_default(tmp_path: Path) -> None:
    key = secrets.token_urlsafe(50)

    result = _settings_in_a_fresh_process(tmp_path, DEBUG="false", SECRET_KEY=key)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == repr(key)
    assert "WEBHOOK_SECRET" not in result.stdout  # webhooks are refused until an operator sets one


def test_check_deploy_finds_nothing_with_production_settings(settings: Any) -> None:
    # The test settings turn the HTTPS redirect off; production has it on (tests/test_deploy.py runs
    # the same check in a fresh process with the real environment).
    settings.SECURE_SSL_REDIRECT = True
    settings.SECRET_KEY = secrets.token_urlsafe(50)  # the test settings' key is short on purpose
    out = StringIO()

    call_command("check", deploy=True, fail_level="WARNING", stdout=out, stderr=out)

    assert "no issues" in out.getvalue()


def test_check_deploy_does_fail_when_a_protection_is_switched_off(settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    settings.SESSION_COOKIE_SECURE = False

    with pytest.raises(SystemCheckError, match="security.W012"):
        call_command(
            "check", deploy=True, fail_level="WARNING", stdout=StringIO(), stderr=StringIO()
        )
