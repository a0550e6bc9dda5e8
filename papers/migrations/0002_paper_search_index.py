"""A GIN index on the weighted full-text search vector, on PostgreSQL only.

The expression must stay identical to `papers.selectors.paper_search_vector()` for the
planner to use the index (tests/papers/test_selectors.py checks it with EXPLAIN). SQLite has
no such index and searches with a plain substring fallback, so there this does nothing. The
index is not part of the model state: `makemigrations` neither sees nor recreates it.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations
from django.db.models import TextField
from django.db.models.functions import Cast

INDEX_NAME = "paper_search_vector_gin"


def _index():
    vector = (
        SearchVector("title", weight="A", config="english")
        + SearchVector(Cast("authors", output_field=TextField()), weight="B", config="english")
        + SearchVector("abstract", weight="C", config="english")
    )
    return GinIndex(vector, name=INDEX_NAME)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("papers", "Paper"), _index())


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("papers", "Paper"), _index())


class Migration(migrations.Migration):
    dependencies = [("papers", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
