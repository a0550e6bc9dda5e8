"""Property-based fuzz of the sign-up, manage, confirm and unsubscribe endpoints (hypothesis).

Whatever arrives, the answer is never a 5xx; input the forms reject stores nothing and mails
nothing; input they accept stores exactly one pending subscriber with cleaned values; and no
email ever goes out with a CR or LF in a header. The webhook endpoint is fuzzed in test_webhooks.py.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote
from zoneinfo import available_timezones

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.validators import validate_email
from django.test import Client
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from subscriptions.forms import timezone_names
from subscriptions.models import (
    ARXIV_CATEGORIES,
    INTERESTS_MAX_CHARS,
    PREFERENCE_FIELDS,
    Subscriber,
)
from subscriptions.tokens import Purpose, token_make
from tests.factories import SubscriberFactory
from tests.helpers import FORM

pytestmark = pytest.mark.django_db

# Deterministic and modest: the whole file runs in well under a minute, the same examples every run.
FUZZ = settings(
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ZONES = timezone_names()
CATEGORY_CODES = list(ARXIV_CATEGORIES)
FREQUENCIES = [choice.value for choice in Subscriber.Frequency]
# Characters that NFC turns into two or three: a short text can grow past the limit once cleaned.
NFC_EXPANDING = ["\u0958", "\ufb2c", "\U0001d15e", "\u2adc", "\u0344"]

# --- Strategies -----------------------------------------------------------------------------

anything = st.text(max_size=80)  # any Unicode but surrogates: controls, format characters, CR/LF
huge = st.integers(min_value=200, max_value=6000).flatmap(
    lambda size: st.sampled_from(["a", "é", " ", "\n", "\x00", "\u200b", "中"]).map(
        lambda char: char * size
    )
)
wild_text = st.one_of(anything, huge)

_LOCAL = st.text(alphabet=string.ascii_letters + string.digits + "+_-", min_size=1, max_size=20)
_LABEL = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=12)
_TLD = st.text(alphabet=string.ascii_letters, min_size=2, max_size=6)


@st.composite
def valid_emails(draw: st.DrawFn) -> str:
    """Addresses Django's validator accepts, in mixed case, maybe space-padded (the form trims)."""
    local = ".".join(draw(st.lists(_LOCAL, min_size=1, max_size=3)))
    domain = ".".join([*draw(st.lists(_LABEL, min_size=1, max_size=3)), draw(_TLD)])
    pad = draw(st.sampled_from(["", " ", "\t"]))
    return f"{pad}{local}@{domain}{pad}"


def _email_of_length(size: int) -> str:
    """A well-formed address of exactly `size` characters (labels of at most 63)."""
    local = "a" * 64
    rest = size - len(local) - 1 - len(".org")
    labels = []
    while rest > 0:
        label = min(rest, 63)
        if rest - label == 1:  # never leave a lone dot
            label -= 1
        labels.append("b" * label)
        rest -= label + 1
    return f"{local}@{'.'.join(labels)}.org"


INJECTIONS = [
    "a@b.co\r\nBcc: x@y.zz",
    "a@b.co\nBcc: x@y.zz",
    "a@b.co\rBcc: x@y.zz",
    "a@b.co%0d%0aBcc: x@y.zz",
    "a@b.co\r\n",
    "\r\na@b.co",
    "a@b.co, x@y.zz",
    "a@b.co;x@y.zz",
    '"a@b.co\r\nBcc: x@y.zz"@b.co',
    "Ada <a@b.co>",
    "a@b.co\x00",
    "a@b.co\u2028Bcc: x@y.zz",
    "a@b.co\x85Bcc: x@y.zz",
]
BAD_EMAILS = st.one_of(
    st.sampled_from(
        [
            *INJECTIONS,
            "",
            " ",
            "ada",
            "ada@",
            "@example.org",
            "ada@localhost",
            "ada@[192.0.2.1]",
            "ada@@example.org",
            "ada@example",
            "ädä@example.org",
            "ada@exa mple.org",
            _email_of_length(255),
            _email_of_length(400),
        ]
    ),
    st.text(alphabet=string.ascii_letters + "@.", max_size=30).filter(lambda text: "@" not in text),
    st.builds(
        lambda email, where: email[:where] + "\n" + email[where:],
        valid_emails(),
        st.integers(0, 60),
    ),
)
ANY_EMAIL = st.one_of(
    valid_emails(),
    st.emails(),
    BAD_EMAILS,
    st.sampled_from([_email_of_length(253), _email_of_length(254)]),
    wild_text,
)

