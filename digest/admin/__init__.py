"""The digest's admin, one module per admin: issues, the ledger, and the ledger's panel on the subscriber page.

Django's autodiscover imports this package; importing the modules registers their admins.
"""

from __future__ import annotations

from digest.admin import delivery, issue, subscriber

__all__ = ["delivery", "issue", "subscriber"]
