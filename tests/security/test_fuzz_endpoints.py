"""Hypothesis fuzz of each public endpoint: whatever arrives, no 5xx, nothing stored from bad input.

Extends tests/subscriptions/test_fuzz.py (the sign-up and manage forms field by field) and the
webhook fuzz in tests/subscriptions/test_webhooks.py (Postmark and Mailgun bodies) with: random
paths and query strings on every route, GET and HEAD never changing anything even with a real
token, random POSTs everywhere, header injection checked on the raw bytes of the email that goes
out, bodies past DATA_UPLOAD_MAX_MEMORY_SIZE, and random bodies to every provider's webhook with
and without credentials.
"""

from __future__ import annotations

import json
import string
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from subscriptions.models import Subscriber
from subscriptions.tokens import Purpose, token_make
from subscriptions.webhooks import urlpatterns as webhook_patterns
from tests.factories import PaperFactory, SubscriberFactory
from tests.helpers import FORM, WEBHOOK_SECRET, basic_auth
from tests.helpers_fuzz import FUZZ, state_counts, stored_state

pytestmark = [
    pytest.mark.django_db,
    # Every provider's webhook is exercised, including the deprecated and unsupported ones, and the
    # refusal of an insecure set-up is tested on purpose: Anymail's warnings about those are
    # expected.
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning"),
]

PROVIDERS = sorted(str(pattern.pattern).split("/")[0] for pattern in webhook_patterns)
PAPER_ID = "2511.00042"

# --- Strategies -----------------------------------------------------------------------------------

_TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_:"
anything = st.text(max_size=60)
token_like = st.one_of(
    st.text(alphabet=_TOKEN_ALPHABET, min_size=1, max_size=120),
    st.text(min_size=1, max_size=80),
    st.sampled_from(
        ["..", "%2e%2e", "%00", "a" * 3000, "eyJzIjoxfQ:1abc:zz", "' OR 1=1 --", "<script>"]
    ),
)
day_like = st.one_of(
    st.dates().map(str),
    st.sampled_from(
        ["0000-00-00", "9999-12-31", "2025-02-30", "1899-12-31", "2025-11-20", "-001-01-01"]
    ),
    st.from_regex(r"\A\d{4}-\d{2}-\d{2}\Z"),
    anything,
)
week_like = st.one_of(
    st.from_regex(r"\A\d{4}-W\d{2}\Z"), st.sampled_from(["2025-W47", "2025-W00", "2025-W54"])
)
month_like = st.one_of(
    st.from_regex(r"\A\d{4}-\d{2}\Z"), st.sampled_from(["2025-11", "2025-00", "2025-13"])
)
arxiv_like = st.one_of(
    st.from_regex(r"\A\d{4}\.\d{4,5}\Z"),
    st.sampled_from([PAPER_ID, "astro-ph/0601001", "math.GT/0309136", "2511.000421", "x/1234567"]),
    anything,
)
SEGMENTS: dict[str, st.SearchStrategy[str]] = {
    "token": token_like,
    "day": day_like,
    "week": week_like,
    "month": month_like,
    "arxiv": arxiv_like,
    "version": st.one_of(st.integers(-5, 10**12).map(str), anything),
    "esp": st.one_of(st.sampled_from(PROVIDERS), anything),
    "key": st.one_of(token_like, st.sampled_from(["../../etc/passwd", "..%2f..%2fsettings.py"])),
    "any": st.text(max_size=80),
    "direction": st.one_of(st.sampled_from(["more", "less"]), anything),
}
ROUTES = [
    "/",
    "/papers/date/{day}/",
    "/papers/week/{week}/",
    "/papers/month/{month}/",
    "/papers/{arxiv}/",
    "/papers/{arxiv}v{version}/",
    "/search/",
    "/subscribe/",
    "/subscribe/check-your-inbox/",
    "/confirm/{token}/",
    "/manage/{token}/",
    "/manage/{token}/pause/",
    "/manage/{token}/email/",
    "/manage/{token}/export/",
    "/manage/{token}/delete/",
    "/email/{token}/",
    "/unsubscribe/{token}/",
    "/outbox/",
    "/outbox/{key}/",
    "/digest/",
    "/digest/{day}/",
    "/digest/vote/{token}/{direction}/",
    "/anymail/{esp}/tracking/",
    "/admin/{any}",
    "/static/{any}",
    "/{any}",
]
# Parameters the views read, and random ones.
QUERY_KEYS = st.one_of(
    st.sampled_from(["q", "page", "email", "kind", "next", "format", "o", "p"]), anything
)
QUERY_VALUES = st.one_of(
    anything,
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(
        ["0", "-1", "1e9", "NaN", "", "%", "\x00", "a" * 5000, "<script>alert(1)</script>"]
    ),
)
queries = st.lists(st.tuples(QUERY_KEYS, QUERY_VALUES), max_size=4)


