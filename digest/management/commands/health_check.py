"""Run /readyz's checks from the command line: the beat container's health check (the last tick)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config import health


class Command(BaseCommand):
    help = (
        "Run the readiness checks (all, or those named: database cache broker send_queue "
        "fetch_hf fetch_arxiv tick), print them as JSON, and exit 1 unless each named one is ok."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", help="the checks to run (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        checks = health.readiness()
        names = options["names"] or [c.name for c in checks]
        unknown = sorted(set(names) - {c.name for c in checks} - health.CHECK_NAMES)
        if unknown:
            raise CommandError(f"No such check: {', '.join(unknown)}.")
        chosen = [c for c in checks if c.name in names]
        self.stdout.write(health.report_json(chosen))
        # A named check that did not run (the broker down hides send_queue) is not ok either.
        if len(chosen) < len(set(names)) or any(c.status != health.OK for c in chosen):
            raise CommandError("Not healthy.", returncode=1)
