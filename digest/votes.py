"""Signed links for "More like this" / "Less like this" in a digest, and reading them back.

A vote token names one paper of one delivery and carries a keyed fingerprint of the address the
digest went to, never the address itself (links end up in logs). It is purpose-salted, so no other
link of ours opens it, and it stops working once the reader's address changes or the reader is gone.
It is cheap to make (one HMAC over a compact payload): a batch makes one per paper per reader.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence

from django.core import signing
from django.utils import timezone

from digest.models import Delivery, Vote, VoteArrival
from subscriptions.tokens import email_fingerprint

VOTE_MORE = "more"  # "More like this"
VOTE_LESS = "less"  # "Less like this"
VOTE_DIRECTIONS = (VOTE_MORE, VOTE_LESS)

# A digest's links must outlive a long holiday, as its unsubscribe link does.
VOTE_TOKEN_MAX_AGE = dt.timedelta(days=180)

# Link scanners (Microsoft Safe Links, Proofpoint, Mimecast, Barracuda) open every link of a
# message within a second or two of its arrival, some running the page's script, which posts the
# vote. A digest holds 5 or more papers, each with two links, so a scan always brings votes for
# several papers, or both votes of one paper, at once. A person opens a link, reads the page, and
# maybe opens one more: three different papers within 10 seconds, or "more" and "less" of one paper
# within 10 seconds, is not a considered choice. Such a burst records nothing.
VOTE_BURST_SECONDS = 10
VOTE_BURST_PAPERS = 3

_SALT = "paperboy.digest.vote"
_SEP = "|"  # never in a delivery id, an arXiv id or a hex fingerprint


class LinkTokenError(Exception):
    """A signed link of a digest that cannot be used, and the HTTP status that says why.

    400: garbled or forged; 410: older than its maximum age; 404: nothing behind it any more
    (the reader, or their address, is gone; or what it names is not in their digest).
    """

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status

    @property
    def expired(self) -> bool:
        return self.status == 410


class VoteTokenError(LinkTokenError):
    """A vote link that cannot be used (see LinkTokenError)."""


def link_signer(salt: str) -> signing.TimestampSigner:
    """The signer of one kind of link, by its salt."""
    # Made per call, not at import, so it follows SECRET_KEY and its fallbacks as settings change.
    return signing.TimestampSigner(salt=salt)


def _signer() -> signing.TimestampSigner:
    return link_signer(_SALT)


def _b64(text: str) -> str:
    # Old-style arXiv ids hold a "/", which a URL path segment cannot: the payload is encoded.
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def vote_token_make(*, delivery_id: int, arxiv_id: str, address: str) -> str:
    """A URL-safe token naming this paper of this delivery, bound to the address it was sent to."""
    return vote_tokens_make(delivery_id=delivery_id, arxiv_ids=[arxiv_id], address=address)[0]


def vote_tokens_make(*, delivery_id: int, arxiv_ids: Sequence[str], address: str) -> list[str]:
    """vote_token_make for each paper of one delivery, the address's fingerprint computed once."""
    signer, fingerprint = _signer(), email_fingerprint(address)
    return [
        signer.sign(_b64(f"{delivery_id}{_SEP}{arxiv_id}{_SEP}{fingerprint}"))
        for arxiv_id in arxiv_ids
    ]


def vote_token_read(token: str) -> tuple[int, str, str]:
    """(delivery id, arXiv id, address fingerprint) of a token, or VoteTokenError."""
    try:
        value = _signer().unsign(token, max_age=VOTE_TOKEN_MAX_AGE)
        delivery, arxiv_id, fingerprint = _unb64(value).split(_SEP)
        delivery_id = int(delivery)
    except signing.SignatureExpired as error:
        raise VoteTokenError("This link has expired.", status=410) from error
    except (signing.BadSignature, ValueError, UnicodeError, binascii.Error) as error:
        raise VoteTokenError("This link is not valid.") from error
    if not 0 < delivery_id < 2**63 or not arxiv_id or not fingerprint:
        raise VoteTokenError("This link is not valid.")
    return delivery_id, arxiv_id, fingerprint


# --- Recording votes ------------------------------------------------------------------------------


def _burst_papers(*, delivery: Delivery, now: dt.datetime) -> set[str]:
    """The papers voted on from this delivery in the last seconds if they are a burst, else none."""
    since = now - dt.timedelta(seconds=VOTE_BURST_SECONDS)
    arrivals = VoteArrival.objects.filter(delivery=delivery, created_at__gte=since)
    seen = set(arrivals.values_list("arxiv_id", "direction"))
    papers = {arxiv_id for arxiv_id, _ in seen}
    both_ways = len(seen) > len(papers)  # some paper got "more" and "less"
    return papers if both_ways or len(papers) >= VOTE_BURST_PAPERS else set()


def _burst_retract(*, delivery: Delivery, now: dt.datetime) -> bool:
    """Delete the votes a burst of this delivery cast; whether there was one."""
    papers = _burst_papers(delivery=delivery, now=now)
    if papers:
        Vote.objects.filter(
            subscriber_id=delivery.subscriber_id, delivery=delivery, arxiv_id__in=papers
        ).delete()
    return bool(papers)


def vote_record(*, delivery: Delivery, arxiv_id: str, direction: str) -> bool:
    """Record a vote from a delivery's link; whether it stands (False: part of a scanner's burst).

    Every arrival is logged first. A vote is applied at once unless the arrivals of the last
    VOTE_BURST_SECONDS make a burst, and the burst is checked again after applying it: whatever
    order concurrent requests of one scan commit in, the last one to check sees them all and
    deletes the votes they cast, so none survives.
    """
    now = timezone.now()
    # Arrivals older than the window never count again: each delivery keeps only its last seconds.
    VoteArrival.objects.filter(
        delivery=delivery, created_at__lt=now - dt.timedelta(seconds=VOTE_BURST_SECONDS)
    ).delete()
    VoteArrival.objects.create(delivery=delivery, arxiv_id=arxiv_id, direction=direction)
    if _burst_retract(delivery=delivery, now=now):
        return False
    Vote.objects.update_or_create(
        subscriber_id=delivery.subscriber_id,
        arxiv_id=arxiv_id,
        defaults={"delivery": delivery, "direction": direction},
    )
    return not _burst_retract(delivery=delivery, now=timezone.now())


def vote_undo(*, subscriber_id: int, arxiv_id: str, direction: str) -> bool:
    """Delete the reader's vote on this paper if it is this direction; whether there was one."""
    # An undo on the "more" page leaves alone a "less" cast later from the other link.
    votes = Vote.objects.filter(subscriber_id=subscriber_id, arxiv_id=arxiv_id, direction=direction)
    deleted, _ = votes.delete()
    return deleted > 0
