"""Send an issue now to every deliverable reader of its kind, whatever their hour ("send now")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from digest import cli, ledger, selectors
from digest.management.commands.send_due import send_queued
from digest.models import Delivery, IssueKind, IssueStatus


class Command(BaseCommand):
    help = "Send an issue now to every deliverable reader of its kind; --dry-run only counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--issue", help="the issue's number")
        parser.add_argument("--date", help="or the issue's date, YYYY-MM-DD")
        parser.add_argument(
            "--kind", default=IssueKind.DAILY, help="with --date: daily (default) or weekly"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would be sent, change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        issue = cli.issue_find(
            issue_id=options["issue"], date=options["date"], kind=options["kind"]
        )
        if issue.status == IssueStatus.DRAFT:
            raise CommandError(f"{issue} is a draft: schedule it in the admin first")
        if issue.status == IssueStatus.SENT:
            raise CommandError(f"{issue} is closed (sent); nothing more goes out")
        if issue.paused_at:
            raise CommandError(
                f"{issue} is paused ({issue.pause_reason}); resume it in the admin first"
            )
        if options["dry_run"]:
            self._dry_run(issue)
            return
        created = ledger.deliveries_create_all(issue=issue, now=timezone.now())
        self.stdout.write(f"{issue}: {created} readers made due")
        totals = send_queued(issue_ids=[issue.pk])
        self.stdout.write(
            f"sent: {totals.sent}, failed: {totals.failed}, skipped: {totals.skipped}"
        )

    def _dry_run(self, issue: Any) -> None:
        readers = selectors.issue_readers(issue=issue)
        already = Delivery.objects.filter(issue=issue, subscriber__in=readers).count()
        total = readers.count()
        new = total - already
        self.stdout.write(
            f"{issue} (#{issue.pk}, {issue.status}): "
            f"{new} reader{'' if new == 1 else 's'} would be sent it now; "
            f"{already} already have a delivery; {len(issue.candidate_ids)} candidates, "
            f"{issue.pins.count()} pinned, {issue.hides.count()} hidden. Dry run: nothing changed."
        )
