"""What the subscriptions app announces to the apps built on it, which it never imports.

Receivers connect in their own AppConfig.ready(); subscriptions only sends.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent when a reader's interests text is stored (a sign-up, new preferences), with `interests`
# (the text) and `subscriber_id`, inside the transaction that stores it: a receiver that acts on
# it should do so after commit.
interests_changed = Signal()

# Sent when what a reader taught the ranking changes beyond the interests text: seeds added,
# fetched or removed, the "less of this" text, a reset. With `subscriber_id`, inside the
# transaction: a receiver recomputes the reader's learned profile after commit, in the worker.
reader_signals_changed = Signal()

# Sent when a reader downloads their data ("download my data"), with `subscriber_id`. Each
# receiver returns (section name, JSON-ready data) for what its app stores about the reader (the
# digest: votes and clicks), and the export holds each section under its name.
export_collect = Signal()
