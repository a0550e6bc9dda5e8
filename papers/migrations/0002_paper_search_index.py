"""A GIN index on Paper.search_vector, on PostgreSQL only.

SQLite has no such index (the column is there, always NULL, and search falls back to a
substring match), so there this does nothing.
"""

from django.contrib.postgres.indexes import GinIndex
from django.db import migrations

INDEX_NAME = "paper_search_vector_gin"


def _index():
    return GinIndex(fields=["search_vector"], name=INDEX_NAME)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("papers", "Paper"), _index())


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("papers", "Paper"), _index())


class Migration(migrations.Migration):
    dependencies = [("papers", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
