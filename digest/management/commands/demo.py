"""Send the sample's daily and weekly digests to two demo readers: a real digest in the outbox."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from digest import demo
from digest.management.commands.send_due import send_queued


class Command(BaseCommand):
    help = (
        "Create two demo readers (daily and weekly), build the issues of the latest stored day "
        "and send them to those readers only (again: nothing is sent twice)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = demo.demo_prepare()
        except demo.DemoError as error:
            raise CommandError(str(error)) from None
        for line in result.empty:
            self.stderr.write(line)
        if not result.issues:
            raise CommandError("no issue could be built from the stored papers")
        for reader in result.readers:
            self.stdout.write(f"demo reader: {reader.email} ({reader.frequency})")
        for issue in result.issues:
            self.stdout.write(
                f"{issue} (#{issue.pk}): {len(issue.candidate_ids)} candidates, "
                f"{result.made_due[issue.pk]} demo reader(s) made due"
            )
        totals = send_queued(issue_ids=[issue.pk for issue in result.issues])
        self.stdout.write(
            f"sent: {totals.sent}, failed: {totals.failed}, skipped: {totals.skipped}"
        )
        if totals.sent == 0 and not any(result.made_due.values()):
            self.stdout.write("(the demo readers already had these issues: nothing new to send)")
        if settings.EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend":
            self.stdout.write(
                f"read them in {settings.EMAIL_FILE_PATH}/ or at /outbox/ on the running site"
            )
