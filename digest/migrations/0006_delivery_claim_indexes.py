"""The ledger's indexes for a million readers: the claim's order, and the rows a claim holds.

On PostgreSQL the indexes are built CONCURRENTLY (outside a transaction), so upgrading a site
with millions of deliveries does not stop sending while they build; elsewhere as usual.
"""

from typing import Any

import django.db.models.deletion
from django.contrib.postgres import operations as postgres
from django.db import migrations, models


def _on_postgresql(schema_editor: Any) -> bool:
    return bool(schema_editor.connection.vendor == "postgresql")


class AddIndexConcurrently(postgres.AddIndexConcurrently):
    """CONCURRENTLY on PostgreSQL; a plain AddIndex elsewhere (SQLite under `make run`)."""

    def database_forwards(self, app_label: str, editor: Any, old: Any, new: Any) -> None:
        if _on_postgresql(editor):
            super().database_forwards(app_label, editor, old, new)
        else:
            migrations.AddIndex.database_forwards(self, app_label, editor, old, new)

    def database_backwards(self, app_label: str, editor: Any, old: Any, new: Any) -> None:
        if _on_postgresql(editor):
            super().database_backwards(app_label, editor, old, new)
        else:
            migrations.AddIndex.database_backwards(self, app_label, editor, old, new)


class RemoveIndexConcurrently(postgres.RemoveIndexConcurrently):
    """CONCURRENTLY on PostgreSQL; a plain RemoveIndex elsewhere."""

    def database_forwards(self, app_label: str, editor: Any, old: Any, new: Any) -> None:
        if _on_postgresql(editor):
            super().database_forwards(app_label, editor, old, new)
        else:
            migrations.RemoveIndex.database_forwards(self, app_label, editor, old, new)

    def database_backwards(self, app_label: str, editor: Any, old: Any, new: Any) -> None:
        if _on_postgresql(editor):
            super().database_backwards(app_label, editor, old, new)
        else:
            migrations.RemoveIndex.database_backwards(self, app_label, editor, old, new)


def _issue_index_drop(apps: Any, schema_editor: Any) -> None:
    """Drop the one-column index of Delivery's issue (the foreign key stays).

    An AlterField would drop and re-add the foreign keys, checking every row under lock.
    """
    connection = schema_editor.connection
    table = "digest_delivery"
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    concurrently = " CONCURRENTLY" if _on_postgresql(schema_editor) else ""
    for name, info in constraints.items():
        lone = info["columns"] == ["issue_id"]
        if lone and info["index"] and not info["unique"] and not info["foreign_key"]:
            schema_editor.execute(
                f"DROP INDEX{concurrently} IF EXISTS {schema_editor.quote_name(name)}"
            )


def _issue_index_create(apps: Any, schema_editor: Any) -> None:
    model = apps.get_model("digest", "Delivery")
    for column in ("issue_id",):
        name = schema_editor._create_index_name(model._meta.db_table, [column])
        concurrently = " CONCURRENTLY" if _on_postgresql(schema_editor) else ""
        schema_editor.execute(
            f"CREATE INDEX{concurrently} IF NOT EXISTS {schema_editor.quote_name(name)} "
            f"ON {model._meta.db_table} ({column})"
        )


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("digest", "0005_delivery_reasons_notices_channel"),
        ("subscriptions", "0004_subscriber_via_feed_key"),
    ]

    operations = [
        # The new index first: counts and claims keep an index while the old one goes.
        AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(fields=["issue", "status", "id"], name="delivery_issue_status_id"),
        ),
        RemoveIndexConcurrently(
            model_name="delivery",
            name="digest_deli_issue_i_231a0a_idx",
        ),
        AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("claim__isnull", False)),
                fields=["claim"],
                name="delivery_claim",
            ),
        ),
        # The indexes above begin with issue_id: the foreign key's own index only cost writes,
        # and misled the planner (a claim of a second on a freshly loaded ledger, through it).
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(_issue_index_drop, _issue_index_create, elidable=False)
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="delivery",
                    name="issue",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="digest.issue",
                    ),
                ),
            ],
        ),
    ]
