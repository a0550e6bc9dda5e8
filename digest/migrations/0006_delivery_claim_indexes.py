"""The ledger's indexes for a million readers: the claim's order, and the rows a claim holds.

On PostgreSQL the indexes are built CONCURRENTLY (outside a transaction), so upgrading a site
with millions of deliveries does not stop sending while they build; elsewhere as usual.
"""

from typing import Any

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


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("digest", "0005_delivery_reasons_notices_channel"),
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
    ]
