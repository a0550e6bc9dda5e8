"""The data migration that gives every stored address its one spelling, losing no reader."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("subscriptions", "0004_subscriber_via_feed_key")]
AFTER = [("subscriptions", "0005_address_normalize")]
DAY = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)

# Migrating needs the schema editor, which SQLite refuses inside the test's transaction.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def historical() -> Iterator[Any]:
    """The apps as they were before the migration; the database goes back to the latest after."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def _migrate() -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    return executor.loader.project_state(AFTER).apps


def test_addresses_get_their_one_spelling_and_a_shared_mailbox_keeps_its_best_reader(
    historical: Any,
) -> None:
    old = historical.get_model("subscriptions", "Subscriber")
    seed = historical.get_model("subscriptions", "Seed")

    def reader(email: str, status: str, days: int, **fields: Any) -> Any:
        row = old.objects.create(email=email, status=status, feed_key=f"key-{email}", **fields)
        old.objects.filter(pk=row.pk).update(created_at=DAY + dt.timedelta(days=days))
        return row.pk

    plain = reader("bob@example.org", "active", 0)
    alone = reader('"carol"@bücher.de', "pending", 0, pending_email='"c"@bücher.de')
    # One mailbox, two rows: the confirmed one wins, though younger.
    pending = reader("ada@bücher.de", "pending", 1)
    active = reader("ada@xn--bcher-kva.de", "active", 2)
    seed.objects.create(subscriber_id=pending, arxiv_id="2601.00001", origin="id")
    # One mailbox, three rows, all active: the oldest wins, whichever spelling it has.
    oldest = reader('"dan"@example.net', "active", 3)
    younger = reader("dan@example.net", "active", 4)
    paused = reader('"d\\an"@EXAMPLE.NET', "paused", 5)
    invalid = reader("eve@xn--zz.de", "active", 0)  # accepted once, no single spelling now

    migrated = _migrate()
    new = migrated.get_model("subscriptions", "Subscriber")
    rows = {row.pk: row for row in new.objects.all()}

    assert len(rows) == 8  # no row deleted
    assert rows[plain].email == "bob@example.org"
    assert (rows[alone].email, rows[alone].pending_email) == (
        "carol@xn--bcher-kva.de",
        '"c"@bücher.de',  # its link is signed for it: normalized when confirmed
    )
    assert (rows[active].email, rows[active].status) == ("ada@xn--bcher-kva.de", "active")
    assert (rows[oldest].email, rows[oldest].status) == ("dan@example.net", "active")
    assert rows[invalid].email == "eve@xn--zz.de"
    for loser in (pending, younger, paused):
        assert rows[loser].email == f"merged-{loser}@paperboy.invalid"
        assert rows[loser].status == "unsubscribed"
        assert rows[loser].unsubscribed_at is not None
    # The renamed row keeps its data; every mailbox that was subscribed still is, once.
    assert migrated.get_model("subscriptions", "Seed").objects.get().subscriber_id == pending
    subscribed = new.objects.filter(status__in=["active", "paused"]).values_list("email", flat=True)
    assert sorted(subscribed) == [
        "ada@xn--bcher-kva.de",
        "bob@example.org",
        "dan@example.net",
        "eve@xn--zz.de",
    ]


def test_a_database_with_nothing_to_change_is_left_as_it_was(historical: Any) -> None:
    old = historical.get_model("subscriptions", "Subscriber")
    old.objects.create(email="Ada@example.org", status="active", feed_key="k1")
    old.objects.create(email="", via="channel", status="active", feed_key="k2")
    before = list(old.objects.order_by("pk").values_list("email", "status", "updated_at"))

    new = _migrate().get_model("subscriptions", "Subscriber")

    assert list(new.objects.order_by("pk").values_list("email", "status", "updated_at")) == before
