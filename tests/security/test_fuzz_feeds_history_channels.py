"""Hypothesis fuzz of the feeds, "Your papers" and the team channels' admin form.

Extends tests/security/test_fuzz_endpoints.py to what issue 12 added: random, forged, overlong,
unicode, NUL and percent-encoded keys on the private feeds (always the same 404), junk
conditional-request and Accept headers, HEAD and wrong methods on every feed, forged manage tokens
on the feed address and email/feed-only POSTs, random `q` and `page` on the history, and hostile
URLs (other schemes, user info, private and numeric hosts, IDN, NUL, overlong) in the channel
admin's add and change forms. Whatever arrives: no 5xx, and nothing stored changes.
"""

from __future__ import annotations

import datetime as dt
import socket
import string
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from digest.channels import ChannelFields, ChannelURLError, channel_create, channel_url_check
from digest.feeds import NOT_FOUND_BODY
from digest.models import Channel, Delivery, Issue
from subscriptions.models import Subscriber
from subscriptions.services import Preferences, subscriber_feed_key_ensure
from subscriptions.tokens import Purpose, token_make
from tests.factories import PaperFactory, SubscriberFactory
from tests.helpers_fuzz import FUZZ, state_counts, stored_state

pytestmark = pytest.mark.django_db

PAPER_ID = "2511.00042"
SLACK_URL = "https://hooks.slack.com/services/T0001/B0001/abcDEF123"
FEED_FORMATS = ["atom", "json"]
PUBLIC_FEEDS = ["/papers/feed.atom", "/papers/feed.json", "/digest/feed.atom", "/digest/feed.json"]

# --- Strategies -----------------------------------------------------------------------------------

_KEY_ALPHABET = string.ascii_letters + string.digits + "-_"
anything = st.text(max_size=60)
random_keys = st.one_of(
    # The shape of a real key (looked up, found nothing), and just outside it.
    st.text(alphabet=_KEY_ALPHABET, min_size=20, max_size=64),
    st.text(alphabet=_KEY_ALPHABET, min_size=1, max_size=19),
    st.text(alphabet=_KEY_ALPHABET, min_size=65, max_size=300),
    st.text(min_size=1, max_size=80),
    st.sampled_from(
        [
            "\x00" * 22,
            "a" * 21 + "\x00",
            "%00" * 10,
            "%2e%2e%2f" * 4,
            "a" * 3000,
            "é" * 30,
            "\ud7ff" * 25,
            "' OR 1=1 --aaaaaaaaaaaaaaaa",
            "aaaaaaaaaaaaaaaaaaaaaa' OR '1'='1",
            "<script>alert(1)</script>",
            "../../../../etc/passwd",
        ]
    ),
)
# Keys made from real ones: of a reader whose feed is closed, replaced, or altered by a character.
FORGERIES = [
    "unsubscribed",
    "pending",
    "channel",
    "replaced",
    "one-char-off",
    "truncated",
    "extended",
    "upper",
    "spaced",
    "percent-encoded",
]
# Junk conditional-request headers, Accept headers and such, as any client may send them.
header_values = st.one_of(
    anything,
    st.sampled_from(
        [
            "*",
            '"',
            '""',
            'W/""',
            'W/"x", *, "y"',
            "\x00",
            "a" * 5000,
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Mon, 32 Foo 2025 25:61:61 GMT",
            "-1",
            "99999999999999999999",
            "application/json;q=NaN, */*;q=-1",
            "text/html;q=1.0;q=2.0, application/atom+xml;q=0.5",
            "bytes=0-0,-1",
            "bytes=999999999999-",
        ]
    ),
)
HEADER_NAMES = [
    "If-None-Match",
    "If-Modified-Since",
    "If-Match",
    "If-Unmodified-Since",
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Range",
]
junk_headers = st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=4)
queries = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(["q", "page", "format", "key", "kind"]), anything),
        st.one_of(anything, st.integers(-(10**20), 10**20).map(str)),
    ),
    max_size=3,
)
token_like = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "-_:", min_size=1, max_size=120),
    st.text(min_size=1, max_size=80),
    st.sampled_from(["..", "%2e%2e", "%00", "a" * 3000, "eyJzIjoxfQ:1abc:zz", "' OR 1=1 --"]),
)
form_fields = st.dictionaries(
    st.one_of(st.sampled_from(["via", "csrfmiddlewaretoken", "feed_key", "action"]), anything),
    st.one_of(
        st.sampled_from(["email", "feed", "channel", "EMAIL", " feed", "feed\x00", ""]),
        anything,
        st.lists(anything, max_size=3),
    ),
    max_size=4,
)
page_values = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["", "0", "-1", "last", "first", "1.5", "1e9", "NaN", "inf", "\x00", "٣"]),
    anything,
)
q_values = st.one_of(
    anything,
    st.sampled_from(
        [
            "\x00",
            "a" * 5000,
            "%",
            "_",
            "%%%",
            '"',
            "' OR 1=1 --",
            "NEAR(a b)",
            'title:"x" AND *',
            "\ud800",
            "\u202e" * 10,
            "🦄" * 300,
            PAPER_ID,
        ]
    ),
)


