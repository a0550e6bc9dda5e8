"""Helpers and constants the tests share (fixtures stay in conftests, builders in factories.py)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import html
import json
import os
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AnyStr, TypedDict
from urllib.parse import urlsplit

import numpy as np
import pytest
import requests
import responses
import time_machine
from anymail.exceptions import AnymailRequestsAPIError
from django.core import mail

from config.celery import app
from digest import sending, services
from digest.eval import Profile
from digest.models import Issue, IssuePin
from papers.ingest import papers_ingest
from papers.models import Paper
from papers.sources.hf_api import parse
from papers.sources.records import PaperRecord

ROOT = Path(__file__).resolve().parents[1]

# --- Captured responses, screenshots and the browser ----------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures"
SHOTS = ROOT / "test-artifacts" / "screenshots"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
CHROMIUM = Path("/usr/bin/chromium")
# As root and offline: no sandbox, and none of Chromium's own calls home (they would be refused).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def fixture_bytes(relative: str) -> bytes:
    """The bytes of a captured real response under tests/fixtures."""
    return (FIXTURES / relative).read_bytes()


# --- What a test reads back: regex matches, and the requests `responses` answered -----------------


def matched(pattern: AnyStr, text: AnyStr, flags: int = 0) -> re.Match[AnyStr]:
    """The first match of the pattern in the text; no match fails the test, naming the pattern."""
    found = re.search(pattern, text, flags)
    assert found is not None, f"no match for {pattern!r}"
    return found


def fully_matched(pattern: AnyStr, text: AnyStr) -> re.Match[AnyStr]:
    """The match of the pattern with the whole text; no match fails the test, naming both."""
    found = re.fullmatch(pattern, text)
    assert found is not None, f"{text!r} does not match {pattern!r}"
    return found


def sent_params(call: responses.Call) -> dict[str, Any]:
    """The query parameters of a request that `responses` answered, as it recorded them."""
    # responses sets .params on the PreparedRequest it records (with a type: ignore of its own).
    return call.request.params  # type: ignore[attr-defined]


def sent_kwargs(call: responses.Call) -> dict[str, Any]:
    """The keyword arguments (timeout...) of a request `responses` answered, as it recorded them."""
    # responses sets .req_kwargs on the PreparedRequest it records (with a type: ignore of its own).
    return call.request.req_kwargs  # type: ignore[attr-defined]


def answered_status(call: responses.Call) -> int:
    """The status `responses` answered a request with (an exception it raised fails the test)."""
    assert isinstance(call.response, requests.Response), call.response
    return call.response.status_code


# --- Sign-up, and the links in emails and pages ---------------------------------------------------

FORM = {
    "email": "ada@example.org",
    "interests": "3D human pose estimation, efficient LLM inference",
    "categories": ["cs.CV", "cs.CL"],
    "frequency": "weekdays",
    "digest_size": "7",
    "delivery_hour": "9",
    "timezone": "Europe/Paris",
}


def link_path(message: mail.EmailMessage, name: str) -> str:
    """The path of the first /<name>/<token>/ link in an email's text part."""
    found = re.search(rf"https?://[^\s/]+(/{name}/[^\s/]+/)", str(message.body))
    assert found, f"no /{name}/ link in:\n{message.body}"
    return urlsplit(found.group(0)).path


def page_link(response: Any, name: str) -> str:
    """The path of the first href="/<name>/<token>/..." link on a page."""
    found = re.search(rf'href="(/{name}/[^"/]+/)"', response.content.decode())
    assert found, f"no /{name}/ link on the page"
    return found.group(1)


# --- The email provider and its webhooks ----------------------------------------------------------

WEBHOOK_SECRET = "paperboy:webhook-s3cret"
POSTMARK_WEBHOOK = "/anymail/postmark/tracking/"


class BasicAuth(TypedDict, total=False):
    """Keyword arguments for the test client: the WSGI name of the Authorization header."""

    HTTP_AUTHORIZATION: str


def basic_auth(credentials: str | None) -> BasicAuth:
    """The Authorization header a provider sends with user:password credentials (none for None)."""
    if credentials is None:
        return {}
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


def provider_http_error(status: int) -> AnymailRequestsAPIError:
    """The error Anymail raises when the provider answers with this HTTP status."""
    response = requests.Response()
    response.status_code, response.reason, response._content = status, "Service Unavailable", b"{}"
    return AnymailRequestsAPIError("the provider is down", status_code=status, response=response)


# --- The digest -----------------------------------------------------------------------------------

# A Tuesday: the day of the issue the ledger and command tests build and send.
DAY = dt.date(2026, 11, 24)
# When DAY's issue is built, and when a UTC reader's 08:00 digest is due.
BUILT = dt.datetime(2026, 11, 24, 0, 5, tzinfo=dt.UTC)
LOCAL_8AM_UTC = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
CANDIDATES = "hf_daily_papers/api_daily_papers_month-2025-11_sort-publishedAt_limit100_p0.json"
ONE_DAY = "hf_daily_papers/DERIVED_date-2025-11-20_items-from-month-dump_sorted-by-upvotes.json"


@dataclass(frozen=True)
class Judged:
    """The dev judgments' profiles and candidate papers, with the candidates' vectors."""

    profiles: list[Profile]
    papers: list[PaperRecord]
    vectors: np.ndarray


