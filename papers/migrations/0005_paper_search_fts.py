"""A full-text index of papers for SQLite (FTS5), kept in step with papers_paper by triggers.

PostgreSQL searches Paper.search_vector (0002), so there this does nothing. On SQLite the
FTS5 table holds its own copy of title, authors and abstract rather than reading them from
papers_paper (an "external content" table): authors are stored as JSON with non-ASCII letters
escaped ("G\\u00f6tz"), so the index gets the decoded names, joined by "; ", which is not
what the column holds. With its own copy a row is removed by rowid, with nothing to recompute.
Triggers, not the ingest, keep it in step, so every write (ingest, admin, shell) is indexed.
The tokenizer stems English (porter, like PostgreSQL's 'english' configuration), folds case
for every script and keeps accents, so "Bökman" finds Bökman on both databases alike.
"""

import django.db.models.deletion
from django.db import migrations, models

CREATE = [
    "CREATE VIRTUAL TABLE papers_paper_fts USING fts5("
    "title, authors, abstract, tokenize = 'porter unicode61 remove_diacritics 0')",
    "CREATE TRIGGER papers_paper_fts_insert AFTER INSERT ON papers_paper BEGIN "
    "INSERT INTO papers_paper_fts(rowid, title, authors, abstract) VALUES (new.id, new.title, "
    "(SELECT group_concat(value, '; ') FROM json_each(new.authors)), new.abstract); END",
    "CREATE TRIGGER papers_paper_fts_delete AFTER DELETE ON papers_paper BEGIN "
    "DELETE FROM papers_paper_fts WHERE rowid = old.id; END",
    # Only when the text changes: a fetch touches last_seen_at on every paper it sees.
    "CREATE TRIGGER papers_paper_fts_update AFTER UPDATE OF title, authors, abstract "
    "ON papers_paper WHEN old.title IS NOT new.title OR old.authors IS NOT new.authors "
    "OR old.abstract IS NOT new.abstract BEGIN "
    "DELETE FROM papers_paper_fts WHERE rowid = old.id; "
    "INSERT INTO papers_paper_fts(rowid, title, authors, abstract) VALUES (new.id, new.title, "
    "(SELECT group_concat(value, '; ') FROM json_each(new.authors)), new.abstract); END",
    # The papers already there.
    "INSERT INTO papers_paper_fts(rowid, title, authors, abstract) SELECT id, title, "
    "(SELECT group_concat(value, '; ') FROM json_each(papers_paper.authors)), abstract "
    "FROM papers_paper",
]
DROP = [
    "DROP TRIGGER IF EXISTS papers_paper_fts_update",
    "DROP TRIGGER IF EXISTS papers_paper_fts_delete",
    "DROP TRIGGER IF EXISTS papers_paper_fts_insert",
    "DROP TABLE IF EXISTS papers_paper_fts",
]


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in CREATE:
            schema_editor.execute(statement)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("papers", "0004_paper_organization_comment_thumbnail")]

    operations = [
        migrations.RunPython(create_index, drop_index, elidable=False),
        # The table as search reads it (papers.models.PaperSearchIndex); Django never creates it.
        migrations.CreateModel(
            name="PaperSearchIndex",
            fields=[
                (
                    "paper",
                    models.OneToOneField(
                        db_column="rowid",
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="search_index",
                        serialize=False,
                        to="papers.paper",
                    ),
                ),
                ("document", models.TextField(db_column="papers_paper_fts", editable=False)),
            ],
            options={"db_table": "papers_paper_fts", "managed": False},
        ),
    ]
