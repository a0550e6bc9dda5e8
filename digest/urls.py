from __future__ import annotations

from django.urls import path

from digest import views
from papers.urls import DayConverter  # noqa: F401 - importing papers.urls registers the "day" converter

app_name = "digest"
urlpatterns = [
    path("", views.archive, name="archive"),
    path("<day:day>/", views.issue, name="issue"),
    path("copy/<str:token>/", views.reader_copy, name="copy"),
    path("vote/<str:token>/<str:direction>/", views.vote, name="vote"),
    path("signals/<str:token>/", views.signals, name="signals"),
    path("signals/<str:token>/undo/", views.signals_undo, name="signals-undo"),
    path("signals/<str:token>/reset/", views.signals_reset, name="signals-reset"),
]
