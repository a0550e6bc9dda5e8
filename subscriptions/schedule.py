"""When a reader's digests come, from their own fields: pure functions, for the welcome email.

The digest app decides who is due (digest/ledger.py, which this app may not import); the rule is
restated here and tests/subscriptions/test_welcome.py checks the two agree. Every hour, at :00,
a reader is made due for the issue of their local date once their hour has come (not only at
it: a reader who confirms after their hour gets that day's issue at the next round), if that
date is one of their days (every day; Monday to Friday; Mondays for weekly readers) and its
issue has been built, at PAPERBOY_ISSUE_BUILD_HOUR UTC of that date.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings

from subscriptions.models import SubscriberFrequency

_HOUR = dt.timedelta(hours=1)
_SEARCH = 8 * 24  # hourly rounds to look through: a weekly reader's next Monday is within 8 days


def _is_digest_day(frequency: str, day: dt.date) -> bool:
    if frequency == SubscriberFrequency.WEEKLY:
        return day.weekday() == 0
    if frequency == SubscriberFrequency.WEEKDAYS:
        return day.weekday() < 5
    return True


def first_digest_at(
    *, now: dt.datetime, delivery_hour: int, zone: str, frequency: str
) -> dt.datetime:
    """The hourly round, after `now`, that first makes the reader due, in their time zone."""
    local_zone = zoneinfo.ZoneInfo(zone)
    build = dt.time(settings.PAPERBOY_ISSUE_BUILD_HOUR, tzinfo=dt.UTC)
    round_ = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) + _HOUR
    for _ in range(_SEARCH):
        local = round_.astimezone(local_zone)
        built = round_ >= dt.datetime.combine(local.date(), build)
        if local.hour >= delivery_hour and _is_digest_day(frequency, local.date()) and built:
            return local
        round_ += _HOUR
    raise ValueError(f"no digest round within {_SEARCH} hours")  # unreachable for valid fields


def day_label(*, moment: dt.datetime, now: dt.datetime) -> str:
    """ "today", "tomorrow" or "on Monday 7 December", as seen in the moment's time zone."""
    days = (moment.date() - now.astimezone(moment.tzinfo).date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return f"on {moment:%A} {moment.day} {moment:%B}"
