"""FetchRun counts the failed attempts it stands for: repeated failures of a source share a row."""

from django.db import migrations, models
from django.db.models import Q


def count_past_failures(apps, schema_editor):
    """Every failed run so far stood for one failed attempt."""
    fetch_run = apps.get_model("papers", "FetchRun")
    fetch_run.objects.filter(Q(status="failed")).update(failures=1)


class Migration(migrations.Migration):
    dependencies = [("papers", "0005_paper_search_fts")]

    operations = [
        migrations.AddField(
            model_name="fetchrun",
            name="failures",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="fetchrun",
            name="failure_kind",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
        migrations.RunPython(count_past_failures, migrations.RunPython.noop),
    ]
