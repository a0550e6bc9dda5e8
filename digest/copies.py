"""The reader's own web copy of a digest ("view in browser"): its signed link, and what it shows.

The email's "View in browser" link opens this reader's digest of that issue, with their vote
links, not the public issue page (which is everybody's, so it can hold no votes). Its token names
the delivery and carries a keyed fingerprint of the address the digest went to, never the address
itself (links end up in logs); it is purpose-salted, so no other link of ours opens it, valid as
long as the vote links are, and dead once the reader's address changes or the reader is gone.
It is cheap to make (two HMACs): a batch makes one per reader.

The copy shows the papers the delivery recorded, in its order. Their reasons are not stored, and
ranking again could give other papers than were sent: only a pin's reason ("editor's pick") is
known for sure, and the others show none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.core import signing

from digest.models import Delivery
from digest.reasons import PIN_REASON
from digest.render import Pick
from digest.votes import VOTE_TOKEN_MAX_AGE, LinkTokenError, link_signer
from papers.models import Paper
from subscriptions.tokens import email_fingerprint, fingerprint_matches

# As long as the vote links it carries: a digest's links must outlive a long holiday.
COPY_TOKEN_MAX_AGE: dt.timedelta = VOTE_TOKEN_MAX_AGE

_SALT = "paperboy.digest.copy"
_SEP = "-"  # never in a delivery id or a hex fingerprint


class CopyTokenError(LinkTokenError):
    """A "view in browser" link that cannot be used (see LinkTokenError), or a digest not sent."""


def _signer() -> signing.TimestampSigner:
    return link_signer(_SALT)


def copy_token_make(*, delivery_id: int, address: str) -> str:
    """A URL-safe token naming this delivery, bound to the address it was sent to."""
    return _signer().sign(f"{delivery_id}{_SEP}{email_fingerprint(address)}")


def copy_token_read(token: str) -> tuple[int, str]:
    """(delivery id, address fingerprint) of a token, or CopyTokenError."""
    try:
        value = _signer().unsign(token, max_age=COPY_TOKEN_MAX_AGE)
        delivery, fingerprint = value.split(_SEP)
        delivery_id = int(delivery)
    except signing.SignatureExpired as error:
        raise CopyTokenError("This link has expired.", status=410) from error
    except (signing.BadSignature, ValueError, UnicodeError) as error:
        raise CopyTokenError("This link is not valid.") from error
    if not (0 < delivery_id < 2**63 and delivery.isascii() and delivery.isdigit() and fingerprint):
        raise CopyTokenError("This link is not valid.")
    return delivery_id, fingerprint


@dataclass(frozen=True)
class ReaderCopy:
    """What a copy link names, checked: the delivery (with its reader and issue) and its papers."""

    delivery: Delivery
    papers: dict[str, Paper]  # in the order they were sent
    picks: list[Pick]


def reader_copy_find(*, token: str) -> ReaderCopy:
    """The delivery a copy link names and the papers it sent, or CopyTokenError saying why not."""
    delivery_id, fingerprint = copy_token_read(token)
    delivery = Delivery.objects.select_related("subscriber", "issue").filter(pk=delivery_id).first()
    # A deleted reader took their deliveries along; a changed address kills the old links.
    if delivery is None or not fingerprint_matches(delivery.subscriber.email, fingerprint):
        raise CopyTokenError(
            "This link is no longer valid: there is no reader behind it.", status=404
        )
    papers = _papers_sent(delivery.papers or [])
    if not papers:
        raise CopyTokenError("This digest holds no papers that can be shown.", status=404)
    pinned = set(delivery.issue.pins.values_list("paper__arxiv_id", flat=True))
    picks = [
        Pick(arxiv_id, PIN_REASON if arxiv_id in pinned else "", pinned=arxiv_id in pinned)
        for arxiv_id in papers
    ]
    return ReaderCopy(delivery=delivery, papers=papers, picks=picks)


def _papers_sent(arxiv_ids: Sequence[str]) -> dict[str, Paper]:
    """The stored papers of these ids, in their order; a paper the editors hid since is left out."""
    found = Paper.objects.filter(arxiv_id__in=list(arxiv_ids), hidden=False).in_bulk(
        field_name="arxiv_id"
    )
    return {arxiv_id: found[arxiv_id] for arxiv_id in arxiv_ids if arxiv_id in found}