# --- Data to find: a reader with a feed and a history, readers whose feed is closed, a channel ----


def _sent(reader: Subscriber, arxiv_ids: list[str]) -> Delivery:
    now = timezone.now()
    issue = Issue.objects.create(
        date=now.date(),
        status=Issue.Status.SENT,
        window_start=now - dt.timedelta(days=1),
        window_end=now,
    )
    return Delivery.objects.create(
        issue=issue,
        subscriber=reader,
        status=Delivery.Status.SENT,
        sent_at=now,
        papers=arxiv_ids,
        reasons=["matches: attention" for _ in arxiv_ids],
        notices=[],
    )


def _keyed(reader: Subscriber) -> str:
    return subscriber_feed_key_ensure(subscriber=reader)


@pytest.fixture
def site(channel_dns: dict[str, str]) -> dict[str, Any]:
    """A reader with a feed, a sent digest and a manage token; closed feeds; a channel."""
    PaperFactory.create(arxiv_id=PAPER_ID, title="Sparse attention at scale")
    PaperFactory.create_batch(2)
    reader = SubscriberFactory.create(email="reader@example.org")
    replaced = _keyed(reader)
    Subscriber.objects.filter(pk=reader.pk).update(feed_key="")
    reader.feed_key = ""
    key = _keyed(reader)
    _sent(reader, [PAPER_ID])
    unsubscribed = SubscriberFactory.create(status=Subscriber.Status.UNSUBSCRIBED)
    pending = SubscriberFactory.create(status=Subscriber.Status.PENDING, confirmed_at=None)
    channel = channel_create(
        fields=ChannelFields(name="ML team", kind="slack", url=SLACK_URL), preferences=Preferences()
    )
    keys = {
        "key": key,
        "replaced": replaced,
        "unsubscribed": _keyed(unsubscribed),
        "pending": _keyed(pending),
        "channel": _keyed(channel.subscriber),
    }
    token = token_make(subscriber_id=reader.pk, address=reader.email, purpose=Purpose.MANAGE)
    return {"reader": reader, "keys": keys, "token": token, "channel": channel}


def _forged(keys: dict[str, str], forgery: str) -> str:
    key = keys["key"]
    flipped = "A" if key[5] != "A" else "B"
    return {
        "one-char-off": key[:5] + flipped + key[6:],
        "truncated": key[:-1],
        "extended": key + "x",
        "upper": key.upper() if key.upper() != key else key.lower(),
        "spaced": f" {key} ",
        "percent-encoded": "".join(f"%{ord(c):02X}" for c in key),
    }.get(forgery) or keys[forgery]


def _assert_unchanged(before: dict[str, Any], response: Any, what: str) -> None:
    after = stored_state()
    assert after == before, (
        f"{what} -> {response.status_code} changed what is stored: {state_counts(after)}"
    )


# --- The private feeds: any key that opens nothing, the same 404 ----------------------------------


@FUZZ
@given(
    key=st.one_of(random_keys, st.sampled_from(FORGERIES)),
    fmt=st.sampled_from(FEED_FORMATS),
    method=st.sampled_from(["GET", "HEAD"]),
    headers=junk_headers,
    query=queries,
)
@example(key="one-char-off", fmt="atom", method="GET", headers={}, query=[])
@example(key="channel", fmt="json", method="GET", headers={"If-None-Match": "*"}, query=[])
@example(key="\x00" * 22, fmt="atom", method="GET", headers={}, query=[])
def test_it_answers_any_key_that_opens_no_feed_with_the_same_404_and_stores_nothing(
    client: Client,
    site: dict[str, Any],
    key: str,
    fmt: str,
    method: str,
    headers: dict[str, str],
    query: list[tuple[str, str]],
) -> None:
    key = _forged(site["keys"], key) if key in FORGERIES else key
    # As a browser sends it: percent-encoded, and a percent-encoded key encoded once more.
    url = f"/digest/feed/{quote(key, safe='')}.{fmt}" + ("?" + urlencode(query) if query else "")
    before = stored_state()

    response = client.generic(method, url, secure=True, headers=headers)

    event(f"HTTP {response.status_code}")
    assert response.status_code == 404, url
    # A key with a "/" in it is no feed address at all: the site's own 404 answers that.
    if "/" not in key and method == "GET":
        assert response.content.decode() == NOT_FOUND_BODY, url
        assert "private" in response["Cache-Control"]
    _assert_unchanged(before, response, f"{method} {url}")


