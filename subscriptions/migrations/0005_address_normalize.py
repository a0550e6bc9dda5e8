"""Every stored address in its one spelling (subscriptions.addresses), no schema change.

`"ada"@bücher.de` becomes `ada@xn--bcher-kva.de`. When two rows turn out to be one mailbox, the
reader who should win keeps it: active over paused over pending over the rest, then the oldest.
Every other row of that mailbox keeps its id and its data (seeds, votes, the deliveries that the
issue figures and "never twice" count) but is unsubscribed and renamed to
`merged-<id>@paperboy.invalid`, an address that can never receive mail (RFC 2606), so nobody
gets two digests and nobody who had an active subscription loses it. An address with no single
spelling (a domain that is not valid IDNA) is left as it was. A pending change of address
(`pending_email`) is left too: its link is signed for it, and confirming it stores the normalized
spelling.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.db import migrations
from django.db.models.functions import Lower
from django.utils import timezone

from subscriptions.addresses import AddressError, address_normalize

# Who keeps a mailbox that several rows share: the lower, the better.
_STATUS_RANK = {"active": 0, "paused": 1, "pending": 2}
_RANK_OTHER = 3
_BATCH = 1000
logger = logging.getLogger(__name__)


def _merged_address(pk):
    return f"merged-{pk}@paperboy.invalid"


def addresses_normalize(apps, schema_editor):
    Subscriber = apps.get_model("subscriptions", "Subscriber")
    changed = {}  # pk -> its one spelling
    rows = Subscriber.objects.exclude(email="").values_list("pk", "email").order_by("pk")
    for pk, email in rows.iterator(chunk_size=5000):
        try:
            spelling = address_normalize(email)
        except AddressError:
            continue
        if spelling != email:
            changed[pk] = spelling
    if not changed:
        return

    # A changed row can only collide with rows of the same key; unchanged rows never collide
    # with each other (the unique index on lower(email)).
    groups = defaultdict(set)
    for pk, spelling in changed.items():
        groups[spelling.lower()].add(pk)
    keys = list(groups)
    for start in range(0, len(keys), _BATCH):
        same = (
            Subscriber.objects.alias(email_lower=Lower("email"))
            .filter(email_lower__in=keys[start : start + _BATCH])
            .values_list("pk", "email")
        )
        for pk, email in same:
            groups[email.lower()].add(pk)

    losers = []
    for pks in groups.values():
        if len(pks) < 2:
            continue
        readers = Subscriber.objects.filter(pk__in=pks).only("pk", "status", "created_at")
        ranked = sorted(
            readers, key=lambda r: (_STATUS_RANK.get(r.status, _RANK_OTHER), r.created_at, r.pk)
        )
        losers += ranked[1:]

    now = timezone.now()
    for loser in losers:
        # One statement each, before any winner takes the address: the index never sees two.
        Subscriber.objects.filter(pk=loser.pk).update(
            email=_merged_address(loser.pk),
            status="unsubscribed",
            unsubscribed_at=now,
            pending_email="",
            updated_at=now,
        )
        changed.pop(loser.pk, None)
        logger.warning("subscriber %s renamed and unsubscribed: another has its mailbox", loser.pk)

    readers = []
    for pk, spelling in changed.items():
        readers.append(Subscriber(pk=pk, email=spelling))
        if len(readers) == _BATCH:
            Subscriber.objects.bulk_update(readers, ["email"])
            readers = []
    Subscriber.objects.bulk_update(readers, ["email"])
    logger.info("%s addresses normalized, %s duplicates unsubscribed", len(changed), len(losers))


class Migration(migrations.Migration):
    dependencies = [
        ("subscriptions", "0004_subscriber_via_feed_key"),
    ]

    operations = [
        # Not reversible in its merges; going back leaves the normalized spellings, which the
        # earlier code reads as well.
        migrations.RunPython(addresses_normalize, migrations.RunPython.noop, elidable=False),
    ]
