"""HTTP client: User-Agent, timeout, retries and waits, errors, conditional GET, size cap, pacing.

`responses` replaces the transport adapter, so it counts urllib3's retries but never sleeps
between them. The tests of the waits script the answers one level lower, in urllib3's
connection pool (or its socket calls), so urllib3's real retry loop runs and asks for its sleeps.
"""

from __future__ import annotations

import io
import random
import socket
import time
from collections.abc import Callable, Iterator
from http.client import RemoteDisconnected

import pytest
import requests
import responses
from django.conf import settings
from django.core.cache import cache
from requests.adapters import HTTPAdapter
from responses import matchers
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import MaxRetryError, NameResolutionError, ReadTimeoutError
from urllib3.response import HTTPResponse
from urllib3.util import connection as urllib3_connection
from urllib3.util.retry import Retry

from papers.sources import http
from papers.sources.http import Fetched, FetchError, HttpClient, PoliteRetry, TransientFetchError
from tests.helpers import answered_status, sent_kwargs

URL = "https://example.org/api/papers"
PAGE = {"date": "2025-11-20", "p": "0"}
PAGE_URL = f"{URL}?date=2025-11-20&p=0"

Answer = tuple[int, dict[str, str]] | Exception


@pytest.fixture(autouse=True)
def _no_validators() -> Iterator[None]:
    """Start and end without stored ETags for the URLs used here (the cache outlives a test)."""
    for url in (URL, PAGE_URL):
        cache.delete(http._validators_cache_key(url))
    yield
    for url in (URL, PAGE_URL):
        cache.delete(http._validators_cache_key(url))


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every time.sleep asked for (urllib3's and the client's), recorded instead of waited."""
    asked: list[float] = []
    monkeypatch.setattr(time, "sleep", asked.append)
    return asked


@pytest.fixture
def jitter(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Fix the random fraction urllib3 multiplies backoff_jitter by."""
    return lambda fraction: monkeypatch.setattr(random, "random", lambda: fraction)


