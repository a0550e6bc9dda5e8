from __future__ import annotations

from django.urls import path

from subscriptions import views

app_name = "subscriptions"
urlpatterns = [
    path("subscribe/", views.subscribe, name="subscribe"),
    path("subscribe/check-your-inbox/", views.subscribe_sent, name="subscribe-sent"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("manage/<str:token>/", views.manage, name="manage"),
    path("manage/<str:token>/pause/", views.manage_pause, name="manage-pause"),
    path("manage/<str:token>/email/", views.manage_email, name="manage-email"),
    path("manage/<str:token>/export/", views.manage_export, name="manage-export"),
    path("manage/<str:token>/delete/", views.manage_delete, name="manage-delete"),
    path("email/<str:token>/", views.change_email, name="change-email"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    # Development only: both answer 404 unless DEBUG is on.
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<str:key>/", views.outbox_message, name="outbox-message"),
]
