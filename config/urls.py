from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

# Editors see our name, not Django's, in every admin page's header, <title> and index heading.
admin.site.site_header = "Paperboy administration"
admin.site.site_title = "Paperboy administration"
admin.site.index_title = "Paperboy"

# /healthz, /readyz and /metrics are not here: config.health's middleware answers them before the
# host and HTTPS checks, for probes from inside the network.
urlpatterns = [
    path("admin/", admin.site.urls),
    # The email providers' tracking webhooks: Anymail's views, made strict
    # (see subscriptions.webhooks).
    path("anymail/", include("subscriptions.webhooks")),
    path("", include("subscriptions.urls")),
    path("digest/", include("digest.urls")),
    path("", include("papers.urls")),
]
