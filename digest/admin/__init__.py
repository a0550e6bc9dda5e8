"""The digest's admin, one module per admin: issues, the ledger, the subscriber page's deliveries.

Django's autodiscover imports this package; importing the modules registers their admins.
"""

from __future__ import annotations

from digest.admin import delivery, issue, subscriber

__all__ = ["delivery", "issue", "subscriber"]