@FUZZ
@given(
    fmt=st.sampled_from(FEED_FORMATS),
    method=st.sampled_from(["GET", "HEAD"]),
    headers=junk_headers,
    query=queries,
)
@example(fmt="atom", method="GET", headers={"If-Modified-Since": "Mon, 32 Foo 2025"}, query=[])
@example(fmt="json", method="HEAD", headers={"If-None-Match": "\x00", "If-Match": "*"}, query=[])
def test_it_answers_a_real_feed_whatever_the_conditional_and_accept_headers(
    client: Client,
    site: dict[str, Any],
    fmt: str,
    method: str,
    headers: dict[str, str],
    query: list[tuple[str, str]],
) -> None:
    url = reverse(f"digest:feed-{fmt}", kwargs={"feed_key": site["keys"]["key"]})
    url += "?" + urlencode(query) if query else ""
    before = stored_state()

    response = client.generic(method, url, secure=True, headers=headers)

    event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 304, 412), url
    assert "private" in response["Cache-Control"]
    _assert_unchanged(before, response, f"{method} {url} {headers}")


@FUZZ
@given(
    path=st.sampled_from(PUBLIC_FEEDS),
    method=st.sampled_from(["GET", "HEAD"]),
    headers=junk_headers,
    query=queries,
)
def test_it_answers_a_public_feed_whatever_the_headers_and_query(
    client: Client,
    site: dict[str, Any],
    path: str,
    method: str,
    headers: dict[str, str],
    query: list[tuple[str, str]],
) -> None:
    url = path + ("?" + urlencode(query) if query else "")
    before = stored_state()

    response = client.generic(method, url, secure=True, headers=headers)

    event(f"HTTP {response.status_code}")
    assert response.status_code in (200, 304, 412), url
    _assert_unchanged(before, response, f"{method} {url} {headers}")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"])
@pytest.mark.parametrize("feed", ["private-atom", "private-json", *PUBLIC_FEEDS])
def test_it_refuses_every_method_but_get_and_head_on_a_feed(
    client: Client, site: dict[str, Any], method: str, feed: str
) -> None:
    key = site["keys"]["key"]
    url = {
        "private-atom": f"/digest/feed/{key}.atom",
        "private-json": f"/digest/feed/{key}.json",
    }.get(feed, feed)
    before = stored_state()

    response = client.generic(method, url, b"via=feed", secure=True)

    assert response.status_code == 405, (method, url)
    _assert_unchanged(before, response, f"{method} {url}")


# --- The manage page's feed POSTs: forged tokens, wrong methods, random forms ---------------------


@FUZZ
@given(
    token=token_like,
    action=st.sampled_from(["feed", "via"]),
    data=form_fields,
    csrf=st.booleans(),
)
@example(token="eyJzIjoxfQ:1abc:zz", action="via", data={"via": "feed"}, csrf=False)
def test_it_refuses_a_forged_manage_token_on_the_feed_posts_and_stores_nothing(
    site: dict[str, Any], token: str, action: str, data: dict[str, Any], csrf: bool
) -> None:
    client = Client(enforce_csrf_checks=csrf)
    url = f"/manage/{quote(token, safe='')}/{action}/"
    before = stored_state()

    response = client.post(url, data, secure=True)

    event(f"HTTP {response.status_code}")
    # As every token view: 400 for a bad link, 410 for an expired one; 403 without CSRF; 404 for
    # a token whose "/" makes it no such address.
    assert response.status_code in (400, 403, 404, 410), url
    _assert_unchanged(before, response, f"POST {url}")
    assert mail.outbox == []