@st.composite
def paths(draw: st.DrawFn) -> str:
    """A route, each placeholder filled by something random and URL-quoted as a browser sends it."""
    route = draw(st.sampled_from(ROUTES))
    for name, strategy in SEGMENTS.items():
        placeholder = "{" + name + "}"
        if placeholder in route:
            route = route.replace(placeholder, quote(draw(strategy), safe=""))
    return route


# --- Data to find: papers, a subscriber, and real tokens ------------------------------------------


@pytest.fixture
def site() -> dict[str, Any]:
    """A few papers on 2025-11-20 and an active subscriber with a real token for every purpose."""
    PaperFactory.create(arxiv_id=PAPER_ID)
    PaperFactory.create_batch(3)
    subscriber = SubscriberFactory.create(
        email="reader@example.org", categories=["cs.CV"], pending_email="new@example.org"
    )
    tokens = {
        purpose: token_make(
            subscriber_id=subscriber.pk,
            # A change-email link goes to the new address, every other link to the current one.
            address=subscriber.pending_email
            if purpose == Purpose.CHANGE_EMAIL
            else subscriber.email,
            purpose=purpose,
        )
        for purpose in Purpose
    }
    return {"subscriber": subscriber, "tokens": tokens}


def _assert_unchanged(before: dict[str, Any], response: Any, what: str) -> None:
    after = stored_state()
    assert after == before, (
        f"{what} -> {response.status_code} changed what is stored: {state_counts(after)}"
    )


# --- GET and HEAD: anything, anywhere, changes nothing --------------------------------------------


@FUZZ
@given(path=paths(), query=queries, method=st.sampled_from(["GET", "HEAD"]))
@example(path="/papers/date/9999-12-31/", query=[("page", "9" * 30)], method="GET")
@example(path="/search/", query=[("q", "\x00"), ("page", "-1")], method="GET")
@example(path="/subscribe/", query=[("email", "a@b.co\r\nBcc: x@y.zz")], method="GET")
def test_any_get_or_head_answers_without_a_server_error_and_changes_nothing(
    client: Client, site: dict[str, Any], path: str, query: list[tuple[str, str]], method: str
) -> None:
    url = path + ("?" + urlencode(query) if query else "")
    before = stored_state()

    response = client.generic(method, url, secure=True)

    event(f"HTTP {response.status_code}")
    assert response.status_code < 500, url
    if response.get("Content-Type", "").startswith("text/html"):
        assert response.has_header("Content-Security-Policy"), url
    _assert_unchanged(before, response, f"{method} {url}")
    assert mail.outbox == []


@FUZZ
@given(
    purpose=st.sampled_from(list(Purpose)),
    suffix=st.sampled_from(["", "export/", "delete/"]),
    query=queries,
)
def test_a_get_with_a_real_token_never_acts(
    client: Client,
    site: dict[str, Any],
    purpose: Purpose,
    suffix: str,
    query: list[tuple[str, str]],
) -> None:
    """Mail scanners follow every link in an email: the page shows a button, the POST acts."""
    if suffix and purpose != Purpose.MANAGE:
        suffix = ""
    page = "email" if purpose == Purpose.CHANGE_EMAIL else purpose.value
    url = f"/{page}/{site['tokens'][purpose]}/{suffix}" + ("?" + urlencode(query) if query else "")
    before = stored_state()

    response = client.get(url, secure=True)

    assert response.status_code == 200, url
    _assert_unchanged(before, response, f"GET {url}")


