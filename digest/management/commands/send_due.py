"""The hourly tick, by hand: build due issues, recover stuck claims, make readers due, send."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from digest import cli, selectors, sending, services, tasks


class Command(BaseCommand):
    help = (
        "Do what the hourly beat does: build today's issue, recover stuck claims, "
        "make due the readers whose local hour has come, and send their digests here "
        "(or, with --enqueue, hand the batches to the workers)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now", help="act as if it were this UTC date-time (ISO 8601), e.g. to catch up"
        )
        parser.add_argument(
            "--enqueue", action="store_true", help="queue batch tasks instead of sending here"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = cli.datetime_parse(options["now"]) if options["now"] else timezone.now()
        tick = services.tick_prepare(now=now)
        self.stdout.write(
            f"issues ready: {len(tick.built)}; due now: {sum(tick.made_due.values())}; "
            f"stuck claims requeued: {tick.requeued}, failed: {tick.failed}"
        )
        if options["enqueue"]:
            queued = tasks.batches_enqueue(issue_ids=tick.issue_ids_to_send)
            self.stdout.write(f"batches queued: {queued}")
            return
        totals = send_queued(issue_ids=tick.issue_ids_to_send)
        self.stdout.write(
            f"sent: {totals.sent}, failed: {totals.failed}, skipped: {totals.skipped}"
        )


def send_queued(*, issue_ids: list[int]) -> sending.BatchResult:
    """Send every queued delivery of these issues here, with a progress bar; the totals."""
    totals = sending.BatchResult()
    for issue_id in issue_ids:
        with cli.progress(
            selectors.delivery_count_queued(issue_id=issue_id), desc=f"issue #{issue_id}"
        ) as bar:
            while True:
                result = sending.deliveries_send_batch(issue_id=issue_id)
                if result.retry is not None:
                    # The batch stays claimed; the worker's retry or the next tick's recovery
                    # sends it.
                    bar.write(f"provider trouble, left for a retry: {result.retry.reason}")
                    break
                if not result.claimed:
                    break
                bar.update(result.claimed)
                for name in ("sent", "failed", "skipped"):
                    setattr(totals, name, getattr(totals, name) + getattr(result, name))
                if result.paused:
                    bar.write(f"issue #{issue_id} paused itself: too many failures")
                    break
    return totals
