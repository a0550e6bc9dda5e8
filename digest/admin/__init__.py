"""The digest's admin, one module per admin: issues, the ledger, the subscriber page, channels.

Django's autodiscover imports this package; importing the modules registers their admins.
"""

from __future__ import annotations

from digest.admin import channels, dashboards, delivery, issue, subscriber

__all__ = ["channels", "dashboards", "delivery", "issue", "subscriber"]