# --- POST: random forms everywhere ----------------------------------------------------------------

form_fields = st.dictionaries(
    st.one_of(
        st.sampled_from([*FORM, "website", "new_email", "action", "csrfmiddlewaretoken"]), anything
    ),
    st.one_of(anything, st.lists(anything, max_size=3)),
    max_size=8,
)


@FUZZ
@given(path=paths(), data=form_fields, csrf=st.booleans())
def test_a_random_post_anywhere_never_fails_and_a_refused_one_stores_nothing(
    site: dict[str, Any], path: str, data: dict[str, Any], csrf: bool
) -> None:
    client = Client(enforce_csrf_checks=csrf)
    before = stored_state()

    response = client.post(path, data, secure=True)

    event(f"HTTP {response.status_code}")
    assert response.status_code < 500, path
    if response.status_code >= 400:
        _assert_unchanged(before, response, f"POST {path}")
        assert mail.outbox == []


# --- Header injection, on the raw message ---------------------------------------------------------

INJECTED = [
    "\r\nBcc: victim@evil.example",
    "\nBcc: victim@evil.example",
    "\rBcc: victim@evil.example",
]
INJECTED += [
    "%0d%0aBcc: victim@evil.example",
    "\u2028Bcc: victim@evil.example",
    "\r\n\r\n<h1>body</h1>",
]


@settings(FUZZ, max_examples=20)  # a sign-up, its email and its rendering each
@given(
    field=st.sampled_from(
        ["email", "interests", "timezone", "frequency", "categories", "digest_size"]
    ),
    payload=st.sampled_from(INJECTED),
    where=st.integers(0, 40),
)
@example(field="interests", payload="\r\nBcc: victim@evil.example", where=0)
def test_header_injection_in_any_sign_up_field_never_reaches_an_email_header(
    client: Client, django_capture_on_commit_callbacks: Any, field: str, payload: str, where: int
) -> None:
    value = FORM[field]
    if isinstance(value, str):
        value = value[:where] + payload + value[where:]
    else:
        value = [value[0][:where] + payload + value[0][where:]]

    Subscriber.objects.all().delete()
    mail.outbox.clear()
    cache.clear()  # this test's own locmem cache: the sign-up limits are not what is explored here
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/subscribe/", {**FORM, field: value}, secure=True)

    assert response.status_code in (303, 400)
    if response.status_code == 400:
        assert not Subscriber.objects.exists()
        assert mail.outbox == []
        return
    [message] = mail.outbox
    raw = message.message().as_bytes()
    headers, _, _ = raw.partition(b"\n\n")
    assert b"evil.example" not in headers, headers
    assert b"Bcc" not in headers, headers
    assert message.recipients() == ["ada@example.org"]
    [subscriber] = Subscriber.objects.all()
    assert "\r" not in subscriber.interests
    assert "\n" not in subscriber.interests


# --- Oversized bodies -----------------------------------------------------------------------------


def _oversized_length(settings: Any, extra: int) -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1 + extra


@pytest.fixture
def browser_client(settings: Any) -> tuple[Client, str]:
    """A browser-like client that loaded the sign-up form: its CSRF cookie, and the form's token."""
    client = Client(enforce_csrf_checks=True)
    form_page = client.get("/subscribe/", secure=True)
    return client, form_page.cookies[settings.CSRF_COOKIE_NAME].value


@pytest.mark.parametrize("charset", ["utf-16", "UTF-16LE", "latin-1", "utf-32", "cp1252"])
@pytest.mark.parametrize(
    "form",
    ["subscribe", "manage", "manage-pause", "manage-feed", "manage-via", "unsubscribe", "admin"],
)
def test_a_form_in_a_charset_other_than_utf_8_is_refused_with_400_and_stores_nothing(
    site: dict[str, Any], browser_client: tuple[Client, str], form: str, charset: str
) -> None:
    client, csrf = browser_client
    tokens = site["tokens"]
    url = {
        "subscribe": "/subscribe/",
        "manage": f"/manage/{tokens[Purpose.MANAGE]}/",
        "manage-pause": f"/manage/{tokens[Purpose.MANAGE]}/pause/",
        "manage-feed": f"/manage/{tokens[Purpose.MANAGE]}/feed/",
        "manage-via": f"/manage/{tokens[Purpose.MANAGE]}/via/",
        "unsubscribe": f"/unsubscribe/{tokens[Purpose.UNSUBSCRIBE]}/",
        "admin": "/admin/login/",
    }[form]
    before = stored_state()

    response = client.post(
        url,
        data=urlencode({"csrfmiddlewaretoken": csrf, "email": "ada@example.org", "via": "feed"}),
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
        secure=True,
    )

    assert response.status_code == 400, (url, response.status_code)
    assert "UTF-8" in response.content.decode()
    _assert_unchanged(before, response, f"POST {url} in {charset}")