def _manage_token(site: dict[str, Any], whose: str) -> str:
    """A real manage token of the reader; a channel's row (no address) gets one all the same."""
    if whose == "reader":
        return str(site["token"])
    channel = site["channel"].subscriber
    return token_make(subscriber_id=channel.pk, address="", purpose=Purpose.MANAGE)


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("action", ["feed", "via"])
def test_it_takes_only_posts_on_the_feed_address_and_via_views(
    client: Client, site: dict[str, Any], method: str, action: str
) -> None:
    url = f"/manage/{site['token']}/{action}/"
    before = stored_state()

    response = client.generic(method, url, b"via=feed", secure=True)

    assert response.status_code == 405, (method, url)
    _assert_unchanged(before, response, f"{method} {url}")


@FUZZ
@given(data=form_fields, whose=st.sampled_from(["reader", "channel"]))
@example(data={"via": "channel"}, whose="reader")
@example(data={"via": ["email", "feed"]}, whose="reader")
@example(data={"via": "feed"}, whose="channel")
def test_it_refuses_a_via_that_is_not_email_or_feed_and_never_touches_a_channel(
    client: Client, site: dict[str, Any], data: dict[str, Any], whose: str
) -> None:
    url = f"/manage/{_manage_token(site, whose)}/via/"
    before = stored_state()

    response = client.post(url, data, secure=True)

    event(f"{whose} HTTP {response.status_code}")
    sent = data.get("via")
    # A form keeps the last of a repeated field.
    chosen = sent[-1] if isinstance(sent, list) and sent else sent
    if whose == "channel":
        assert response.status_code == 410, url  # the channel's row has no address to match
    elif chosen not in ("email", "feed"):
        assert response.status_code == 400, url
    else:
        assert response.status_code == 302, url
    if response.status_code >= 400:
        _assert_unchanged(before, response, f"POST {url} {data}")
    channel = Subscriber.objects.get(pk=site["channel"].pk)
    assert channel.via == Subscriber.Via.CHANNEL
    assert Subscriber.objects.get(pk=site["reader"].pk).via in ("email", "feed")


def test_it_never_rotates_a_channels_feed_address_from_a_forged_manage_link(
    client: Client, site: dict[str, Any]
) -> None:
    url = f"/manage/{_manage_token(site, 'channel')}/feed/"
    before = stored_state()

    response = client.post(url, secure=True)

    assert response.status_code == 410
    _assert_unchanged(before, response, f"POST {url}")


# --- "Your papers": random searches and pages -----------------------------------------------------


@FUZZ
@given(q=q_values, page=page_values, method=st.sampled_from(["GET", "HEAD"]), extra=queries)
@example(q="\x00", page="-1", method="GET", extra=[])
@example(q="a" * 5000, page="9" * 30, method="GET", extra=[])
@example(q="\ud800", page="last", method="GET", extra=[])
def test_it_shows_your_papers_for_any_search_and_page_and_stores_nothing(
    client: Client,
    site: dict[str, Any],
    q: str,
    page: str,
    method: str,
    extra: list[tuple[str, str]],
) -> None:
    query = urlencode([("q", q), ("page", page), *extra], encoding="utf-8", errors="surrogatepass")
    url = reverse("digest:history", kwargs={"token": site["token"]}) + "?" + query
    before = stored_state()

    response = client.generic(method, url, secure=True)

    event(f"HTTP {response.status_code}")
    assert response.status_code == 200, url
    assert response.has_header("Content-Security-Policy"), url
    _assert_unchanged(before, response, f"{method} {url}")


@FUZZ
@given(token=token_like, q=q_values, method=st.sampled_from(["GET", "HEAD", "POST"]))
def test_it_refuses_a_forged_token_on_your_papers_and_stores_nothing(
    client: Client, site: dict[str, Any], token: str, q: str, method: str
) -> None:
    url = f"/digest/papers/{quote(token, safe='')}/?" + urlencode(
        {"q": q}, encoding="utf-8", errors="surrogatepass"
    )
    before = stored_state()

    response = client.generic(method, url, secure=True)

    event(f"HTTP {response.status_code}")
    allowed = (404, 405) if method == "POST" else (400, 404, 410)
    assert response.status_code in allowed, url
    _assert_unchanged(before, response, f"{method} {url}")


def test_it_shows_no_history_for_a_channels_row(client: Client, site: dict[str, Any]) -> None:
    url = reverse("digest:history", kwargs={"token": _manage_token(site, "channel")})

    response = client.get(url, secure=True)

    assert response.status_code == 410


