"""What the subscriptions app announces to the apps built on it, which it never imports.

Receivers connect in their own AppConfig.ready(); subscriptions only sends.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent when a reader's interests text is stored (a sign-up, new preferences), with `interests`
# (the text), inside the transaction that stores it: a receiver that acts on it should do so
# after commit.
interests_changed = Signal()
