from __future__ import annotations

from django.urls import path

from digest import feeds, views
from papers.urls import DayConverter  # noqa: F401 - importing papers.urls registers the "day" converter

app_name = "digest"
urlpatterns = [
    path("", views.archive, name="archive"),
    path("feed.atom", feeds.issues_feed, {"fmt": "atom"}, name="issues-feed-atom"),
    path("feed.json", feeds.issues_feed, {"fmt": "json"}, name="issues-feed-json"),
    # A reader's private feed: the key is the only secret, so every miss answers the same 404.
    path("feed/<str:feed_key>.atom", feeds.reader_feed, {"fmt": "atom"}, name="feed-atom"),
    path("feed/<str:feed_key>.json", feeds.reader_feed, {"fmt": "json"}, name="feed-json"),
    path("<day:day>/", views.issue, name="issue"),
    path("copy/<str:token>/", views.reader_copy, name="copy"),
    path("vote/<str:token>/<str:direction>/", views.vote, name="vote"),
    path("signals/<str:token>/", views.signals, name="signals"),
    path("signals/<str:token>/undo/", views.signals_undo, name="signals-undo"),
    path("signals/<str:token>/reset/", views.signals_reset, name="signals-reset"),
    path("papers/<str:token>/", views.history, name="history"),
]
