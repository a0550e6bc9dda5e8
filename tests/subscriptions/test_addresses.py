"""One mailbox, one spelling: what is stored, counted and looked up for every way of writing it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from subscriptions import services
from subscriptions.addresses import AddressError, address_key, address_normalize
from subscriptions.forms import EmailChangeForm, SubscribeForm
from subscriptions.models import Subscriber
from subscriptions.ratelimit import signup_mail_claim
from subscriptions.selectors import subscriber_find_by_email
from subscriptions.tokens import Purpose, token_make
from tests.factories import SubscriberFactory
from tests.helpers import FORM

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("ada@example.org", "ada@example.org"),
        (" Ada@EXAMPLE.Org ", "Ada@example.org"),  # the local part keeps its case
        ("ada@bücher.de", "ada@xn--bcher-kva.de"),
        ("ada@BÜCHER.DE", "ada@xn--bcher-kva.de"),
        ("ada@XN--BCHER-KVA.de", "ada@xn--bcher-kva.de"),
        ("ada@straße.de", "ada@xn--strae-oqa.de"),  # IDNA 2008: ß is kept, not made "ss"
        ('"ada"@example.org', "ada@example.org"),
        ('"ada.lovelace+ml"@example.org', "ada.lovelace+ml@example.org"),
        ('"\\a\\d\\a"@example.org', "ada@example.org"),  # quoted-pairs that stood for letters
        ('"ada lovelace"@example.org', '"ada lovelace"@example.org'),  # quotes needed: kept
        ('"ada\\ lovelace"@example.org', '"ada lovelace"@example.org'),  # one spelling of it
        ('"a..b"@example.org', '"a..b"@example.org'),  # two dots in a row need the quotes
        ('"a\\"b"@example.org', '"a\\"b"@example.org'),
        ('"a@b"@example.org', '"a@b"@example.org'),
    ],
)
def test_an_address_is_stored_in_its_one_spelling(typed: str, stored: str) -> None:
    assert address_normalize(typed) == stored
    assert address_normalize(stored) == stored


@pytest.mark.parametrize(
    "bad", ["ada@xn--zz.de", "ada@xn--bcher-kva-.de", "ada@bü_cher.de", "nobody", "@example.org"]
)
def test_an_address_with_no_single_spelling_is_refused(bad: str) -> None:
    with pytest.raises(AddressError):
        address_normalize(bad)
    assert address_key(bad) == bad.lower()  # a lookup by it simply finds no one


_LABEL = st.sampled_from(["bücher", "BÜCHER", "straße", "例え", "пример", "example", "Mail", "ü"])
_ATOM = st.text(alphabet="abcXYZ019!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=8)


@st.composite
def _spellings(draw: st.DrawFn) -> tuple[str, str]:
    """Two spellings of one mailbox: quoted or not, Unicode or ASCII domain, any domain case."""
    local = ".".join(draw(st.lists(_ATOM, min_size=1, max_size=3)))
    labels = [draw(_LABEL) for _ in range(draw(st.integers(1, 2)))] + ["de"]
    domain = ".".join(labels)
    ascii_domain = address_normalize(f"x@{domain}").split("@")[1]
    one = f"{local}@{domain}"
    other = f'"{local}"@{ascii_domain.upper() if draw(st.booleans()) else ascii_domain}'
    return one, other


@settings(max_examples=60, deadline=None)
@given(_spellings())
def test_two_spellings_of_one_mailbox_have_one_spelling_and_one_key(pair: tuple[str, str]) -> None:
    one, other = pair

    assert address_normalize(one) == address_normalize(other)
    assert address_key(one) == address_key(other)
    assert address_normalize(address_normalize(one)) == address_normalize(one)
    assert address_normalize(one).isascii()


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_normalizing_is_idempotent_and_never_fails_otherwise(text: str) -> None:
    try:
        once = address_normalize(text)
    except AddressError:
        return
    assert address_normalize(once) == once
    assert address_key(once) == address_key(text)


# --- The forms, the sign-up and its rate limits ------------------------------------------------


def test_the_forms_clean_an_address_to_its_one_spelling() -> None:
    form = SubscribeForm({**FORM, "email": '"ada"@Bücher.de'})
    change = EmailChangeForm({"new_email": "ada@BÜCHER.de"})

    assert form.is_valid(), form.errors
    assert change.is_valid(), change.errors
    assert form.cleaned_data["email"] == change.cleaned_data["new_email"] == "ada@xn--bcher-kva.de"


@pytest.mark.django_db
def test_an_address_that_is_not_valid_idna_gets_the_forms_error_and_stores_nothing(
    client: Client,
) -> None:
    response = client.post("/subscribe/", {**FORM, "email": "ada@xn--zz.de"})

    assert response.status_code == 400
    assert "is not a valid international domain name" in response.content.decode()
    assert not Subscriber.objects.exists()
    assert mail.outbox == []


def test_an_address_too_long_once_its_domain_is_in_ascii_is_refused() -> None:
    # 254 characters as typed, more in the ASCII form that would be stored.
    domain = "ü" * 20 + ".de"
    typed = "a" * (254 - len(domain) - 1) + "@" + domain
    form = EmailChangeForm({"new_email": typed})

    assert len(typed) == 254
    assert not form.is_valid()
    assert "at most 254 characters" in str(form.errors)


@pytest.mark.django_db
def test_every_spelling_of_a_mailbox_signs_up_one_subscriber(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    spellings = ["ada@bücher.de", '"ada"@xn--bcher-kva.de', "ada@BÜCHER.DE"]
    with time_machine.travel(START, tick=False) as clock:
        for n, email in enumerate(spellings):
            with django_capture_on_commit_callbacks(execute=True):
                response = client.post(
                    "/subscribe/", {**FORM, "email": email}, REMOTE_ADDR=f"10.0.0.{n}"
                )
            assert response.status_code == 303
            clock.shift(dt.timedelta(minutes=5))

    assert list(Subscriber.objects.values_list("email", flat=True)) == ["ada@xn--bcher-kva.de"]
    assert {tuple(email.to) for email in mail.outbox} == {("ada@xn--bcher-kva.de",)}


@pytest.mark.django_db
def test_the_per_address_limit_counts_every_spelling_of_a_mailbox(
    client: Client, settings: Any
) -> None:
    settings.PAPERBOY_SIGNUP_LIMIT_PER_ADDRESS = 2
    answers = []
    with time_machine.travel(START, tick=False) as clock:
        for n, email in enumerate(['"ada"@bücher.de', "ada@xn--bcher-kva.de", "ada@BÜCHER.de"]):
            response = client.post(
                "/subscribe/", {**FORM, "email": email}, REMOTE_ADDR=f"10.0.0.{n}"
            )
            answers.append(response.status_code)
            clock.shift(dt.timedelta(minutes=5))

    assert answers == [303, 303, 429]
    assert "Too many sign-ups for this address" in response.content.decode()


def test_the_five_minute_mail_claim_is_one_for_every_spelling() -> None:
    now = START

    assert signup_mail_claim(email="ada@bücher.de", now=now).granted
    refused = signup_mail_claim(email='"ada"@XN--BCHER-KVA.DE', now=now)
    assert not refused.granted
    assert refused.sent_at == now


# --- Services, lookups, the admin ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_service_stores_the_one_spelling_and_finds_it_by_any() -> None:
    preferences = services.Preferences(interests="sparse attention")
    services.subscriber_subscribe(email='"Ada"@Bücher.de', preferences=preferences)
    services.subscriber_subscribe(email="ada@xn--bcher-kva.de", preferences=preferences)

    subscriber = Subscriber.objects.get()
    assert subscriber.email == "Ada@xn--bcher-kva.de"
    assert subscriber_find_by_email(email="ADA@bücher.DE") == subscriber
    assert subscriber_find_by_email(email="ada@xn--zz.de") is None


@pytest.mark.django_db
def test_a_new_address_is_stored_in_its_one_spelling_and_the_same_mailbox_is_no_change(
    client: Client,
) -> None:
    subscriber = SubscriberFactory.create(email="ada@xn--bcher-kva.de")
    token = token_make(
        subscriber_id=subscriber.pk, address=subscriber.email, purpose=Purpose.MANAGE
    )
    url = reverse("subscriptions:manage-email", kwargs={"token": token})

    client.post(url, {"new_email": '"ada"@BÜCHER.de'})
    subscriber.refresh_from_db()
    assert subscriber.pending_email == ""

    client.post(url, {"new_email": '"lovelace"@Bücher.de'})
    subscriber.refresh_from_db()
    assert subscriber.pending_email == "lovelace@xn--bcher-kva.de"


@pytest.mark.django_db
def test_a_change_asked_for_before_normalizing_is_confirmed_in_the_one_spelling() -> None:
    subscriber = SubscriberFactory.create(email="old@example.org", pending_email='"new"@bücher.de')

    services.subscriber_email_change_confirm(subscriber=subscriber)

    assert subscriber.email == "new@xn--bcher-kva.de"


@pytest.mark.django_db
def test_the_admin_finds_an_international_domain_as_typed(client: Client) -> None:
    SubscriberFactory.create(email="ada@xn--bcher-kva.de")
    SubscriberFactory.create(email="bob@example.org")
    editor = get_user_model().objects.create_superuser("editor", "e@example.org", "a long pass 42")
    client.force_login(editor)

    page = client.get(
        reverse("admin:subscriptions_subscriber_changelist"), {"q": "bücher.de"}, secure=True
    ).content.decode()

    assert "ada@xn--bcher-kva.de" in page
    assert "bob@example.org" not in page