BAD_ZONES = st.one_of(
    st.sampled_from(
        [
            "",
            "utc",
            "EST",
            "EST5EDT",
            "localtime",
            "posixrules",
            "Europe/Paris\n",
            " Europe/Paris",
            "../../etc/passwd",
        ]
    ),
    anything.filter(lambda name: name not in available_timezones()),
)
ANY_ZONE = st.one_of(
    st.sampled_from(ZONES),
    st.sampled_from(["Etc/GMT+12", "Etc/GMT-14", "Pacific/Kiritimati"]),
    BAD_ZONES,
)


def _not_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return True
    return False


ANY_SIZE = st.one_of(
    st.integers(-50, 60).map(str), st.sampled_from(["7.0", " 7 ", "٧", "1e1", "0x7", ""]), anything
)
ANY_HOUR = st.one_of(
    st.integers(-5, 30).map(str), st.sampled_from(["09", " 9", "9.0", "", "٩"]), anything
)
ANY_FREQUENCY = st.one_of(
    st.sampled_from(FREQUENCIES), st.sampled_from(["Daily", "monthly", ""]), anything
)
ANY_CATEGORIES = st.lists(st.one_of(st.sampled_from(CATEGORY_CODES), anything), max_size=6)
# Text that NFC lengthens past the limit has its own tests below.
ANY_INTERESTS = wild_text
ANY_HONEYPOT = st.one_of(st.none(), st.just(""), anything)


