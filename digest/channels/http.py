"""One POST to a team's endpoint, safely: public https only, pinned address, no redirects, capped.

The host is looked up once and every address checked public (papers.sources.http's SSRF rule);
the connection then goes to a checked address while TLS still verifies the host's name, so the
name cannot be re-pointed at the private network between the check and the connection (DNS
rebinding). Proxies from the environment are not used: one would make the lookup itself.
PAPERBOY_CHANNEL_INTERNAL_HOSTS names the hosts allowed to resolve privately (a test receiver,
an intranet relay), PAPERBOY_CHANNEL_CA_BUNDLE a CA bundle to verify certificates with.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool

from papers.sources.http import TransientFetchError, public_https_url_addresses

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
# However slowly an endpoint drips its answer, a worker stops reading after this long.
READ_DEADLINE = 15.0
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """An endpoint's answer: its status, headers and at most MAX_ANSWER_BYTES of its body."""

    status: int
    headers: dict[str, str]
    body: bytes


class _PinnedHTTPSConnection(HTTPSConnection):
    """An HTTPS connection to a fixed address; the host name still names the TLS server."""

    pinned_address = ""

    def _new_conn(self) -> socket.socket:
        # urllib3 connects to _dns_host; swapped only for the connect, the host name stays the
        # one the certificate, SNI and Host header use.
        name = self._dns_host
        self._dns_host = self.pinned_address
        try:
            return super()._new_conn()
        finally:
            self._dns_host = name


class PinnedAdapter(HTTPAdapter):
    """A requests adapter whose https connections go to one checked address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(max_retries=0)  # the batch retries, later, not the worker now

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        connection_cls = type(
            "PinnedConnection", (_PinnedHTTPSConnection,), {"pinned_address": self.address}
        )
        pool_cls = type("PinnedPool", (HTTPSConnectionPool,), {"ConnectionCls": connection_cls})
        self.poolmanager.pool_classes_by_scheme = {
            **self.poolmanager.pool_classes_by_scheme,
            "https": pool_cls,
        }


def safe_post(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST the body to a public https URL at a checked address; its answer, read capped.

    Raises papers.sources.http's UnsafeURLError for a URL it refuses, TransientFetchError when
    the name does not resolve, and requests' errors for the network's trouble.
    """
    address = channel_addresses(url)[0]
    with requests.Session() as session:
        session.trust_env = False
        session.verify = settings.PAPERBOY_CHANNEL_CA_BUNDLE or True
        session.mount("https://", PinnedAdapter(address))
        response = session.post(
            url,
            data=body,
            headers={
                "User-Agent": settings.PAPERBOY_USER_AGENT,
                "Content-Type": "application/json",
                **headers,
            },
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        )
        try:
            content = _read_capped(response)
        finally:
            response.close()
    return Answer(response.status_code, dict(response.headers), content)


def channel_addresses(url: str) -> list[str]:
    """The URL's addresses, each checked public, unless the operator allows its host privately.

    Raises UnsafeURLError or TransientFetchError as public_https_url_addresses does.
    """
    parts = urlsplit(url)
    allowed = {host.strip().lower() for host in settings.PAPERBOY_CHANNEL_INTERNAL_HOSTS}
    if parts.scheme != "https" or (parts.hostname or "").lower() not in allowed:
        return public_https_url_addresses(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise TransientFetchError(f"{parts.hostname}: cannot connect (DNS lookup failed)") from exc
    return [str(info[4][0]) for info in infos]


def _read_capped(response: requests.Response) -> bytes:
    """At most MAX_ANSWER_BYTES of the body, for at most READ_DEADLINE seconds; the rest unread."""
    chunks, size = [], 0
    deadline = time.monotonic() + READ_DEADLINE
    try:
        for chunk in response.iter_content(8 * 1024):
            chunks.append(chunk)
            size += len(chunk)
            if size >= MAX_ANSWER_BYTES or time.monotonic() > deadline:
                break
    except requests.RequestException:
        pass  # the status has answered already; a body cut short tells nothing more
    return b"".join(chunks)[:MAX_ANSWER_BYTES]
