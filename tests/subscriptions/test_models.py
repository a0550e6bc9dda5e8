"""The database refuses what forms refuse: duplicate addresses in any case, out-of-range values."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from subscriptions.models import Subscriber
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "fields",
    [
        {"digest_size": 2},
        {"digest_size": 21},
        {"delivery_hour": 24},
        {"status": "lost"},
        {"frequency": "hourly"},
        {"interests": "x" * 501},
        {"timezone": ""},
        {"email": ""},
    ],
)
def test_the_database_refuses_out_of_range_values(fields: dict) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriberFactory.create(**fields)

    assert not Subscriber.objects.exists()


def test_the_database_refuses_the_same_address_in_another_case() -> None:
    SubscriberFactory.create(email="ada@example.org")

    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriberFactory.create(email="ADA@Example.org")

    assert Subscriber.objects.count() == 1