# --- The channels' admin form: hostile URLs are a form error, nothing stored ----------------------

# Private, loopback, link-local (cloud metadata), CGNAT and reserved hosts, in every spelling a
# resolver accepts (glibc's inet_aton takes decimal, octal, hex and short forms).
PRIVATE_HOSTS = [
    "127.0.0.1",
    "127.1",
    "0.0.0.0",
    "0",
    "10.0.0.1",
    "10.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "0177.0.0.1",
    "017700000001",
    "0xa9.0xfe.0xa9.0xfe",
    "2852039166",
    "[::1]",
    "[::]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::ffff:169.254.169.254]",
    "[fe80::1]",
    "[fc00::1]",
    "[fd00:ec2::254]",
    "[64:ff9b::a9fe:a9fe]",
    "[2001:db8::1]",
    "[ff02::1]",
    "localhost",
    "metadata.google.internal",
]
OTHER_HOSTS = [
    "hooks.slack.com.evil.example",
    "evil.example",
    "hooks.slack.com.",
    "xn--hooks-slack-com",
    "hооks.slack.com",  # Cyrillic o's: a look-alike of the real host
    "discord.com．evil.example",
    "例え.テスト",
    "hooks.slack.com:444",
    "hooks.slack.com:0",
    "hooks.slack.com:99999",
    "hooks.slack.com:-1",
    "hooks.slack.com:abc",
    "",
]
SCHEMES = ["http", "javascript", "file", "ftp", "gopher", "data", "dict", "ws", "wss", "HTTP"]
URL_PATHS = ["/services/T0001/B0001/abcDEF123", "/api/webhooks/123/abc", "/paperboy", ""]


@st.composite
def hostile_urls(draw: st.DrawFn) -> str:
    """A URL no channel may post to: another scheme, user info, a private or odd host, or junk."""
    path = draw(st.sampled_from(URL_PATHS))
    host = draw(st.sampled_from(PRIVATE_HOSTS + OTHER_HOSTS))
    shape = draw(
        st.sampled_from(["private", "scheme", "userinfo", "spaced", "long", "junk", "private"])
    )
    if shape == "scheme":
        return f"{draw(st.sampled_from(SCHEMES))}://hooks.slack.com{path}"
    if shape == "userinfo":
        user = draw(st.sampled_from(["user:pass@", "hooks.slack.com@", "@", "a%40b@", ":@"]))
        return f"https://{user}{draw(st.sampled_from(PRIVATE_HOSTS + ['hooks.slack.com']))}{path}"
    if shape == "spaced":
        where = draw(st.sampled_from(["\x00", "\t", "\n", "\r\n", " ", "\u200b", "\\"]))
        return f"https://hooks.slack{where}.com{path}"
    if shape == "long":
        return f"https://{'a' * draw(st.integers(64, 300))}.example{path}" + "x" * draw(
            st.integers(0, 600)
        )
    if shape == "junk":
        return draw(
            st.one_of(
                st.text(min_size=1, max_size=80),
                st.sampled_from(["https://", "https:///x", "//hooks.slack.com/x", "https:x"]),
            )
        )
    return f"https://{host}{path}"


