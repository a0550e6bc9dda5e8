"""Signed, purpose-salted, expiring tokens for the links in our emails (no passwords, no sessions).

A token carries the subscriber's id and a keyed fingerprint of the address it was mailed to,
never the address itself (links end up in logs). A token for one purpose never opens another
(each purpose has its own salt), and a token stops working once the address it was sent to
is no longer the subscriber's (after an email change, or once the row is deleted).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"
    CHANGE_EMAIL = "change-email"


# Links in a digest must outlive a long holiday (RFC 8058 readers may click months later).
MAX_AGE: dict[Purpose, dt.timedelta] = {
    Purpose.CONFIRM: dt.timedelta(days=7),
    Purpose.CHANGE_EMAIL: dt.timedelta(days=7),
    Purpose.MANAGE: dt.timedelta(days=90),
    Purpose.UNSUBSCRIBE: dt.timedelta(days=180),
}


class TokenError(Exception):
    """A link that cannot be used; `expired` tells a stale link from a broken one."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class TokenClaim:
    subscriber_id: int
    fingerprint: str


def _salt(purpose: Purpose) -> str:
    return f"paperboy.subscriptions.{purpose.value}"


def email_fingerprint(address: str, *, secret: str | None = None) -> str:
    """A short keyed hash of an address, case-insensitive: binds a token to the address sent to."""
    digest = salted_hmac(
        "paperboy.subscriptions.fingerprint", address.strip().lower(), secret=secret
    )
    return digest.hexdigest()[:20]


def fingerprint_matches(address: str, fingerprint: str) -> bool:
    """Whether a token's fingerprint is this address's under SECRET_KEY or one of its fallbacks."""
    # Links signed before a key rotation stay valid as long as signing accepts them.
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(
        constant_time_compare(email_fingerprint(address, secret=key), fingerprint)
        for key in secrets
    )


def token_make(*, subscriber_id: int, address: str, purpose: Purpose) -> str:
    """A URL-safe token for this subscriber, address and purpose."""
    return signing.dumps({"s": subscriber_id, "f": email_fingerprint(address)}, salt=_salt(purpose))


def token_read(*, token: str, purpose: Purpose) -> TokenClaim:
    """The claim in a token, or TokenError if tampered with, expired or made for another purpose."""
    try:
        payload = signing.loads(token, salt=_salt(purpose), max_age=MAX_AGE[purpose])
    except signing.SignatureExpired as error:
        raise TokenError("This link has expired.", expired=True) from error
    except (signing.BadSignature, ValueError, UnicodeError) as error:
        raise TokenError("This link is not valid.") from error
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("s"), int)
        and isinstance(payload.get("f"), str)
    ):
        raise TokenError("This link is not valid.")
    return TokenClaim(subscriber_id=payload["s"], fingerprint=payload["f"])
