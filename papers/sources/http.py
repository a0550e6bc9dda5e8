"""The one HTTP client every source fetches with: timeouts, retries with backoff, conditional GET.

Retries (urllib3's Retry) cover 429/5xx and read errors, honour Retry-After, and back off
exponentially with jitter, never sooner than the client's min_interval. A connection error is
retried once and a failed DNS lookup not at all: without network that is the answer for the
next minutes, and the task retries later with its own backoff. Validators (ETag, Last-Modified)
are kept in the Django cache, and only once the caller says the body was ingested, so a failed
ingest is fetched again.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlencode, urlsplit

import requests
from django.conf import settings
from django.core.cache import cache
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

if TYPE_CHECKING:
    from types import TracebackType

    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse

MAX_BODY_BYTES = 25 * 1024 * 1024
RETRY_STATUSES = (429, 500, 502, 503, 504)
VALIDATOR_TTL = 7 * 24 * 3600
CONNECT_RETRIES = 1  # a refused or reset connection gets one more try; a DNS failure gets none
# Seconds: the longest backoff or Retry-After a worker sits through before the task retries.
MAX_WAIT = 60


class FetchError(Exception):
    """The source refused or answered something unusable; retrying will not help."""

    def __init__(self, message: str, *, status: int | None = None, content: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        # The error response's body, for a source that explains itself there.
        self.content = content


class TransientFetchError(FetchError):
    """Network trouble, a timeout, 429 or 5xx that outlasted the retries; worth retrying later."""


class UnsafeURLError(FetchError):
    """A URL from a source that we refuse to fetch: not https, or a host on a private network."""


def public_https_url_check(url: str) -> None:
    """Raise UnsafeURLError unless the URL is https on a host whose every address is public.

    URLs a source hands us (thumbnails) must not make the worker call the machine itself or the
    private network it sits in (SSRF): loopback, private, link-local (cloud metadata), shared
    (CGNAT), multicast and reserved addresses are refused. Fetch such a URL without following
    redirects, whose targets this check has not seen. A DNS failure is transient, like any
    network failure.
    """
    public_https_url_addresses(url)


def public_https_url_addresses(url: str) -> list[str]:
    """The URL's host's addresses, once each is checked public (see public_https_url_check).

    A caller that connects to one of them, rather than looking the name up again, leaves no
    window for the name to be re-pointed at a private address in between (DNS rebinding).
    """
    try:
        parts = urlsplit(url)
        port = parts.port or 443  # ValueError for a port that is not one
    except ValueError:
        raise UnsafeURLError(f"{url[:200]}: not a plain https URL") from None
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise UnsafeURLError(f"{url[:200]}: not a plain https URL")
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise TransientFetchError(f"{url}: cannot connect (DNS lookup failed)") from exc
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        # is_global alone lets multicast through (224.0.0.0/4 counts as global).
        if not address.is_global or address.is_multicast or address.is_reserved:
            raise UnsafeURLError(f"{url}: {parts.hostname} is not a public address ({address})")
        addresses.append(str(address))
    if not addresses:
        raise TransientFetchError(f"{url}: cannot connect (DNS lookup found no address)")
    return list(dict.fromkeys(addresses))


@dataclass(frozen=True)
class Fetched:
    """A response body and the validators to remember once it is ingested."""

    url: str
    content: bytes
    status: int
    etag: str = ""
    last_modified: str = ""


class PoliteRetry(Retry):
    """urllib3's Retry that never retries sooner than `min_backoff` and never retries a DNS failure.

    urllib3 sleeps inside `session.get`, out of HttpClient's sight, and makes its first retry at
    once: without the floor, a client told to wait 3 s between requests would not.
    """

    def __init__(self, *args: Any, min_backoff: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.min_backoff = min_backoff

    def new(self, **kw: Any) -> Self:
        # urllib3 builds a new Retry per attempt from a fixed list of parameters: carry ours along.
        kw.setdefault("min_backoff", self.min_backoff)
        return super().new(**kw)

    def get_backoff_time(self) -> float:
        return max(super().get_backoff_time(), self.min_backoff)

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else max(seconds, self.min_backoff)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if isinstance(error, NameResolutionError):
            # urllib3 counts it as a connect error, but a name that did not resolve will not
            # resolve a second later. MaxRetryError wants a pool and a URL where increment's
            # signature allows None (urllib3's own increment ignores the same mismatch).
            raise MaxRetryError(_pool, url, error) from error  # type: ignore[arg-type]
        return super().increment(method, url, response, error, _pool, _stacktrace)


def _validators_cache_key(url: str) -> str:
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
        retry = PoliteRetry(
            total=self.retries,
            connect=min(self.retries, CONNECT_RETRIES),
            read=self.retries,
            status=self.retries,
            backoff_factor=self.backoff_factor,
            backoff_jitter=self.backoff_factor,
            backoff_max=MAX_WAIT,
            retry_after_max=MAX_WAIT,
            # urllib3 makes its first retry at once; a 429 or 503 deserves a pause,
            # arXiv at least 3 s.
            min_backoff=max(self.min_interval, self.backoff_factor),
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self.session = requests.Session()
        self.session.headers["User-Agent"] = settings.PAPERBOY_USER_AGENT
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.mount("http://", HTTPAdapter(max_retries=retry))

    def get(
        self,
        url: str,
        *,
        params: dict | None = None,
        conditional: bool = True,
        max_bytes: int | None = None,
        redirects: bool = True,
    ) -> Fetched | None:
        """GET a URL; None when the server says it has not changed since the last ingested fetch.

        A body past `max_bytes` (default MAX_BODY_BYTES) is a FetchError. Without `redirects`,
        a 3xx is returned as is.
        """
        full_url = f"{url}?{urlencode(params, doseq=True)}" if params else url
        headers = self._conditional_headers(full_url) if conditional else {}
        response, content = self._send(
            url, full_url, headers=headers, max_bytes=max_bytes, redirects=redirects
        )
        if response.status_code == 304:
            return None
        self._raise_for_status(url, response, content)
        fetched = _fetched(full_url, response, content)
        self._pending.append(fetched)
        return fetched

    def _send(
        self,
        url: str,
        full_url: str,
        *,
        headers: dict[str, str],
        max_bytes: int | None = None,
        redirects: bool = True,
    ) -> tuple[requests.Response, bytes]:
        """One GET at the client's pace, urllib3 retrying inside it: its response and body."""
        self._wait_turn()
        try:
            response = self.session.get(
                full_url,
                headers=headers,
                timeout=self.timeout,
                stream=True,
                allow_redirects=redirects,
            )
            content = self._read_capped(response, max_bytes)
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            raise TransientFetchError(
                f"{url}: {_network_failure_summary(exc, self.timeout)}"
            ) from exc
        except requests.RequestException as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc
        finally:
            # Retries happened inside session.get: the next request keeps its distance
            # from the last of them.
            self._last_request = time.monotonic()
        return response, content

    def _raise_for_status(self, url: str, response: requests.Response, content: bytes) -> None:
        """Raise for a 429 or 5xx that outlasted the retries (transient) or any other error."""
        if response.status_code in RETRY_STATUSES:
            raise TransientFetchError(
                f"{url}: HTTP {response.status_code} after {self.retries} retries",
                status=response.status_code,
            )
        if response.status_code >= 400:
            raise FetchError(
                f"{url}: HTTP {response.status_code}: {content[:200].decode('utf-8', 'replace')!r}",
                status=response.status_code,
                content=content,
            )

    def remember(self) -> None:
        """Keep the validators of every body fetched so far: call after they were ingested."""
        for fetched in self._pending:
            if fetched.etag or fetched.last_modified:
                value = {"etag": fetched.etag, "last_modified": fetched.last_modified}
                cache.set(_validators_cache_key(fetched.url), value, VALIDATOR_TTL)
        self._pending.clear()

    def _conditional_headers(self, full_url: str) -> dict[str, str]:
        stored = cache.get(_validators_cache_key(full_url)) or {}
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
    def _read_capped(response: requests.Response, max_bytes: int | None = None) -> bytes:
        max_bytes = MAX_BODY_BYTES if max_bytes is None else max_bytes
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                response.close()
                raise FetchError(f"{response.url}: body larger than {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _fetched(full_url: str, response: requests.Response, content: bytes) -> Fetched:
    """The body of a successful response, with the validators to remember once it is ingested."""
    return Fetched(
        url=full_url,
        content=content,
        status=response.status_code,
        etag=response.headers.get("ETag", ""),
        last_modified=response.headers.get("Last-Modified", ""),
    )


def _network_failure_summary(exc: requests.RequestException, timeout: float) -> str:
    """A few words for what failed below HTTP, where urllib3 nests three reprs and the URL twice."""
    reason = _urllib3_reason(exc)
    if isinstance(reason, NameResolutionError):
        return "cannot connect (DNS lookup failed)"
    if isinstance(exc, requests.Timeout) or isinstance(reason, ReadTimeoutError):
        kind = "ConnectTimeout" if isinstance(exc, requests.ConnectTimeout) else "ReadTimeout"
        return f"timed out after {timeout:g} s ({kind})"
    if isinstance(reason, NewConnectionError):
        cause = reason.__cause__
        detail = (
            cause.strerror if isinstance(cause, OSError) and cause.strerror else "connection failed"
        )
        return f"cannot connect ({detail.lower()})"
    inner = _first_exception_arg(reason) or reason
    if isinstance(exc, requests.exceptions.SSLError):
        return (
            f"cannot connect (TLS error: {getattr(inner, 'reason', None) or type(inner).__name__})"
        )
    return f"connection broken ({type(inner).__name__})"


def _urllib3_reason(exc: BaseException) -> BaseException:
    """The urllib3 error that requests wrapped, unpacked from MaxRetryError (or exc itself)."""
    reason = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    if isinstance(reason, MaxRetryError) and reason.reason is not None:
        return reason.reason
    return reason


def _first_exception_arg(exc: BaseException) -> BaseException | None:
    """The exception an error wraps in its args, as ProtocolError wraps RemoteDisconnected."""
    return next((arg for arg in exc.args if isinstance(arg, BaseException)), None)