@pytest.fixture
def libc_dns(channel_dns: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The stub DNS, with what the C resolver itself does: numeric host forms (2130706433, 0x7f.1,
    0177.0.0.1) are read as the IPv4 address they spell, without asking any server."""
    stub: Any = socket.getaddrinfo  # channel_dns' table lookup

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list:
        try:
            address = socket.inet_ntoa(socket.inet_aton(host))
        except (OSError, UnicodeError, ValueError):
            return stub(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    channel_dns["localhost"] = "127.0.0.1"
    channel_dns["metadata.google.internal"] = "169.254.169.254"
    return channel_dns


def _channel_form(**fields: Any) -> dict[str, Any]:
    return {
        "name": "ML reading group",
        "kind": "slack",
        "url": SLACK_URL,
        "interests": "sparse attention",
        "categories": ["cs.LG"],
        "frequency": "daily",
        "digest_size": "5",
        "delivery_hour": "9",
        "timezone": "UTC",
        **fields,
    }


def _url_error(response: Any) -> list[str]:
    return list(response.context["adminform"].form.errors.get("url", []))


# An admin form a page: fewer examples, each host spelling is also tried once below.
@settings(FUZZ, max_examples=30)
@given(kind=st.sampled_from(["slack", "discord", "webhook"]), url=hostile_urls())
@example(kind="webhook", url="https://2130706433/paperboy")
@example(kind="webhook", url="https://0x7f.1/paperboy")
@example(kind="webhook", url="https://[::ffff:169.254.169.254]/latest/meta-data/")
@example(kind="webhook", url="https://user:pass@hooks.example.org/paperboy")
@example(kind="slack", url="https://hooks.slack.com@127.0.0.1/services/T0001/B0001/abc")
@example(kind="discord", url="javascript://discord.com/api/webhooks/123/abc")
# Python's urlsplit drops tabs and line breaks anywhere in a URL: the host it reads is not the
# text stored.
@example(kind="slack", url="https://hooks.slack\n.com/services/T0001/B0001/abcDEF123")
@example(kind="webhook", url="https://hooks.example.org/pa\tper\r\nboy")
@example(kind="discord", url="https://discord.com/api/webhooks/123/abc\u200b")
def test_it_refuses_a_hostile_channel_url_with_a_form_error_and_stores_nothing(
    admin_client: Client, libc_dns: dict[str, str], kind: str, url: str
) -> None:
    before = stored_state()

    response = admin_client.post(
        reverse("admin:digest_channel_add"), _channel_form(kind=kind, url=url)
    )

    event(f"{kind} HTTP {response.status_code}")
    assert response.status_code == 200, url
    assert _url_error(response), (kind, url)
    _assert_unchanged(before, response, f"add {kind} channel {url!r}")
    assert not Channel.objects.exists()


@settings(FUZZ, max_examples=20)
@given(url=hostile_urls())
@example(url="https://017700000001/services/T0001/B0001/abcDEF123")
def test_it_refuses_a_hostile_url_when_a_channel_is_changed_and_keeps_the_old_one(
    admin_client: Client, libc_dns: dict[str, str], url: str
) -> None:
    channel = Channel.objects.first() or channel_create(
        fields=ChannelFields(name="ML team", kind="webhook", url="https://hooks.example.org/x"),
        preferences=Preferences(),
    )
    before = stored_state()

    response = admin_client.post(
        reverse("admin:digest_channel_change", args=[channel.pk]),
        _channel_form(name="Renamed", url=url),
    )

    assert response.status_code == 200, url
    assert _url_error(response), url
    _assert_unchanged(before, response, f"change channel to {url!r}")


@pytest.mark.parametrize("host", PRIVATE_HOSTS)
def test_it_refuses_every_spelling_of_a_private_host_for_a_signed_webhook(
    admin_client: Client, libc_dns: dict[str, str], host: str
) -> None:
    """Each host once (the fuzz above draws a few): resolved, then refused as not public."""
    url = f"https://{host}/paperboy"

    response = admin_client.post(
        reverse("admin:digest_channel_add"), _channel_form(kind="webhook", url=url)
    )

    assert response.status_code == 200
    [error] = _url_error(response)
    assert "is not a public address" in error, (url, error)
    assert not Channel.objects.exists()
    assert not Subscriber.objects.filter(via=Subscriber.Via.CHANNEL).exists()


@FUZZ
@given(
    kind=st.sampled_from(["slack", "discord", "webhook"]),
    url=st.one_of(hostile_urls(), st.text(max_size=120)),
)
@example(kind="slack", url="https://hooks.slack\n.com/services/T0001/B0001/abcDEF123")
@example(kind="webhook", url="https://hooks.example.org/pa\tperboy")
@example(kind="webhook", url="https://[::1")
@example(kind="webhook", url="https://" + "a" * 64 + ".example/x")
def test_it_checks_any_channel_url_with_its_own_error_only(
    libc_dns: dict[str, str], kind: str, url: str
) -> None:
    """The service's check alone (no form, no model validation): refused with a reason, or kept
    as a public https URL whose text is what its host was read from."""
    try:
        kept = channel_url_check(kind=kind, url=url)
    except ChannelURLError as error:
        refused = str(error)
        assert refused
        return
    event(f"{kind} accepted")
    parts = urlsplit(kept)
    assert parts.scheme == "https", kept
    assert parts.geturl() == kept, kept
    assert parts.hostname in libc_dns, kept


def test_the_resolver_stub_reads_numeric_hosts_as_the_c_resolver_does(
    libc_dns: dict[str, str],
) -> None:
    """The control of the tests above: the numeric forms really reach the address check."""
    for host, address in [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
    ]:
        assert socket.getaddrinfo(host, 443)[0][4][0] == address
