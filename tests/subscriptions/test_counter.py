"""The interests field: counted live as the reader types, refused with a message when too long.

The browser's maxlength would cut a longer paste without a word, so the field has none: the
server refuses, saying how long the text is, and static/js/counter.js shows the count first.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from subscriptions.models import LESS_OF_MAX_CHARS, Subscriber
from subscriptions.tokens import Purpose, token_make
from tests.factories import SubscriberFactory
from tests.helpers import FORM

pytestmark = pytest.mark.django_db


def _interests_tag(html: str) -> str:
    found = re.search(r"<textarea[^>]*name=\"interests\"[^>]*>", html)
    assert found, "no interests field"
    return found.group(0)


def test_the_interests_field_is_counted_and_never_cut_on_the_sign_up_and_manage_pages(
    client,
) -> None:
    reader = SubscriberFactory.create()
    token = token_make(subscriber_id=reader.pk, address=reader.email, purpose=Purpose.MANAGE)
    for path in ("/subscribe/", reverse("subscriptions:manage", kwargs={"token": token})):
        html = client.get(path).content.decode()
        tag = _interests_tag(html)
        assert 'data-max-chars="500"' in tag
        assert "maxlength" not in tag
        assert 'aria-describedby="id_interests_helptext"' in tag  # the counter joins it
        assert html.count('src="/static/js/counter.js"') == 1


def test_interests_over_500_characters_are_refused_with_their_length_not_cut(client) -> None:
    response = client.post("/subscribe/", {**FORM, "interests": "pose estimation, " * 40})

    assert response.status_code == 400
    html = response.content.decode()
    assert "Please keep your interests to 500 characters or fewer: this has 679." in html
    assert "pose estimation, " * 39 in html  # the reader's text comes back whole, to shorten
    assert not Subscriber.objects.exists()
    assert mail.outbox == []


def test_interests_that_grow_past_500_when_cleaned_say_their_cleaned_length(client) -> None:
    # 200 characters as typed; NFC makes each of them three (U+FB2C is a composed letter).
    response = client.post("/subscribe/", {**FORM, "interests": "\ufb2c" * 200})

    assert response.status_code == 400
    assert "to 500 characters or fewer: this has 600." in response.content.decode()
    assert not Subscriber.objects.exists()


def test_the_less_of_field_is_counted_too_and_a_longer_text_is_refused_not_cut(client) -> None:
    reader = SubscriberFactory.create()
    token = token_make(subscriber_id=reader.pk, address=reader.email, purpose=Purpose.MANAGE)
    page = reverse("subscriptions:manage", kwargs={"token": token})
    html = client.get(page).content.decode()
    found = re.search(r"<input[^>]*name=\"less_of\"[^>]*>", html)

    assert found, "no less-of field"
    assert f'data-max-chars="{LESS_OF_MAX_CHARS}"' in found.group(0)
    assert "maxlength" not in found.group(0)
