from __future__ import annotations

import calendar
import datetime as dt

from django.urls import path, register_converter

from papers import feeds, views

# arXiv opened in 1991; the bounds also keep date arithmetic (the day after, the week's Sunday)
# far from date.max, so /papers/date/9999-12-31/ is a 404 rather than an OverflowError.
_YEARS = range(1900, 3000)


def _year_in_range(value: int) -> int:
    if value not in _YEARS:
        raise ValueError(f"year {value} out of range")
    return value


class DayConverter:
    """YYYY-MM-DD as a date; an impossible date (2025-02-30) does not match, hence a 404."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> dt.date:
        day = dt.date.fromisoformat(value)  # ValueError means "no match" to the resolver: a 404
        _year_in_range(day.year)
        return day

    def to_url(self, value: dt.date | str) -> str:
        return value.isoformat() if isinstance(value, dt.date) else value


class WeekConverter:
    """ISO week YYYY-Www as its Monday."""

    regex = r"\d{4}-W\d{2}"

    def to_python(self, value: str) -> dt.date:
        year, week = value.split("-W")
        return dt.date.fromisocalendar(_year_in_range(int(year)), int(week), 1)

    def to_url(self, value: dt.date | str) -> str:
        if isinstance(value, dt.date):
            year, week, _ = value.isocalendar()
            return f"{year}-W{week:02d}"
        return value


class MonthConverter:
    """YYYY-MM as the first of the month."""

    regex = r"\d{4}-\d{2}"

    def to_python(self, value: str) -> dt.date:
        year, month = (int(part) for part in value.split("-"))
        calendar.monthrange(_year_in_range(year), month)  # rejects month 0 and 13
        return dt.date(year, month, 1)

    def to_url(self, value: dt.date | str) -> str:
        return f"{value:%Y-%m}" if isinstance(value, dt.date) else value


class ArxivIdConverter:
    """New-style arXiv ids and old-style ones with their slash.

    2511.11793, astro-ph/0601001 and math.GT/0309136 all match.
    """

    regex = r"(?:\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]{2})?/\d{7})"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(DayConverter, "day")
register_converter(WeekConverter, "isoweek")
register_converter(MonthConverter, "month")
register_converter(ArxivIdConverter, "arxiv_id")

app_name = "papers"
urlpatterns = [
    path("", views.home, name="home"),
    path("papers/date/<day:day>/", views.day, name="day"),
    path("papers/week/<isoweek:week>/", views.week, name="week"),
    path("papers/month/<month:month>/", views.month, name="month"),
    path("papers/<arxiv_id:arxiv_id>/", views.detail, name="detail"),
    path("papers/<arxiv_id:arxiv_id>/thumbnail", views.thumbnail, name="thumbnail"),
    # A versioned id redirects to the paper's one page.
    path("papers/<arxiv_id:arxiv_id>v<int:version>/", views.detail, name="detail-version"),
    path("search/", views.search, name="search"),
    path("papers/feed.atom", feeds.feed, {"fmt": "atom"}, name="feed-atom"),
    path("papers/feed.json", feeds.feed, {"fmt": "json"}, name="feed-json"),
]
