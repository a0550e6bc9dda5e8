"""The one HTTP client every source fetches with: timeouts, retries with backoff, conditional GET.

Retries (urllib3's Retry) cover connection errors and 429/5xx, honour Retry-After, and back
off exponentially with jitter. Validators (ETag, Last-Modified) are kept in the Django cache,
and only once the caller says the body was ingested, so a failed ingest is fetched again.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.core.cache import cache
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

MAX_BODY_BYTES = 25 * 1024 * 1024
RETRY_STATUSES = (429, 500, 502, 503, 504)
VALIDATOR_TTL = 7 * 24 * 3600


class FetchError(Exception):
    """The source refused or answered something unusable; retrying will not help."""

    def __init__(self, message: str, *, status: int | None = None, content: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.content = content  # the error response's body, for a source that explains itself there


class TransientFetchError(FetchError):
    """Network trouble, a timeout, 429 or 5xx that outlasted the retries; worth retrying later."""


@dataclass(frozen=True)
class Fetched:
    """A response body and the validators to remember once it is ingested."""

    url: str
    content: bytes
    status: int
    etag: str = ""
    last_modified: str = ""


def _cache_key(url: str) -> str:
    return "paperboy:http-validators:" + hashlib.sha256(url.encode()).hexdigest()


@dataclass
class HttpClient:
    """A requests.Session with the project's User-Agent, timeouts, retries and politeness."""

    timeout: float = field(default_factory=lambda: settings.PAPERBOY_HTTP_TIMEOUT)
    retries: int = field(default_factory=lambda: settings.PAPERBOY_HTTP_RETRIES)
    min_interval: float = 0.0  # seconds between requests (arXiv asks for 3)
    backoff_factor: float = 1.0
    session: requests.Session = field(init=False)
    _pending: list[Fetched] = field(init=False, default_factory=list)
    _last_request: float = field(init=False, default=0.0)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        retry = Retry(
            total=self.retries,
            connect=self.retries,
            read=self.retries,
            status=self.retries,
            backoff_factor=self.backoff_factor,
            backoff_jitter=self.backoff_factor,
            backoff_max=60,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self.session = requests.Session()
        self.session.headers["User-Agent"] = settings.PAPERBOY_USER_AGENT
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.mount("http://", HTTPAdapter(max_retries=retry))

    def get(self, url: str, *, params: dict | None = None, conditional: bool = True) -> Fetched | None:
        """GET a URL; None when the server says it has not changed since the last ingested fetch."""
        full_url = f"{url}?{urlencode(params, doseq=True)}" if params else url
        headers = self._validators(full_url) if conditional else {}
        self._wait_turn()
        try:
            response = self.session.get(full_url, headers=headers, timeout=self.timeout, stream=True)
            content = self._read(response)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientFetchError(f"{url}: {type(exc).__name__}: {exc}") from exc
        except requests.RequestException as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 304:
            return None
        if response.status_code in RETRY_STATUSES:
            raise TransientFetchError(f"{url}: HTTP {response.status_code} after {self.retries} retries")
        fetched = Fetched(
            url=full_url,
            content=content,
            status=response.status_code,
            etag=response.headers.get("ETag", ""),
            last_modified=response.headers.get("Last-Modified", ""),
        )
        if response.status_code >= 400:
            raise FetchError(
                f"{url}: HTTP {response.status_code}: {content[:200].decode('utf-8', 'replace')!r}",
                status=response.status_code,
                content=content,
            )
        self._pending.append(fetched)
        return fetched

    def remember(self) -> None:
        """Keep the validators of every body fetched so far: call after they were ingested."""
        for fetched in self._pending:
            if fetched.etag or fetched.last_modified:
                value = {"etag": fetched.etag, "last_modified": fetched.last_modified}
                cache.set(_cache_key(fetched.url), value, VALIDATOR_TTL)
        self._pending.clear()

    def _validators(self, full_url: str) -> dict[str, str]:
        stored = cache.get(_cache_key(full_url)) or {}
        headers = {}
        if stored.get("etag"):
            headers["If-None-Match"] = stored["etag"]
        if stored.get("last_modified"):
            headers["If-Modified-Since"] = stored["last_modified"]
        return headers

    def _wait_turn(self) -> None:
        with self._lock:
            wait = self._last_request + self.min_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_request = time.monotonic()

    @staticmethod
    def _read(response: requests.Response) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                response.close()
                raise FetchError(f"{response.url}: body larger than {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