@pytest.fixture
def pool_answers(monkeypatch: pytest.MonkeyPatch) -> list[Answer]:
    """The answers urllib3's pool gets, in order: (status, headers), or an exception to raise."""
    script: list[Answer] = []

    def make_request(
        pool: HTTPConnectionPool, conn: object, method: str, url: str, **kwargs: object
    ) -> HTTPResponse:
        answer = script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, headers = answer
        return HTTPResponse(
            body=io.BytesIO(f"answer {status}".encode()),
            headers=headers,
            status=status,
            preload_content=False,
            request_method=method,
            request_url=url,
        )

    monkeypatch.setattr(HTTPConnectionPool, "_make_request", make_request)
    return script


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A monotonic clock that only moves when someone sleeps (or the test moves it)."""
    now = [1000.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    monkeypatch.setattr(time, "sleep", sleep)
    return now


# --- what every request carries ------------------------------------------------------------------


@responses.activate
def test_it_sends_the_project_user_agent_with_a_contact() -> None:
    responses.get(URL, body=b"ok")

    HttpClient().get(URL)

    sent = responses.calls[0].request.headers["User-Agent"]
    assert sent == settings.PAPERBOY_USER_AGENT
    assert "Paperboy" in sent
    assert settings.PAPERBOY_CONTACT in sent


@responses.activate
def test_it_passes_its_timeout_to_requests() -> None:
    responses.get(URL, body=b"ok")
    responses.get(URL, body=b"ok")

    HttpClient().get(URL, conditional=False)
    HttpClient(timeout=5).get(URL, conditional=False)

    assert sent_kwargs(responses.calls[0])["timeout"] == settings.PAPERBOY_HTTP_TIMEOUT
    assert sent_kwargs(responses.calls[1])["timeout"] == 5


@responses.activate
def test_it_returns_the_body_status_and_validators() -> None:
    responses.get(
        URL,
        body=b'{"papers": []}',
        headers={"ETag": '"v1"', "Last-Modified": "Thu, 20 Nov 2025 10:00:00 GMT"},
        match=[matchers.query_param_matcher(PAGE)],
    )

    fetched = HttpClient().get(URL, params=PAGE)

    assert fetched == Fetched(
        url=PAGE_URL,
        content=b'{"papers": []}',
        status=200,
        etag='"v1"',
        last_modified="Thu, 20 Nov 2025 10:00:00 GMT",
    )


# --- retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
@responses.activate
def test_it_retries_a_rate_limit_or_server_error_and_returns_the_next_answer(status: int) -> None:
    responses.get(URL, status=status, body=b"busy")
    responses.get(URL, body=b"fine now")

    fetched = HttpClient(retries=2).get(URL)

    assert fetched is not None
    assert fetched.content == b"fine now"
    assert [answered_status(call) for call in responses.calls] == [status, 200]


@responses.activate
def test_it_gives_up_with_a_transient_error_once_the_retries_are_spent() -> None:
    responses.get(URL, status=503, body=b"busy")

    with pytest.raises(TransientFetchError) as excinfo:
        HttpClient(retries=3).get(URL)

    assert len(responses.calls) == 4  # the first try and 3 retries
    assert str(excinfo.value) == f"{URL}: HTTP 503 after 3 retries"
    assert excinfo.value.status == 503


def test_it_backs_off_exponentially_with_jitter_between_retries(
    pool_answers: list[Answer], sleeps: list[float], jitter: Callable[[float], None]
) -> None:
    jitter(0.25)
    pool_answers.extend([(503, {}), (503, {}), (503, {}), (200, {})])

    fetched = HttpClient(retries=3, backoff_factor=2).get(URL)

    assert fetched is not None
    assert fetched.content == b"answer 200"
    # urllib3 2.x makes its first retry at once; the client waits one backoff_factor even then.
    # Then backoff_factor * 2**n, plus a random fraction of backoff_jitter (= backoff_factor).
    assert sleeps == [2, 2 * 2 + 0.25 * 2, 2 * 4 + 0.25 * 2]


def test_the_jitter_is_random(
    pool_answers: list[Answer], sleeps: list[float], jitter: Callable[[float], None]
) -> None:
    for fraction in (0.0, 0.9):
        jitter(fraction)
        pool_answers.extend([(500, {}), (500, {}), (200, {})])
        HttpClient(retries=2).get(URL)

    assert sleeps == [1, 2.0, 1, 2.9]


def test_it_waits_as_long_as_retry_after_asks(
    pool_answers: list[Answer], sleeps: list[float]
) -> None:
    pool_answers.extend([(429, {"Retry-After": "7"}), (503, {"Retry-After": "11"}), (200, {})])

    fetched = HttpClient(retries=2).get(URL)

    assert fetched is not None
    assert fetched.status == 200
    assert sleeps == [7, 11]


def test_it_waits_at_most_a_minute_for_a_far_retry_after(
    pool_answers: list[Answer], sleeps: list[float]
) -> None:
    pool_answers.extend([(429, {"Retry-After": "3600"}), (200, {})])

    HttpClient(retries=2).get(URL)

    assert sleeps == [http.MAX_WAIT]


def test_it_does_not_sleep_after_the_last_failed_retry(
    pool_answers: list[Answer], sleeps: list[float]
) -> None:
    pool_answers.extend([(503, {}), (503, {}), (503, {})])

    with pytest.raises(TransientFetchError, match="HTTP 503 after 2 retries"):
        HttpClient(retries=2).get(URL)

    assert len(sleeps) == 2  # no sleep after the last answer: the error goes straight to the task
    assert pool_answers == []


# --- a client with min_interval (arXiv: one request every 3 seconds) ------------------------------


def test_every_retry_waits_at_least_min_interval(
    pool_answers: list[Answer], sleeps: list[float], jitter: Callable[[float], None]
) -> None:
    jitter(0.5)
    pool_answers.extend([(503, {}), (503, {}), (429, {"Retry-After": "1"}), (503, {}), (200, {})])

    HttpClient(retries=4, min_interval=3).get(URL)

    # The backoff of retries 1-3 (1, 2.5, and Retry-After 1) is below 3 s; retry 4's 8.5 is not.
    assert sleeps == [3, 3, 3, 8.5]


def _retry_of(client: HttpClient) -> Retry:
    """The urllib3 Retry of the client's adapter (the session's HTTPAdapter carries it)."""
    adapter = client.session.get_adapter(URL)
    assert isinstance(adapter, HTTPAdapter)
    return adapter.max_retries


def test_the_min_backoff_survives_urllib3_copying_the_retry() -> None:
    retry = _retry_of(HttpClient(min_interval=3))
    assert isinstance(retry, PoliteRetry)

    after_one = retry.increment("GET", URL, error=ConnectionResetError())

    assert isinstance(after_one, PoliteRetry)
    assert after_one.min_backoff == 3
    assert after_one.get_backoff_time() == 3


def test_requests_are_spaced_by_min_interval(clock: list[float]) -> None:
    with responses.RequestsMock() as mock:
        mock.get(URL, body=b"ok")
        client = HttpClient(min_interval=3)

        client.get(URL)  # the first request does not wait
        assert clock[0] == 1000
        client.get(URL)
        assert clock[0] == 1003
        clock[0] += 1  # a second of parsing between pages
        client.get(URL)
        assert clock[0] == 1006


def test_a_client_without_min_interval_does_not_wait(sleeps: list[float]) -> None:
    with responses.RequestsMock() as mock:
        mock.get(URL, body=b"ok")
        client = HttpClient()
        client.get(URL)
        client.get(URL)

    assert sleeps == []


def test_the_next_request_keeps_its_distance_from_the_last_retry(
    pool_answers: list[Answer], clock: list[float]
) -> None:
    pool_answers.extend([(503, {}), (200, {}), (200, {})])
    client = HttpClient(retries=2, min_interval=3)

    client.get(URL)
    assert clock[0] == 1003  # the retry waited 3 s
    client.get(URL)
    assert clock[0] == 1006  # and so did the next page, counted from the retry


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
@responses.activate
def test_a_client_error_is_a_fetch_error_with_status_and_body_and_is_not_retried(
    status: int,
) -> None:
    responses.get(URL, status=status, body=b'{"error": "Invalid date"}')

    with pytest.raises(FetchError) as excinfo:
        HttpClient(retries=2).get(URL)

    assert not isinstance(excinfo.value, TransientFetchError)
    assert excinfo.value.status == status
    assert excinfo.value.content == b'{"error": "Invalid date"}'
    assert f"HTTP {status}" in str(excinfo.value)
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            requests.ConnectTimeout("connect timed out"),
            f"{URL}: timed out after 20 s (ConnectTimeout)",
        ),
        (requests.ReadTimeout("read timed out"), f"{URL}: timed out after 20 s (ReadTimeout)"),
        (
            requests.ConnectionError("connection reset"),
            f"{URL}: connection broken (ConnectionError)",
        ),
    ],
)
@responses.activate
def test_a_timeout_or_connection_error_is_transient(error: Exception, message: str) -> None:
    responses.get(URL, body=error)

    with pytest.raises(TransientFetchError) as excinfo:
        HttpClient(timeout=20).get(URL)

    assert str(excinfo.value) == message


def test_a_failed_dns_lookup_fails_at_once_in_one_short_line(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    lookups: list[str] = []

    def getaddrinfo(host: str, *args: object, **kwargs: object) -> list:
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    with pytest.raises(TransientFetchError) as excinfo:
        HttpClient(retries=4, min_interval=3).get("https://huggingface.co/api/daily_papers")

    assert lookups == ["huggingface.co"]  # not retried
    assert sleeps == []
    assert (
        str(excinfo.value)
        == "https://huggingface.co/api/daily_papers: cannot connect (DNS lookup failed)"
    )


def test_a_refused_connection_is_retried_once(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    attempts: list[tuple] = []

    def create_connection(address: tuple, *args: object, **kwargs: object) -> socket.socket:
        attempts.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(urllib3_connection, "create_connection", create_connection)

    with pytest.raises(TransientFetchError) as excinfo:
        HttpClient(retries=4).get("https://export.arxiv.org/api/query")

    assert attempts == [("export.arxiv.org", 443)] * 2
    assert sleeps == [1]
    assert (
        str(excinfo.value)
        == "https://export.arxiv.org/api/query: cannot connect (connection refused)"
    )


def test_a_connect_timeout_is_retried_once_and_says_how_long_it_waited(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    attempts: list[tuple] = []

    def create_connection(address: tuple, *args: object, **kwargs: object) -> socket.socket:
        attempts.append(address)
        raise TimeoutError("timed out")

    monkeypatch.setattr(urllib3_connection, "create_connection", create_connection)

    with pytest.raises(TransientFetchError) as excinfo:
        HttpClient(retries=4, timeout=20, min_interval=3).get("https://export.arxiv.org/api/query")

    assert len(attempts) == 2
    assert sleeps == [3]
    assert (
        str(excinfo.value)
        == "https://export.arxiv.org/api/query: timed out after 20 s (ConnectTimeout)"
    )


def test_a_read_timeout_is_retried_like_a_server_error(
    pool_answers: list[Answer], sleeps: list[float]
) -> None:
    timeout = ReadTimeoutError(
        HTTPConnectionPool("example.org"), URL, "Read timed out. (read timeout=20)"
    )
    pool_answers.extend([timeout, timeout, timeout])

    with pytest.raises(TransientFetchError) as excinfo:
        HttpClient(retries=2, timeout=20).get(URL)

    assert pool_answers == []  # tried 3 times
    assert str(excinfo.value) == f"{URL}: timed out after 20 s (ReadTimeout)"


def test_a_dropped_connection_names_its_cause(
    pool_answers: list[Answer], sleeps: list[float]
) -> None:
    pool_answers.extend([RemoteDisconnected("Remote end closed connection without response")] * 3)

    with pytest.raises(TransientFetchError) as excinfo:
        HttpClient(retries=2).get(URL)

    assert str(excinfo.value) == f"{URL}: connection broken (RemoteDisconnected)"


def test_the_retry_never_retries_a_dns_failure_even_with_retries_left() -> None:
    retry = _retry_of(HttpClient(retries=4))
    unresolved = socket.gaierror(socket.EAI_NONAME, "unknown")
    error = NameResolutionError("example.org", HTTPConnection("example.org"), unresolved)

    with pytest.raises(MaxRetryError) as excinfo:
        retry.increment("GET", URL, error=error)

    assert excinfo.value.reason is error


# --- conditional GET ------------------------------------------------------------------------------


def _serve_with_validators(mock: responses.RequestsMock) -> None:
    mock.get(
        URL,
        body=b"page one",
        headers={"ETag": '"v1"', "Last-Modified": "Thu, 20 Nov 2025 10:00:00 GMT"},
        match=[matchers.query_param_matcher(PAGE)],
    )


def test_after_remember_the_next_request_is_conditional_and_304_returns_none() -> None:
    with responses.RequestsMock() as mock:
        _serve_with_validators(mock)
        client = HttpClient()
        client.get(URL, params=PAGE)
        client.remember()

        mock.get(
            URL,
            status=304,
            match=[
                matchers.query_param_matcher(PAGE),
                matchers.header_matcher(
                    {"If-None-Match": '"v1"', "If-Modified-Since": "Thu, 20 Nov 2025 10:00:00 GMT"}
                ),
            ],
        )
        assert HttpClient().get(URL, params=PAGE) is None


def test_validators_are_not_kept_without_remember() -> None:
    with responses.RequestsMock() as mock:
        _serve_with_validators(mock)
        HttpClient().get(URL, params=PAGE)  # ... and the ingest failed: remember() is never called
        _serve_with_validators(mock)

        again = HttpClient().get(URL, params=PAGE)

        assert again is not None
        assert again.content == b"page one"
        second = mock.calls[1].request.headers
        assert "If-None-Match" not in second
        assert "If-Modified-Since" not in second


def test_validators_belong_to_one_url_and_can_be_skipped() -> None:
    with responses.RequestsMock() as mock:
        _serve_with_validators(mock)
        client = HttpClient()
        client.get(URL, params=PAGE)
        client.remember()
        mock.get(URL, body=b"other")

        HttpClient().get(URL, params={"date": "2025-11-21", "p": "0"})
        HttpClient().get(URL, params=PAGE, conditional=False)

        for call in mock.calls[1:]:
            assert "If-None-Match" not in call.request.headers


# --- body size cap -------------------------------------------------------------------------------


@responses.activate
def test_a_body_over_the_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "MAX_BODY_BYTES", 1000)
    responses.get(URL, body=b"x" * 1001)

    with pytest.raises(FetchError, match="body larger than 1000 bytes") as excinfo:
        HttpClient().get(URL)

    assert not isinstance(excinfo.value, TransientFetchError)


@responses.activate
def test_a_body_at_the_cap_is_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "MAX_BODY_BYTES", 1000)
    responses.get(URL, body=b"x" * 1000)

    fetched = HttpClient().get(URL)

    assert fetched is not None
    assert fetched.content == b"x" * 1000
