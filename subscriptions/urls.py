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
    path("manage/<str:token>/feed/", views.manage_feed, name="manage-feed"),
    path("manage/<str:token>/via/", views.manage_via, name="manage-via"),
    path("manage/<str:token>/export/", views.manage_export, name="manage-export"),
    path("manage/<str:token>/delete/", views.manage_delete, name="manage-delete"),
    path("manage/<str:token>/seeds/ids/", views.manage_seeds_ids, name="manage-seeds-ids"),
    path("manage/<str:token>/seeds/file/", views.manage_seeds_file, name="manage-seeds-file"),
    path("manage/<str:token>/seeds/author/", views.manage_seeds_author, name="manage-seeds-author"),
    path("manage/<str:token>/seeds/remove/", views.manage_seed_remove, name="manage-seed-remove"),
    path("manage/<str:token>/seeds/clear/", views.manage_seeds_clear, name="manage-seeds-clear"),
    path("manage/<str:token>/less-of/", views.manage_less_of, name="manage-less-of"),
    path("email/<str:token>/", views.change_email, name="change-email"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    # Development only: both answer 404 unless DEBUG is on.
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<str:key>/", views.outbox_message, name="outbox-message"),
]