def _mostly_valid(
    valid: st.SearchStrategy[Any], wild: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    # Three to one for a valid value, so that a fair share of whole forms is valid and gets stored.
    return st.one_of(valid, valid, valid, wild)


ANY_FORM = st.fixed_dictionaries(
    {
        "email": _mostly_valid(valid_emails(), ANY_EMAIL),
        "interests": _mostly_valid(st.text(max_size=40), ANY_INTERESTS),
        "categories": _mostly_valid(
            st.lists(st.sampled_from(CATEGORY_CODES), max_size=4), ANY_CATEGORIES
        ),
        "frequency": _mostly_valid(st.sampled_from(FREQUENCIES), ANY_FREQUENCY),
        "digest_size": _mostly_valid(st.integers(3, 20).map(str), ANY_SIZE),
        "delivery_hour": _mostly_valid(st.integers(0, 23).map(str), ANY_HOUR),
        "timezone": _mostly_valid(st.sampled_from(ZONES), ANY_ZONE),
    }
)

# --- Helpers --------------------------------------------------------------------------------


@pytest.fixture
def fresh_example(django_capture_on_commit_callbacks: Any) -> Any:
    """Per example: no subscriber, mail or rate limit; yields the on-commit callbacks it ran."""

    @contextmanager
    def reset_and_capture() -> Iterator[list[Any]]:
        Subscriber.objects.all().delete()
        mail.outbox.clear()
        # The test's own locmem cache (see conftest): the fuzz explores validation, not limits.
        cache.clear()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            yield callbacks

    return reset_and_capture


def _assert_headers_on_one_line(message: mail.EmailMessage) -> None:
    values = [
        message.subject,
        message.from_email,
        *message.to,
        *message.cc,
        *message.bcc,
        *message.reply_to,
    ]
    values += [f"{name}: {value}" for name, value in message.extra_headers.items()]
    for value in values:
        assert "\r" not in value, f"header with a line break: {value!r}"
        assert "\n" not in value, f"header with a line break: {value!r}"
    assert message.cc == []
    assert message.bcc == []


def _assert_clean(subscriber: Subscriber) -> None:
    """What every stored subscriber looks like, however wild the input was."""
    validate_email(subscriber.email)
    assert len(subscriber.email) <= 254
    assert subscriber.email == subscriber.email.strip()
    assert not re.search(r"[\r\n]", subscriber.email)
    _, _, domain = subscriber.email.rpartition("@")
    assert domain == domain.lower()
    interests = subscriber.interests
    assert len(interests) <= INTERESTS_MAX_CHARS
    assert interests == interests.strip()
    assert "  " not in interests
    assert not any(unicodedata.category(char).startswith("C") for char in interests)
    assert all(char == " " or not char.isspace() for char in interests)
    assert subscriber.categories == [
        code for code in CATEGORY_CODES if code in subscriber.categories
    ]
    assert subscriber.frequency in FREQUENCIES
    assert 3 <= subscriber.digest_size <= 20
    assert 0 <= subscriber.delivery_hour <= 23
    assert subscriber.timezone in available_timezones()


def _post_data(form: dict[str, Any], honeypot: str | None) -> dict[str, Any]:
    data = dict(form)
    if honeypot is not None:
        data["website"] = honeypot
    return data


# --- Sign-up --------------------------------------------------------------------------------


@FUZZ
@given(form=ANY_FORM, honeypot=ANY_HONEYPOT)
@example(form={**FORM, "email": "a@b.co\r\nBcc: x@y.zz"}, honeypot=None)
def test_it_never_fails_on_any_sign_up_and_stores_only_clean_values(
    client: Client, fresh_example: Any, form: Any, honeypot: Any
) -> None:
    with fresh_example() as callbacks:
        response = client.post("/subscribe/", _post_data(form, honeypot))

    event(f"HTTP {response.status_code}, {'honeypot' if honeypot else 'no honeypot'}")
    assert response.status_code in (303, 400)
    if response.status_code == 400:
        # Rejected: a clear message on the form, nothing stored, nothing queued, nothing sent.
        assert response.context["form"].errors
        assert "Please correct the" in response.content.decode()
        assert not Subscriber.objects.exists()
        assert callbacks == []
        assert mail.outbox == []
        return
    assert response["Location"] == "/subscribe/check-your-inbox/"
    if honeypot:  # a bot: it sees success, and nothing is stored or sent
        assert not Subscriber.objects.exists()
        assert mail.outbox == []
        return
    [subscriber] = Subscriber.objects.all()
    assert subscriber.status == Subscriber.Status.PENDING
    assert subscriber.confirmed_at is None
    _assert_clean(subscriber)
    [message] = mail.outbox
    assert message.to == [subscriber.email]
    _assert_headers_on_one_line(message)


@FUZZ
@given(
    email=valid_emails(),
    words=st.lists(
        st.text(alphabet=string.ascii_letters + string.digits + "éü中-,.()", min_size=1),
        max_size=12,
    ),
    gaps=st.lists(
        st.sampled_from([" ", "  ", "\t", "\r\n", "\n", " \u00a0 ", "\u200b"]),
        min_size=13,
        max_size=13,
    ),
    categories=st.lists(st.sampled_from(CATEGORY_CODES), max_size=8),
    frequency=st.sampled_from(FREQUENCIES),
    size=st.integers(3, 20),
    hour=st.integers(0, 23),
    zone=st.sampled_from(ZONES),
)
def test_a_valid_sign_up_stores_one_pending_subscriber_with_cleaned_values(
    client: Client,
    fresh_example: Any,
    email: str,
    words: list[str],
    gaps: list[str],
    categories: list[str],
    frequency: str,
    size: int,
    hour: int,
    zone: str,
) -> None:
    # Words joined by runs of whitespace and invisible format characters, with some around them too.
    interests = gaps[0] + "".join(word + gap for word, gap in zip(words, gaps[1:], strict=False))
    assume(len(interests.strip()) <= INTERESTS_MAX_CHARS)
    form = {
        "email": email,
        "interests": interests,
        "categories": categories,
        "frequency": frequency,
        "digest_size": str(size),
        "delivery_hour": str(hour),
        "timezone": zone,
    }
    with fresh_example():
        response = client.post("/subscribe/", form)

    assert response.status_code == 303
    [subscriber] = Subscriber.objects.all()
    local, _, domain = email.strip().rpartition("@")
    assert subscriber.email == f"{local}@{domain.lower()}"
    expected_interests = " ".join(interests.replace("\u200b", "").split())
    assert subscriber.interests == expected_interests
    assert subscriber.categories == [code for code in CATEGORY_CODES if code in categories]
    assert (subscriber.frequency, subscriber.digest_size, subscriber.delivery_hour) == (
        frequency,
        size,
        hour,
    )
    assert subscriber.timezone == zone
    assert subscriber.status == Subscriber.Status.PENDING
    [message] = mail.outbox
    assert message.to == [subscriber.email]
    _assert_headers_on_one_line(message)


BAD_FIELDS = st.one_of(
    st.tuples(st.just("email"), BAD_EMAILS),
    st.tuples(
        st.just("interests"),
        st.integers(INTERESTS_MAX_CHARS + 1, 3000).map(lambda size: "x" * size),
    ),
    st.tuples(st.just("interests"), st.builds(lambda text: text + "\x00", anything)),
    st.tuples(
        st.just("categories"),
        st.lists(anything.filter(lambda code: code not in CATEGORY_CODES), min_size=1),
    ),
    st.tuples(st.just("frequency"), anything.filter(lambda value: value not in FREQUENCIES)),
    st.tuples(
        st.just("digest_size"),
        st.one_of(st.integers(-1000, 2).map(str), st.integers(21, 10**6).map(str)),
    ),
    st.tuples(st.just("digest_size"), anything.filter(_not_int)),
    st.tuples(
        st.just("delivery_hour"), st.one_of(st.integers(-100, -1), st.integers(24, 1000)).map(str)
    ),
    st.tuples(
        st.just("delivery_hour"),
        anything.filter(lambda value: value not in {str(h) for h in range(24)}),
    ),
    st.tuples(st.just("timezone"), BAD_ZONES),
)


@FUZZ
@given(bad=BAD_FIELDS)
def test_one_invalid_field_is_rejected_with_a_message_and_stores_nothing(
    client: Client, fresh_example: Any, bad: Any
) -> None:
    name, value = bad
    with fresh_example() as callbacks:
        response = client.post("/subscribe/", {**FORM, name: value})

    assert response.status_code == 400
    assert list(response.context["form"].errors) == [name]
    assert 'role="alert"' in response.content.decode()
    assert not Subscriber.objects.exists()
    assert callbacks == []
    assert mail.outbox == []


@FUZZ
@given(email=ANY_EMAIL)
def test_the_home_page_box_prefills_only_a_valid_address(client: Client, email: str) -> None:
    response = client.get("/subscribe/?email=" + quote(email, safe=""))

    assert response.status_code == 200
    prefilled = response.context["form"].initial["email"]
    if prefilled:
        validate_email(prefilled)
        assert "\r" not in prefilled
        assert "\n" not in prefilled
        assert len(prefilled) <= 254


# Up to 500 characters as typed, more than 500 once NFC-normalised.
LENGTHENED_BY_NFC = (
    st.lists(st.sampled_from(NFC_EXPANDING), min_size=100, max_size=INTERESTS_MAX_CHARS)
    .map("".join)
    .filter(lambda text: len(unicodedata.normalize("NFC", text)) > INTERESTS_MAX_CHARS)
)


@FUZZ
@given(interests=LENGTHENED_BY_NFC)
@example(interests="\ufb2c" * 200)
def test_interests_that_nfc_lengthens_past_the_limit_are_rejected_at_sign_up(
    client: Client, fresh_example: Any, interests: Any
) -> None:
    with fresh_example() as callbacks:
        response = client.post("/subscribe/", {**FORM, "interests": interests})

    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["interests"]
    assert not Subscriber.objects.exists()
    assert callbacks == []
    assert mail.outbox == []


# --- Manage page ----------------------------------------------------------------------------


def _preferences(subscriber: Subscriber) -> tuple[Any, ...]:
    return tuple(getattr(subscriber, name) for name in PREFERENCE_FIELDS)


@FUZZ
@given(
    form=ANY_FORM.map(lambda form: {key: value for key, value in form.items() if key != "email"})
)
def test_the_manage_page_never_fails_and_saves_only_clean_preferences(
    client: Client, fresh_example: Any, form: Any
) -> None:
    with fresh_example() as callbacks:
        subscriber = SubscriberFactory.create(
            email="ada@example.org", categories=["cs.CV"], timezone="Europe/Paris"
        )
        before = _preferences(subscriber)
        token = token_make(
            subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.MANAGE
        )
        response = client.post(f"/manage/{token}/", form)

    event(f"HTTP {response.status_code}")
    assert response.status_code in (302, 400)
    subscriber.refresh_from_db()
    if response.status_code == 400:
        assert response.context["form"].errors
        assert _preferences(subscriber) == before
    else:
        assert response["Location"] == f"/manage/{token}/"
        _assert_clean(subscriber)
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert subscriber.email == "ada@example.org"
    assert Subscriber.objects.count() == 1
    assert callbacks == []
    assert mail.outbox == []


@FUZZ
@given(interests=LENGTHENED_BY_NFC)
@example(interests="\ufb2c" * 200)
def test_interests_that_nfc_lengthens_past_the_limit_are_rejected_on_the_manage_page(
    client: Client, fresh_example: Any, interests: str
) -> None:
    with fresh_example():
        subscriber = SubscriberFactory.create(email="ada@example.org")
        token = token_make(
            subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.MANAGE
        )
        response = client.post(f"/manage/{token}/", {**FORM, "interests": interests})

    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["interests"]
    subscriber.refresh_from_db()
    assert subscriber.interests == "sparse attention"


@FUZZ
@given(new_email=ANY_EMAIL)
def test_an_address_change_never_fails_and_mails_only_a_valid_address(
    client: Client, fresh_example: Any, new_email: Any
) -> None:
    with fresh_example():
        subscriber = SubscriberFactory.create(email="ada@example.org")
        token = token_make(
            subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.MANAGE
        )
        response = client.post(f"/manage/{token}/email/", {"new_email": new_email})

    assert response.status_code in (302, 400)
    subscriber.refresh_from_db()
    assert (
        subscriber.email == "ada@example.org"
    )  # the current address stays until the new one is confirmed
    if response.status_code == 400:
        assert subscriber.pending_email == ""
        assert mail.outbox == []
        assert response.context["email_form"].errors
        return
    if subscriber.pending_email:
        validate_email(subscriber.pending_email)
        [message] = mail.outbox
        assert message.to == [subscriber.pending_email]
        _assert_headers_on_one_line(message)
    else:  # the same address again: nothing to confirm
        assert new_email.strip().lower() == "ada@example.org"
        assert mail.outbox == []


# --- Tokens: confirm and unsubscribe --------------------------------------------------------

_TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"
TOKEN_SHAPED = st.builds(
    lambda payload, stamp, signature: f"{payload}:{stamp}:{signature}",
    st.text(alphabet=_TOKEN_ALPHABET, min_size=1, max_size=60),
    st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=8),
    st.text(alphabet=_TOKEN_ALPHABET, min_size=1, max_size=50),
)
ANY_TOKEN = st.one_of(
    TOKEN_SHAPED, st.text(min_size=1, max_size=300), st.sampled_from(["%00", "..", "a" * 5000])
)
BODIES = st.one_of(
    st.binary(max_size=300),
    st.just(b"List-Unsubscribe=One-Click"),
    st.text(max_size=200).map(str.encode),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "application/json",
        "text/plain; charset=utf-16",
        "application/x-www-form-urlencoded; charset=nonsense",
    ]
)


