"""What the papers app announces to the apps built on it, which it never imports.

Receivers connect in their own AppConfig.ready(); papers only sends.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent after a fetch run has committed papers it created or changed, with `since` (a datetime):
# every paper the run touched has `last_seen_at >= since`.
papers_changed = Signal()
