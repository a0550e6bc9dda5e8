"""Build (or rebuild) the issue of a day from the trending papers of its window."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from digest import cli, services
from digest.models import IssueKind


class Command(BaseCommand):
    help = "Build the issue of a day (today by default): its candidates, quiet-day flag and status."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="the issue's date, YYYY-MM-DD (default: today, UTC)")
        parser.add_argument("--kind", default=IssueKind.DAILY, help="daily (default) or weekly")
        parser.add_argument(
            "--rebuild", action="store_true", help="refresh the candidates of an unsent issue"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        day = cli.date_parse(options["date"]) if options["date"] else timezone.now().date()
        kind = cli.kind_parse(options["kind"])
        try:
            issue = services.issue_build(date=day, kind=kind, rebuild=options["rebuild"])
        except services.IssueError as error:
            raise CommandError(str(error)) from None
        quiet = " — a quiet day" if issue.quiet else ""
        self.stdout.write(
            f"{issue} (#{issue.pk}): {len(issue.candidate_ids)} candidates, "
            f"{issue.new_papers} new{quiet}; {issue.get_status_display().lower()}"
        )
