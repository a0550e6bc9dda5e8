"""Paperboy settings: everything comes from the environment, with embedded development defaults.

With no environment at all the project runs on one machine: SQLite, an embedded Celery
broker on the filesystem (no Redis), the local-memory cache, email to a local outbox.
With DATABASE_URL, REDIS_URL and an email provider's keys it is the production system.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.observability import (
    LOG_FORMATTERS,
    log_format_parse,
    networks_parse,
    sentry_init,
)
from config.warmup import count_parse, warmup_parse

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Real environment variables win over the file;
# PAPERBOY_ENV_FILE lets tests and operators point elsewhere.
environ.Env.read_env(env.str("PAPERBOY_ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)
# Local state (SQLite, the embedded broker, the outbox, beat's schedule) lives here.
VAR_DIR = Path(env.str("PAPERBOY_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
# A secret never has a production default: only DEBUG gets a throwaway one.
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")
elif not (SECRET_KEY := env.str("SECRET_KEY", default="")):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set when DEBUG is off: export SECRET_KEY=<50+ random characters> "
        "(or DEBUG=true for local development)."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "anymail",
    "axes",
    "papers",
    "subscriptions",
    "digest",
]

MIDDLEWARE = [
    # First: /healthz, /readyz and /metrics answer internal probes before the host and HTTPS checks.
    "config.health.probe_answer",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the first reader of a form, the CSRF check: see its docstring.
    "config.middleware.form_charset_refuse",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: it turns a sign-in that django-axes refused into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'paperboy.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL lets the web process read while the worker writes. IMMEDIATE: a transaction takes the
    # write lock when it begins, so two writers (the worker's threads) wait for each other up to
    # the timeout; a deferred one that read first fails at once with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL;",
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
    }
else:
    # No JIT: Paperboy's queries are short, and one the planner misjudged (on a ledger not yet
    # analyzed) paid 140 ms of compiling in every batch. An "options" in DATABASE_URL wins.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
if not env.str("DATABASE_URL", default=""):
    # SQLite creates the file but not its folder.
    VAR_DIR.mkdir(parents=True, exist_ok=True)

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "config.cache.SharedClientRedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The public paper pages are rendered once a minute at most, into this cache
# (browsers get max-age=60 too).
PAPERBOY_PAGE_CACHE = env.bool("PAPERBOY_PAGE_CACHE", default=True)

# django-axes first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production values unless DEBUG) -------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
# No script of ours reads the CSRF cookie (forms carry the token),
# so scripts need not see it at all.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
# Content Security Policy (django-csp; Django's own arrives with 6.0, which needs Python 3.12).
# Scripts and style sheets only from our own static files: no inline script, no <style> element,
# no eval. Style attributes stay allowed because the emails the site shows (the outbox, a digest
# "in the browser") carry inlined CSS; they cannot run code. Thumbnails come from the sources' CDNs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:", "https:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Email ----------------------------------------------------------------------------------
# EMAIL_PROVIDER picks any Anymail ESP by its module name (postmark, sendgrid, mailgun, brevo,
# resend, sparkpost, mailjet, mailersend, amazon_ses, ...). Its settings come from variables
# named after it, e.g. POSTMARK_SERVER_TOKEN, SENDGRID_API_KEY, MAILGUN_API_KEY and
# MAILGUN_SENDER_DOMAIN, or from ANYMAIL_<NAME> (ANYMAIL_WEBHOOK_SECRET for the webhooks).
# Without a provider, development writes every email as a file under var/outbox (listed at
# /outbox/), and production falls back to EMAIL_BACKEND (SMTP unless set).
EMAIL_PROVIDER = env.str("EMAIL_PROVIDER", default="").strip().lower()
if EMAIL_PROVIDER:
    # base and base_requests are Anymail's abstract backends, not providers.
    if (
        not re.fullmatch(r"[a-z][a-z0-9_]*", EMAIL_PROVIDER)
        or EMAIL_PROVIDER in {"base", "base_requests"}
        or not importlib.util.find_spec(f"anymail.backends.{EMAIL_PROVIDER}")
    ):
        raise ImproperlyConfigured(
            f"EMAIL_PROVIDER={EMAIL_PROVIDER!r} is not an Anymail email provider; "
            "use the name of one of anymail.backends' modules, "
            "e.g. postmark, sendgrid, mailgun, amazon_ses, brevo, resend."
        )
    EMAIL_BACKEND = f"anymail.backends.{EMAIL_PROVIDER}.EmailBackend"
else:
    _email_default = "filebased" if DEBUG else "smtp"
    EMAIL_BACKEND = env.str(
        "EMAIL_BACKEND", default=f"django.core.mail.backends.{_email_default}.EmailBackend"
    )
_provider_prefix = f"{EMAIL_PROVIDER.upper()}_" if EMAIL_PROVIDER else "ANYMAIL_"
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): value
    for name, value in os.environ.items()
    if name.startswith(("ANYMAIL_", _provider_prefix))
}
# The "user:password" every provider's webhook must present (HTTP basic auth in the URL given
# to the provider). No default: without it Anymail would accept anyone's events, so
# subscriptions.webhooks refuses them all instead.
if _webhook_secret := env.str("ANYMAIL_WEBHOOK_SECRET", default=""):
    ANYMAIL["WEBHOOK_SECRET"] = _webhook_secret
EMAIL_FILE_PATH = VAR_DIR / "outbox"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Paperboy <paperboy@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ---------------------------------------------------------------------------------
# Without REDIS_URL, an embedded broker on the filesystem lets a separate worker and beat
# run on one machine with nothing else installed.
# "localhost" only keeps kombu from warning that no host was given;
# the filesystem transport ignores it.
CELERY_BROKER_URL = REDIS_URL or "filesystem://localhost/"
if REDIS_URL.startswith("redis://"):
    # kombu's Redis transport, with one client for its publishes (see config.broker).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
if not REDIS_URL:
    _queue_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
        # kombu's default is "control" relative to the working directory.
        "control_folder": str(_queue_dir / "control"),
    }
    # kombu never creates the message folder: make it before any worker, beat or producer needs it.
    (_queue_dir / "control").mkdir(parents=True, exist_ok=True)
else:
    # A task a worker took but never acknowledged (it died) goes back to the queue after this
    # long. It must outlast the longest task and retry delay; stuck digest claims are recovered
    # on their own after PAPERBOY_CLAIM_TIMEOUT_MINUTES anyway.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Processes per worker; unset means one per CPU (the worker's --concurrency wins over both).
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=0) or None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Fetching, sending and the rest each have a queue, so a slow source never holds up the mail.
PAPERBOY_SEND_QUEUE = env.str("PAPERBOY_SEND_QUEUE", default="send")
CELERY_TASK_ROUTES = {
    "papers.tasks.*": {"queue": "fetch"},
    "digest.tasks.send_batch": {"queue": PAPERBOY_SEND_QUEUE},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"

# --- Paper sources --------------------------------------------------------------------------
PAPERBOY_CONTACT = env.str("PAPERBOY_CONTACT", default="admin@localhost")
PAPERBOY_USER_AGENT = env.str(
    "PAPERBOY_USER_AGENT",
    default=f"Paperboy/0.1 (+https://github.com/paperboy; mailto:{PAPERBOY_CONTACT})",
)
PAPERBOY_HTTP_TIMEOUT = env.float("PAPERBOY_HTTP_TIMEOUT", default=20.0)
PAPERBOY_HTTP_RETRIES = env.int("PAPERBOY_HTTP_RETRIES", default=4)
PAPERBOY_ARXIV_CATEGORIES = env.list(
    "PAPERBOY_ARXIV_CATEGORIES", default=["cs.CV", "cs.CL", "cs.LG", "cs.AI"]
)
PAPERBOY_ARXIV_MIN_INTERVAL = env.float("PAPERBOY_ARXIV_MIN_INTERVAL", default=3.0)
# Team channels (digest.channels) post only to public addresses; hosts named here may resolve to
# private ones (a test receiver, an intranet relay), and a CA bundle may replace certifi's.
PAPERBOY_CHANNEL_INTERNAL_HOSTS = env.list("PAPERBOY_CHANNEL_INTERNAL_HOSTS", default=[])
PAPERBOY_CHANNEL_CA_BUNDLE = env.str("PAPERBOY_CHANNEL_CA_BUNDLE", default="")

# --- Health, metrics, logs, errors (config.health, config.metrics, config.observability) ---------
# /readyz warns (a 200 still) when a scheduled source's last success, or the last hourly tick, is
# older than this, or when more batch messages than this wait in the send queue (0: never).
PAPERBOY_HEALTH_FETCH_MAX_AGE_HOURS = env.int("PAPERBOY_HEALTH_FETCH_MAX_AGE_HOURS", default=26)
PAPERBOY_HEALTH_TICK_MAX_AGE_MINUTES = env.int("PAPERBOY_HEALTH_TICK_MAX_AGE_MINUTES", default=120)
PAPERBOY_HEALTH_SEND_QUEUE_MAX = env.int("PAPERBOY_HEALTH_SEND_QUEUE_MAX", default=5000)
# /metrics answers only with one of these set, and only to a client passing each one set: the
# Bearer token, an address in the networks (the connection's address: never X-Forwarded-For).
PAPERBOY_METRICS_TOKEN = env.str("PAPERBOY_METRICS_TOKEN", default="")
PAPERBOY_METRICS_ALLOW = networks_parse(
    "PAPERBOY_METRICS_ALLOW", env.list("PAPERBOY_METRICS_ALLOW", default=[])
)
LOG_FORMAT = log_format_parse(env.str("LOG_FORMAT", default="plain"))
if LOG_FORMAT == "json":
    # Celery would otherwise replace the root logger's handler with its own plain one.
    CELERY_WORKER_HIJACK_ROOT_LOGGER = False
if SENTRY_DSN := env.str("SENTRY_DSN", default=""):
    sentry_init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default=""),
        release=env.str("SENTRY_RELEASE", default=""),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": LOG_FORMATTERS,
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # urllib3 warns "Retrying (Retry(...))" on every retry; the fetch run logs the outcome once.
        "urllib3": {"level": "ERROR"},
    },
}

# --- Subscriptions --------------------------------------------------------------------------
# An address that takes "unsubscribe" emails, offered in List-Unsubscribe next to the https link.
PAPERBOY_UNSUBSCRIBE_MAILTO = env.str("PAPERBOY_UNSUBSCRIBE_MAILTO", default="")
# Sign-up attempts allowed per hour from one IP address, and for one email address.
PAPERBOY_SIGNUP_LIMIT_PER_IP = env.int("PAPERBOY_SIGNUP_LIMIT_PER_IP", default=20)
PAPERBOY_SIGNUP_LIMIT_PER_ADDRESS = env.int("PAPERBOY_SIGNUP_LIMIT_PER_ADDRESS", default=5)
# How many proxies in front of the site append to X-Forwarded-For (0: use the connection's address).
PAPERBOY_TRUSTED_PROXIES = env.int("PAPERBOY_TRUSTED_PROXIES", default=0)

# --- Admin sign-in (django-axes) -----------------------------------------------------------------
# After this many wrong passwords for one user name, or from one address, sign-in is refused for
# that name or address until this long after the last attempt (each one in the lock restarts it).
# 10 leaves room for a few typos and a stale password manager; 10 guesses an hour is nothing against
# a password the validators accepted, and an hour is short enough not to need an operator.
# `manage.py axes_reset_username <name>` (or axes_reset_ip <address>) lifts a lock at once.
PAPERBOY_ADMIN_LOCKOUT_FAILURES = env.int("PAPERBOY_ADMIN_LOCKOUT_FAILURES", default=10)
PAPERBOY_ADMIN_LOCKOUT_MINUTES = env.int("PAPERBOY_ADMIN_LOCKOUT_MINUTES", default=60)
AXES_FAILURE_LIMIT = PAPERBOY_ADMIN_LOCKOUT_FAILURES
AXES_COOLOFF_TIME = PAPERBOY_ADMIN_LOCKOUT_MINUTES / 60  # hours
# Each name on its own: the user name alone, or the address alone, reaching the limit locks.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# No banner on every start of every command (it broke commands' clean stderr); lockouts still log.
AXES_VERBOSE = False
# The database keeps the count for all web processes alike (the cache may be one per process).
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# The address the sign-up limits use: X-Forwarded-For only as far as PAPERBOY_TRUSTED_PROXIES says.
AXES_CLIENT_IP_CALLABLE = "config.signin.signin_client_ip"
AXES_LOCKOUT_CALLABLE = "config.signin.signin_lockout_response"
# Every failure is kept (AccessFailureLog), beside the counts and the successful sign-ins, all in
# the admin; passwords and the CSRF token are masked in the stored form data.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]

# --- Digest ---------------------------------------------------------------------------------
# The sender's postal address, printed in every digest's footer (anti-spam laws ask for one).
PAPERBOY_POSTAL_ADDRESS = env.str("PAPERBOY_POSTAL_ADDRESS", default="")
# The issue of the day: built at this UTC hour from the trending papers of the last N hours.
PAPERBOY_ISSUE_BUILD_HOUR = env.int("PAPERBOY_ISSUE_BUILD_HOUR", default=0)
PAPERBOY_ISSUE_WINDOW_HOURS = env.int("PAPERBOY_ISSUE_WINDOW_HOURS", default=24)
PAPERBOY_ISSUE_CANDIDATES = env.int("PAPERBOY_ISSUE_CANDIDATES", default=100)
# New papers in the window below which the day is "quiet" and the email says so.
PAPERBOY_QUIET_MIN_PAPERS = env.int("PAPERBOY_QUIET_MIN_PAPERS", default=10)
# Built issues wait for an editor (draft) instead of going out on their own (scheduled).
PAPERBOY_ISSUE_REQUIRE_APPROVAL = env.bool("PAPERBOY_ISSUE_REQUIRE_APPROVAL", default=False)
# Digests per batch: by default the provider's batch API limit
# (see digest.transport.PROVIDER_BATCH).
PAPERBOY_SEND_BATCH_SIZE = env.int("PAPERBOY_SEND_BATCH_SIZE", default=0)
# The email provider's limits, kept by every worker on every machine together (through Redis with
# REDIS_URL; without it each worker process counts alone): messages per second, and per UTC day
# (0: no limit). Feed-only readers and team channels do not count: they are not the provider's.
PAPERBOY_SEND_RATE = count_parse("PAPERBOY_SEND_RATE", env.str("PAPERBOY_SEND_RATE", default=""))
PAPERBOY_SEND_DAILY_CAP = count_parse(
    "PAPERBOY_SEND_DAILY_CAP", env.str("PAPERBOY_SEND_DAILY_CAP", default="")
)
# An IP's warm-up: "2026-12-01:1000,2000,5000,10000" caps each day from that date on (and the days
# before it at the first cap); after the last, PAPERBOY_SEND_DAILY_CAP applies. Checked here, once.
PAPERBOY_SEND_WARMUP = env.str("PAPERBOY_SEND_WARMUP", default="")
warmup_parse(PAPERBOY_SEND_WARMUP)
# A claim older than this is taken to be a crashed batch's,
# and its deliveries go back to the queue.
PAPERBOY_CLAIM_TIMEOUT_MINUTES = env.int("PAPERBOY_CLAIM_TIMEOUT_MINUTES", default=15)
# Full delivery rows are kept this many days (at least the 60 that "never twice" looks back); older
# sent issues keep only their figures (digest.retention, nightly).
PAPERBOY_DELIVERY_RETENTION_DAYS = env.int("PAPERBOY_DELIVERY_RETENTION_DAYS", default=90)
# An issue pauses itself when at least this share of its last sends failed (over 50 or more).
PAPERBOY_PAUSE_ERROR_RATE = env.float("PAPERBOY_PAUSE_ERROR_RATE", default=0.2)
# "More like this / Less like this" links under each paper of a digest; the reader's ranking learns
# from them (digest.learning).
PAPERBOY_VOTE_LINKS = env.bool("PAPERBOY_VOTE_LINKS", default=True)
# A stored template (id or alias) holding {{{html}}}, {{text}} and {{subject}}, for providers whose
# batch API takes per-recipient content only through templates (Postmark, Amazon SES, Brevo).
PAPERBOY_DIGEST_TEMPLATE_ID = env.str("PAPERBOY_DIGEST_TEMPLATE_ID", default="")
# Embed new papers and new interests texts in the worker as they arrive (the tests switch it off
# and turn it on where they test it: the model takes seconds to load).
PAPERBOY_EMBED_ON_CHANGE = env.bool("PAPERBOY_EMBED_ON_CHANGE", default=True)
# Fetch new papers' thumbnails in the worker, to serve them from the site (papers.thumbnails).
PAPERBOY_THUMBNAILS_ON_CHANGE = env.bool("PAPERBOY_THUMBNAILS_ON_CHANGE", default=True)
# Refit a reader's learned profile in the worker when their votes, seeds or texts change.
PAPERBOY_LEARN_ON_CHANGE = env.bool("PAPERBOY_LEARN_ON_CHANGE", default=True)
