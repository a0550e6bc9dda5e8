from __future__ import annotations

from django.apps import AppConfig


class PapersConfig(AppConfig):
    name = "papers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here: the receiver imports the tasks, which import models.
        from papers.receivers import papers_changed_thumbnails
        from papers.signals import papers_changed

        papers_changed.connect(
            papers_changed_thumbnails, dispatch_uid="papers.papers_changed_thumbnails"
        )
