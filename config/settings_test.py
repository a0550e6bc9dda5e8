"""Test settings: production settings with a throwaway key and no outside world."""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-only-not-secret")

from config.settings import *  # noqa: F403
from config.settings import STORAGES

SECURE_SSL_REDIRECT = False
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
PAPERBOY_ARXIV_MIN_INTERVAL = 0.0
PAPERBOY_HTTP_RETRIES = 2
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
WHITENOISE_AUTOREFRESH = True  # serve from the finders: tests never run collectstatic
PAPERBOY_EMBED_ON_CHANGE = False  # tests that need it turn it on
PAPERBOY_LEARN_ON_CHANGE = False  # likewise
PAPERBOY_THUMBNAILS_ON_CHANGE = False  # likewise (tests/papers/test_thumbnails.py)
# Tests change papers and look at the pages again at once: no page cache
# (tests/papers test it on its own).
PAPERBOY_PAGE_CACHE = False