@settings(FUZZ, max_examples=30)
@given(
    extra=st.integers(0, 100_000),
    field=st.sampled_from(["interests", "email", "padding", "website"]),
)
def test_an_oversized_sign_up_is_refused_and_stores_nothing(
    settings: Any,
    browser_client: tuple[Client, str],
    django_capture_on_commit_callbacks: Any,
    extra: int,
    field: str,
) -> None:
    client, token = browser_client
    data = {**FORM, "csrfmiddlewaretoken": token, field: "x" * _oversized_length(settings, extra)}

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            "/subscribe/", data, secure=True, headers={"Referer": "https://testserver/subscribe/"}
        )

    assert response.status_code == 400
    assert not Subscriber.objects.exists()
    assert callbacks == []
    assert mail.outbox == []


def test_a_sign_up_just_under_the_limit_is_read_and_judged_on_its_fields(
    client: Client, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The control of the test above: a smaller post reaches the form (and its length check)."""
    padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/subscribe/", {**FORM, "interests": padding}, secure=True)

    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["interests"]


@settings(FUZZ, max_examples=30)
@given(
    path=st.sampled_from(["manage", "manage-email", "unsubscribe", "webhook"]),
    extra=st.integers(0, 100_000),
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded", "application/json", "text/plain"]
    ),
)
def test_an_oversized_body_to_a_token_page_or_a_webhook_is_refused_and_stores_nothing(
    client: Client, site: dict[str, Any], settings: Any, path: str, extra: int, content_type: str
) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    tokens = site["tokens"]
    url = {
        "manage": f"/manage/{tokens[Purpose.MANAGE]}/",
        "manage-email": f"/manage/{tokens[Purpose.MANAGE]}/email/",
        "unsubscribe": f"/unsubscribe/{quote('not-a-token')}/",
        "webhook": "/anymail/postmark/tracking/",
    }[path]
    size = _oversized_length(settings, extra)
    body = b'{"RecordType": "Bounce", "Email": "reader@example.org", "pad": "' + b"x" * size + b'"}'
    before = stored_state()

    response = client.generic(
        "POST", url, body, content_type=content_type, secure=True, **basic_auth(WEBHOOK_SECRET)
    )

    assert response.status_code == 400, (url, response.status_code)
    _assert_unchanged(before, response, f"oversized POST {url}")


# --- Webhooks of every provider -------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
EVENT_KEYS = [
    "event",
    "type",
    "RecordType",
    "Type",
    "email",
    "Email",
    "recipient",
    "data",
    "msys",
    "Message",
]
provider_shaped = st.dictionaries(
    st.sampled_from(EVENT_KEYS), st.one_of(json_values, st.just("reader@example.org")), max_size=5
)
webhook_bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda value: json.dumps(value).encode()),
    provider_shaped.map(lambda value: json.dumps(value).encode()),
    st.lists(provider_shaped, max_size=3).map(lambda value: json.dumps(value).encode()),
)
CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
]
CONTENT_TYPES += ["text/plain", "application/json; charset=utf-16"]


@FUZZ
@given(
    provider=st.sampled_from(PROVIDERS),
    body=webhook_bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
    credentials=st.one_of(st.none(), st.just(""), st.text(max_size=30), st.just("paperboy:wrong")),
)
def test_an_unauthenticated_webhook_of_any_provider_is_refused_and_stores_nothing(
    client: Client,
    site: dict[str, Any],
    settings: Any,
    provider: str,
    body: bytes,
    content_type: str,
    credentials: Any,
) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    url = f"/anymail/{provider}/tracking/"
    before = stored_state()

    response = client.generic(
        "POST", url, body, content_type=content_type, secure=True, **basic_auth(credentials)
    )

    event(f"{response.status_code}")
    assert response.status_code in (400, 404), (url, response.status_code)
    _assert_unchanged(before, response, f"unauthenticated POST {url}")


@FUZZ
@given(
    provider=st.sampled_from(PROVIDERS),
    body=webhook_bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_while_no_webhook_secret_is_set_every_webhook_is_refused_even_with_credentials(
    client: Client,
    site: dict[str, Any],
    settings: Any,
    provider: str,
    body: bytes,
    content_type: str,
) -> None:
    settings.ANYMAIL = {}
    url = f"/anymail/{provider}/tracking/"
    before = stored_state()

    response = client.generic(
        "POST", url, body, content_type=content_type, secure=True, **basic_auth(WEBHOOK_SECRET)
    )

    assert response.status_code in (400, 404), (url, response.status_code)
    _assert_unchanged(before, response, f"POST {url} without a configured secret")


@FUZZ
@given(
    provider=st.sampled_from(PROVIDERS),
    body=webhook_bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_an_authenticated_webhook_of_any_provider_with_any_body_never_fails(
    client: Client,
    site: dict[str, Any],
    settings: Any,
    provider: str,
    body: bytes,
    content_type: str,
) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    url = f"/anymail/{provider}/tracking/"
    before = stored_state()

    response = client.generic(
        "POST", url, body, content_type=content_type, secure=True, **basic_auth(WEBHOOK_SECRET)
    )

    event(f"{provider} {response.status_code}")
    assert response.status_code in (200, 400, 404), (
        url,
        response.status_code,
        response.content[:200],
    )
    if response.status_code != 200:
        _assert_unchanged(before, response, f"authenticated POST {url}")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_webhook_takes_only_posts(
    client: Client, settings: Any, provider: str, method: str
) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    before = stored_state()

    response = client.generic(
        method, f"/anymail/{provider}/tracking/", b"{}", secure=True, **basic_auth(WEBHOOK_SECRET)
    )

    # Unisender Go checks a webhook URL with a GET, which Anymail answers with an empty 200.
    allowed = (200, 404, 405) if (provider, method) == ("unisender_go", "GET") else (404, 405)
    assert response.status_code in allowed
    _assert_unchanged(before, response, f"{method} webhook")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_webhook_body_nested_thousands_deep_is_refused_and_stores_nothing(
    client: Client, site: dict[str, Any], settings: Any, provider: str
) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    before = stored_state()
    for body in ("[" * 5_000 + "]" * 5_000, '{"a":' * 5_000 + "1" + "}" * 5_000):
        response = client.generic(
            "POST",
            f"/anymail/{provider}/tracking/",
            body.encode(),
            content_type="application/json",
            secure=True,
            **basic_auth(WEBHOOK_SECRET),
        )
        assert response.status_code in (400, 404), (provider, response.status_code)
    _assert_unchanged(before, response, f"deeply nested POST to {provider}")


@pytest.mark.parametrize("nul", ["\x00", "\\u0000"])
def test_a_webhook_with_nul_in_a_message_id_is_refused_and_stores_nothing(
    client: Client, site: dict[str, Any], settings: Any, nul: str
) -> None:
    """A Postmark delivery event whose MessageID holds NUL (which PostgreSQL cannot compare)."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    event = {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": site["subscriber"].email,
        "Tag": "digest",
        "DeliveredAt": "2026-11-20T09:00:00Z",
        "Details": "Test delivery webhook details",
        "Metadata": {"delivery": "1"},
    }
    body = json.dumps(event).replace("883953f4-6105", "883953f4" + nul + "6105")
    before = stored_state()

    response = client.generic(
        "POST",
        "/anymail/postmark/tracking/",
        body.encode(),
        content_type="application/json",
        secure=True,
        **basic_auth(WEBHOOK_SECRET),
    )

    assert response.status_code == 400
    _assert_unchanged(before, response, "POST with NUL in a message id")