def _token_url(page: str, token: str) -> str:
    return f"/{page}/{quote(token, safe='')}/"


# Where (any position, folded onto the token's length), what (change, insert, remove) and which
# character.
MUTATIONS = st.tuples(
    st.integers(0, 10**6),
    st.sampled_from(["change", "insert", "remove"]),
    st.sampled_from(_TOKEN_ALPHABET + ":"),
)


def _mutate(token: str, mutation: tuple[int, str, str]) -> str:
    """A real token with one character changed, inserted or removed.

    Never the signature's last one: in base64 it also carries padding bits, and two spellings of the
    same signature are the same signature.
    """
    position, kind, char = mutation
    where = position % (len(token) - 1)
    if kind == "change":
        if token[where] == char:
            char = (
                _TOKEN_ALPHABET[(_TOKEN_ALPHABET.index(char) + 1) % len(_TOKEN_ALPHABET)]
                if char in _TOKEN_ALPHABET
                else "A"
            )
        return token[:where] + char + token[where + 1 :]
    if kind == "insert":
        return token[:where] + char + token[where:]
    return token[:where] + token[where + 1 :]


@FUZZ
@given(token=ANY_TOKEN, mutation=MUTATIONS)
def test_a_fuzzed_confirm_link_is_refused_and_confirms_nothing(
    client: Client, fresh_example: Any, token: str, mutation: Any
) -> None:
    with fresh_example():
        subscriber = SubscriberFactory.create(status=Subscriber.Status.PENDING, confirmed_at=None)
        real = token_make(
            subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.CONFIRM
        )
        tampered = _mutate(real, mutation)
        for candidate in (token, tampered):
            assert client.get(_token_url("confirm", candidate)).status_code in (400, 404)
            assert client.post(_token_url("confirm", candidate)).status_code in (400, 404)
        # A real token for any other purpose opens nothing here either.
        for purpose in (Purpose.MANAGE, Purpose.UNSUBSCRIBE, Purpose.CHANGE_EMAIL):
            other = token_make(
                subscriber_id=subscriber.pk, address=subscriber.email, purpose=purpose
            )
            assert client.post(_token_url("confirm", other)).status_code == 400

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING
    assert subscriber.confirmed_at is None
    assert mail.outbox == []


@FUZZ
@given(token=ANY_TOKEN, body=BODIES, content_type=CONTENT_TYPES, mutation=MUTATIONS)
def test_unsubscribe_takes_only_a_real_token_whatever_the_body(
    fresh_example: Any, token: str, body: bytes, content_type: str, mutation: Any
) -> None:
    client = Client(
        enforce_csrf_checks=True
    )  # a mail provider's one-click POST: no cookie, no CSRF token
    with fresh_example():
        subscriber = SubscriberFactory.create()
        real = token_make(
            subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.UNSUBSCRIBE
        )
        for candidate in (token, _mutate(real, mutation)):
            response = client.generic(
                "POST", _token_url("unsubscribe", candidate), body, content_type=content_type
            )
            assert response.status_code in (400, 404)
            subscriber.refresh_from_db()
            assert subscriber.status == Subscriber.Status.ACTIVE

        response = client.generic(
            "POST", _token_url("unsubscribe", real), body, content_type=content_type
        )

    assert response.status_code == 200
    assert not response.has_header("Location")
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert mail.outbox == []