def issue_of_a_real_day(*, status: str, note: str) -> tuple[Issue, list[Paper]]:
    """A real HF day through the real parser and ingest, as an issue with a note and two pins.

    The papers come back most upvoted first; the pins are the 4th and 5th of them.
    """
    papers_ingest(records=parse(fixture_bytes(ONE_DAY)).records, fetch_run=None)
    items = json.loads(fixture_bytes(ONE_DAY))
    day = dt.date.fromisoformat(items[0]["paper"]["submittedOnDailyAt"][:10])
    ranked = list(Paper.objects.filter(hf_date=day).order_by("-upvotes", "arxiv_id"))
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    issue = Issue.objects.create(
        date=day,
        status=status,
        note=note,
        window_start=start - dt.timedelta(days=1),
        window_end=start,
        candidate_ids=[paper.arxiv_id for paper in ranked],
        new_papers=len(ranked),
        quiet=len(ranked) < 10,
    )
    for position, paper in enumerate(ranked[3:5]):
        IssuePin.objects.create(issue=issue, paper=paper, position=position)
    return issue, ranked


# --- A fresh interpreter --------------------------------------------------------------------------


def clean_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """An environment with nothing of ours but what the test sets (no .env, state in tmp_path)."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PAPERBOY_ENV_FILE": str(tmp_path / "absent.env"),
        "PAPERBOY_VAR_DIR": str(tmp_path / "var"),
    }
    env.update(overrides)
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run this code in a new interpreter at the repository's root with exactly this environment."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def email_parts(message: object) -> tuple[str, str]:
    """A digest's text part and its HTML part (entities decoded)."""
    assert isinstance(message, mail.EmailMultiAlternatives)
    html_part = message.alternatives[0][0]
    assert isinstance(html_part, str)
    assert isinstance(message.body, str)
    return message.body, html.unescape(html_part)


def day_issue_build() -> Issue:
    """DAY's daily issue, built at BUILT."""
    with time_machine.travel(BUILT, tick=False):
        return services.issue_build(date=DAY)


def deliveries_send_all(issue: Issue, *, batch_size: int = 50) -> None:
    """Send every due digest of the issue at 08:00 UTC, batch after batch."""
    while sending.deliveries_send_batch(
        issue_id=issue.pk, batch_size=batch_size, now=LOCAL_8AM_UTC
    ).claimed:
        pass


# --- Feeds: validated against the published schemas (tests/feed_schemas/README.md) -------------

ATOM_NS = {"atom": "http://www.w3.org/2005/Atom"}


def atom_errors(body: bytes) -> list[str]:
    """What RFC 4287's RELAX NG schema, and its two Schematron rules, find wrong in an Atom feed."""
    from lxml import etree  # the tests' validator only: the site writes Atom with Django's

    schema = etree.RelaxNG(etree.parse(str(Path(__file__).parent / "feed_schemas" / "atom.rng")))
    document = etree.fromstring(body)
    errors = [] if schema.validate(document) else [str(error) for error in schema.error_log]
    # The rules RELAX NG cannot say, checked as the schema's s:rule annotations word them.
    entries = document.findall("atom:entry", namespaces=ATOM_NS)
    if document.find("atom:author", namespaces=ATOM_NS) is None and any(
        entry.find("atom:author", namespaces=ATOM_NS) is None for entry in entries
    ):
        errors.append("An atom:feed must have an atom:author unless all its entries have one.")
    for entry in entries:
        links = entry.findall("atom:link", namespaces=ATOM_NS)
        alternate = any(link.get("rel") in (None, "alternate") for link in links)
        if not alternate and entry.find("atom:content", namespaces=ATOM_NS) is None:
            errors.append("An atom:entry must have an alternate link or a content.")
    return errors


# The JSON Schema of JSON Feed 1.1 as its npm package `jsonfeed-schema` publishes it, installed
# by `make test` beside caniemail (tests/email_clients/package.json).
JSON_FEED_SCHEMA = (
    Path(__file__).resolve().parent / "email_clients/node_modules/jsonfeed-schema/schema-v1.1.json"
)


def _json_feed_schema() -> Path:
    """The schema file; without it (npm absent) the test skips, and fails under CI=true."""
    if not JSON_FEED_SCHEMA.exists():
        reason = "the JSON Feed schema is not installed (npm ci --prefix tests/email_clients)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{reason}, and CI=true requires it", pytrace=False)
        pytest.skip(reason)
    return JSON_FEED_SCHEMA


def json_feed_errors(body: bytes) -> list[str]:
    """What the JSON Feed 1.1 JSON Schema finds wrong in a feed, and any date not RFC 3339."""
    import jsonschema  # the tests' validator only

    schema = json.loads(_json_feed_schema().read_text())
    feed = json.loads(body)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(feed)]
    # jsonschema checks "date-time" only with an optional package: the dates are checked here.
    for item in feed.get("items", []):
        for name in ("date_published", "date_modified"):
            if name in item and not re.fullmatch(
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", item[name]
            ):
                errors.append(f"{item['id']}: {name} {item[name]!r} is not RFC 3339")
    return errors


def free_port() -> int:
    """A TCP port free on the loopback now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_stop(process: subprocess.Popen[Any]) -> None:
    """Stop a server a test started: SIGTERM, then SIGKILL if it is not gone within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- Killed workers (the crash tests) --------------------------------------------------------


def process_group_kill(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal a worker and its pool children (its process group), and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    process.wait(timeout=30)


def send_batch_publish(issue: Issue, queue: str, count: int) -> None:
    """Publish `count` send_batch tasks to the broker, around the tests' eager Celery."""
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False  # no warning: it's meant
    try:
        for _ in range(count):
            app.send_task("digest.tasks.send_batch", args=[issue.pk], queue=queue)
    finally:
        app.conf.task_always_eager = eager
