"""Load the bundled sample of real papers (papers/sample/): a fresh site has something to show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from papers.models import FetchRun
from papers.services import error_line, papers_load_file

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample"


class Command(BaseCommand):
    help = (
        "Load every saved response in papers/sample/ "
        "(idempotent: loading again changes nothing but last-seen)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        paths = sorted(
            path for path in SAMPLE_DIR.iterdir() if path.is_file() and path.suffix != ".md"
        )
        if not paths:
            raise CommandError(f"no sample files in {SAMPLE_DIR}")
        failures = 0
        for path in paths:
            try:
                run = papers_load_file(path=path)
            except Exception as exc:
                self.stderr.write(f"{path.name}: failed: {error_line(exc)}")
                failures += 1
                continue
            if run.status == FetchRun.Status.FAILED:
                self.stderr.write(f"{path.name}: failed: {run.error} (run #{run.pk})")
                failures += 1
                continue
            self.stdout.write(
                f"{path.name} ({run.params.get('format')}): {run.created} created, "
                f"{run.updated} updated, {run.unchanged} unchanged, {run.skipped} skipped "
                f"(run #{run.pk})"
            )
        if failures:
            raise CommandError(f"{failures} of {len(paths)} sample files failed to load")
