"""Web load benchmark: production gunicorn on PostgreSQL and Redis, 50 clients per endpoint.

    python bench/web_load.py            (make bench)

The home page, a paper page, the sign-up POST, a reader's private feed (FEED_DAYS digests of
FEED_PAPERS papers), the same feed polled with its ETag (a 304), and the public papers feed,
one after the other, each driven by CLIENTS closed-loop clients (each sends its next request
when the last one is answered) for SECONDS after a short warm-up. Prints requests/s, p50 and
p99 latency and errors per endpoint, then one JSON line for machines. Target: p99 under 100 ms
at 50 clients and no errors on every endpoint.

The site runs as in production: DEBUG off, a throwaway SECRET_KEY, ALLOWED_HOSTS 127.0.0.1, the
HTTPS redirect and secure cookies on; the clients send X-Forwarded-Proto: https as the TLS proxy
would, and the CSRF cookie and Origin header a browser sends. Sign-up limits are raised for the
run (PAPERBOY_SIGNUP_LIMIT_PER_IP / _PER_ADDRESS): 50 clients on one address would hit them at once.
The sign-up's confirmation email is queued to Redis for a worker that is not started here.

Everything is local and bounded: a scratch database `paperboy_bench` on the PostgreSQL server of
DATABASE_URL (default postgres://postgres@127.0.0.1:5432; created, migrated, the sample loaded,
its subscribers emptied but for one feed reader made here), Redis database 15 on the server of
REDIS_URL (default 127.0.0.1:6379; flushed before and after, so no queued task outlives the
run), gunicorn on a free loopback port, at most MAX_REQUESTS per endpoint, and gunicorn is stopped
at the end even on error.

Environment: PAPERBOY_BENCH_SECONDS (default 20), PAPERBOY_BENCH_CLIENTS (default 50),
PAPERBOY_BENCH_WORKERS (gunicorn sync workers, as docker-compose.yml runs the site; default 2
per CPU), PAPERBOY_BENCH_THREADS (above 1, gunicorn's gthread workers with that many threads each).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlencode, urlsplit, urlunsplit

import urllib3
from _db import database_ensure  # bench/_db.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = int(os.environ.get("PAPERBOY_BENCH_CLIENTS", "50"))
SECONDS = float(os.environ.get("PAPERBOY_BENCH_SECONDS", "20"))
WARMUP_SECONDS = 3.0
MAX_REQUESTS = 200_000  # per endpoint, whatever the duration
REQUEST_TIMEOUT = 10.0
# Two cores serve both the site and this load generator: two worker processes a core keep one busy
# while another waits on PostgreSQL or Redis.
WORKERS = int(os.environ.get("PAPERBOY_BENCH_WORKERS", str(2 * (os.cpu_count() or 1))))
THREADS = int(os.environ.get("PAPERBOY_BENCH_THREADS", "1"))
# Sync workers, as in production: the kernel's accept queue serves connections first come, first
# served. gthread (tried: 2 x 4) kept more requests in flight but answered them in no fair order,
# which doubled the sign-up's p99 at the same throughput.
WORKER_CLASS = "gthread" if THREADS > 1 else "sync"
TARGET_P99_MS = 100.0
BENCH_DATABASE = "paperboy_bench"
BENCH_REDIS_DB = 15
SIGNUP_FORM = {
    "interests": "efficient LLM inference, 3D human pose estimation",
    "categories": ["cs.CV", "cs.CL"],
    "frequency": "daily",
    "digest_size": "5",
    "delivery_hour": "8",
    "timezone": "Europe/Paris",
}
_CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_CSRF_COOKIE = re.compile(r"csrftoken=([^;]+)")


# --- The site: database, Redis, gunicorn ----------------------------------------------------------


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path, query=""))


def database_url() -> str:
    """The scratch database on DATABASE_URL's server.

    Never the site's own database: the benchmark empties its subscribers.
    """
    return _with_path(
        os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/",
        f"/{BENCH_DATABASE}",
    )


def redis_url() -> str:
    return _with_path(
        os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0", f"/{BENCH_REDIS_DB}"
    )


def redis_flush(url: str) -> None:
    """Empty the benchmark's Redis database: rate-limit counters and the sign-up emails queued."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def site_env(scratch: Path) -> dict[str, str]:
    """Production settings, from nothing but what is set here (no .env, state under `scratch`)."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(scratch),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PAPERBOY_ENV_FILE": str(scratch / "absent.env"),
        "PAPERBOY_VAR_DIR": str(scratch / "var"),
        "STATIC_ROOT": str(scratch / "static"),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url(),
        "LOG_LEVEL": "WARNING",
        "PAPERBOY_SIGNUP_LIMIT_PER_IP": "1000000000",
        "PAPERBOY_SIGNUP_LIMIT_PER_ADDRESS": "1000000000",
    }


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


# One reader with a private feed: FEED_DAYS daily digests of FEED_PAPERS papers each, sent, so the
# feed holds FEED_DAYS x FEED_PAPERS entries, each with its reason and two signed vote links.
FEED_DAYS, FEED_PAPERS = 20, 5
_FEED_READER = f"""
import datetime as dt, secrets
from django.utils import timezone
from digest.models import Delivery, Issue
from papers.models import Paper
from subscriptions.models import Subscriber
ids = list(Paper.objects.filter(hidden=False).values_list('arxiv_id', flat=True).order_by('pk'))
now = timezone.now()
reader = Subscriber.objects.create(
    email='bench-feed@example.org', status='active', confirmed_at=now,
    feed_key=secrets.token_urlsafe(24),
)
for day in range({FEED_DAYS}):
    sent = now - dt.timedelta(days=day, hours=1)
    start = dt.datetime.combine(sent.date(), dt.time.min, tzinfo=dt.UTC)
    issue, _ = Issue.objects.get_or_create(
        date=sent.date(), kind='daily',
        defaults=dict(status='sent', window_start=start - dt.timedelta(days=1), window_end=start),
    )
    picks = [ids[(day * {FEED_PAPERS} + i) % len(ids)] for i in range({FEED_PAPERS})]
    Delivery.objects.create(
        issue=issue, subscriber=reader, status='sent', sent_at=sent, papers=picks,
        reasons=['matches: efficient LLM inference'] * len(picks),
    )
print(reader.feed_key)
"""


def site_prepare(env: dict[str, str]) -> tuple[str, str]:
    """Migrate, collect static, load the sample, empty subscribers, make one feed reader.

    Returns a paper's arXiv id and the feed reader's key.
    """
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    manage(env, "load_sample")
    code = (
        "from subscriptions.models import Subscriber; Subscriber.objects.all().delete()\n"
        "from papers.models import Paper\n"
        "print(Paper.objects.filter(hidden=False).order_by('-upvotes')"
        ".values_list('arxiv_id', flat=True)[0])"
    )
    arxiv_id = manage(env, "shell", "-c", code).strip().splitlines()[-1]
    feed_key = manage(env, "shell", "-c", _FEED_READER).strip().splitlines()[-1]
    return arxiv_id, feed_key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
    ]
    argv += ["--worker-class", WORKER_CLASS, "--workers", str(WORKERS), "--threads", str(THREADS)]
    argv += ["--backlog", "2048", "--log-level", "warning", "--graceful-timeout", "5"]
    with log.open("wb") as out:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def gunicorn_wait(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    """Until the home page answers 200 through the (simulated) TLS proxy; at most 60 s."""
    pool = urllib3.PoolManager(retries=False, timeout=5)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            if pool.request("GET", base + "/", headers=_headers(base)).status == 200:
                return
        except urllib3.exceptions.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not answer within 60 s:\n{log.read_text()}")
        time.sleep(0.2)


def gunicorn_stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children (gunicorn's workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        own_pid = int(stat.parent.name)
        if own_pid == pid or int(fields[1]) == pid:  # fields[1] is the parent's pid
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


# --- The clients ---------------------------------------------------------------------------------


def _headers(base: str, **extra: str) -> dict[str, str]:
    return {"X-Forwarded-Proto": "https", "Host": urlsplit(base).netloc, **extra}


@dataclass
class Tally:
    """What one endpoint's clients saw."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    def error(self, what: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or what


# One client's requests: request number -> (the raw HTTP request, the status it must get).
ClientRequests = Callable[[int], tuple[bytes, int]]
ClientSetup = Callable[[int], ClientRequests]  # client number -> its requests


def _host_port(base: str) -> tuple[str, int]:
    parts = urlsplit(base)
    return parts.hostname or "127.0.0.1", parts.port or 80


def _raw_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def page_get(path: str, base: str) -> ClientSetup:
    request = _raw_request("GET", path, _headers(base))
    return lambda client: lambda n: (request, 200)


def feed_poll(path: str, base: str) -> ClientSetup:
    """A feed reader's poll: a GET with the ETag of the copy it has, answered 304."""
    host, port = _host_port(base)
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request("GET", path, headers=_headers(base))
        response = connection.getresponse()
        response.read()
        etag = response.getheader("ETag", "")
    finally:
        connection.close()
    request = _raw_request("GET", path, _headers(base, **{"If-None-Match": etag}))
    return lambda client: lambda n: (request, 304)


def sign_up(base: str, run: str) -> ClientSetup:
    """Per client: load the form once for its CSRF cookie and token, then POST new addresses."""
    origin = "https://" + urlsplit(base).netloc
    host, port = _host_port(base)

    def client_setup(client: int) -> ClientRequests:
        with urllib3.HTTPConnectionPool(
            host, port, maxsize=1, retries=False, timeout=REQUEST_TIMEOUT
        ) as pool:
            form = pool.request("GET", "/subscribe/", headers=_headers(base))
        token = _CSRF_FIELD.search(form.data.decode())
        cookie = _CSRF_COOKIE.search(form.headers.get("Set-Cookie", ""))
        if form.status != 200 or not token or not cookie:
            raise RuntimeError(f"no CSRF token from /subscribe/ (HTTP {form.status})")
        headers = _headers(
            base,
            Cookie=f"csrftoken={cookie.group(1)}",
            Origin=origin,
            Referer=origin + "/subscribe/",
            **{"Content-Type": "application/x-www-form-urlencoded"},
        )
        fields = [*((k, v) for k, v in SIGNUP_FORM.items() if k != "categories")]
        fields += [("categories", code) for code in SIGNUP_FORM["categories"]]
        fields.append(("csrfmiddlewaretoken", token.group(1)))
        # New addresses in every drive: the warm-up's would otherwise come back in the measured
        # run, within the 5 minutes in which an address gets no second sign-up email (a 429).
        drive_id = secrets.token_hex(3)

        def request(n: int) -> tuple[bytes, int]:
            address = f"bench-{run}-{drive_id}-{client}-{n}@example.org"
            body = urlencode([("email", address), *fields]).encode()
            return _raw_request("POST", "/subscribe/", headers, body), 303

        return request

    return client_setup


async def _exchange(
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None,
    host: str,
    port: int,
    request: bytes,
) -> tuple[int, tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]:
    """Send one request (on the kept connection, else a new one) and read the whole answer.

    Returns the status and the connection to keep (None when the server closed it).
    """
    reader, writer = connection or await asyncio.open_connection(host, port)
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:])
    }
    if status in (204, 304):
        pass  # no body, whatever the headers say
    elif "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    else:
        await reader.read()  # no length: the body ends with the connection
        headers["connection"] = "close"
    if headers.get("connection", "").lower() == "close":
        writer.close()
        return status, None
    return status, (reader, writer)


def drive(base: str, setup: ClientSetup, seconds: float, tally: Tally | None) -> float:
    """CLIENTS closed-loop clients in one asyncio loop, so the generator leaves the site its CPU.

    Each sends its next request as soon as the last is answered, on a kept-alive connection when
    the server keeps it (gthread), on a new one when it closes it (sync workers, as in production).
    Returns the seconds the clients ran.
    """
    host, port = _host_port(base)
    clients = _clients_setup(setup, tally)
    sent = [0]  # requests sent by all clients together, bounded by MAX_REQUESTS

    async def all_clients() -> float:
        began = time.perf_counter()
        await asyncio.gather(
            *(
                _client_run(requests, host, port, end=began + seconds, sent=sent, tally=tally)
                for requests in clients
            )
        )
        return time.perf_counter() - began

    return asyncio.run(all_clients())


def _clients_setup(setup: ClientSetup, tally: Tally | None) -> list[ClientRequests]:
    """The requests of each of the CLIENTS; a client that cannot start counts as an error."""
    clients: list[ClientRequests] = []
    for number in range(CLIENTS):
        try:
            clients.append(setup(number))
        except Exception as exc:
            if tally is not None:
                tally.error(f"client setup: {exc}")
    return clients


async def _client_run(
    requests: ClientRequests,
    host: str,
    port: int,
    *,
    end: float,
    sent: list[int],
    tally: Tally | None,
) -> None:
    """One closed-loop client: a request, its whole answer, the next, until `end` or the budget."""
    connection = None
    n = 0
    while time.perf_counter() < end and sent[0] < MAX_REQUESTS:
        sent[0] += 1
        n += 1
        raw, expected = requests(n)
        began = time.perf_counter()
        try:
            status, connection = await asyncio.wait_for(
                _exchange(connection, host, port, raw), timeout=REQUEST_TIMEOUT
            )
        except (
            TimeoutError,
            OSError,
            asyncio.IncompleteReadError,
            ValueError,
            IndexError,
        ) as exc:
            connection = None
            if tally is not None:
                tally.error(type(exc).__name__)
            continue
        if tally is not None:
            tally.latencies.append(time.perf_counter() - began)
            if status != expected:
                tally.error(f"HTTP {status} (expected {expected})")
    if connection is not None:
        connection[1].close()


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class EndpointResult(TypedDict):
    """One endpoint's figures, as printed and as they appear in the JSON line."""

    endpoint: str
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float | None
    errors: int
    first_error: str
    server_cpu_s: float
    client_cpu_s: float
    seconds: float


def endpoint_run(name: str, base: str, setup: ClientSetup, server_pid: int) -> EndpointResult:
    drive(base, setup, WARMUP_SECONDS, None)  # connections open, caches and the interpreter warm
    tally = Tally()
    client_cpu, server_cpu = time.process_time(), cpu_seconds(server_pid)
    elapsed = drive(base, setup, SECONDS, tally)
    client_cpu, server_cpu = time.process_time() - client_cpu, cpu_seconds(server_pid) - server_cpu
    done = len(tally.latencies)
    return {
        "endpoint": name,
        "requests": done,
        "requests_per_s": round(done / elapsed, 1),
        "p50_ms": round(percentile(tally.latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(tally.latencies, 0.99) * 1000, 1),
        "max_ms": round(max(tally.latencies, default=float("nan")) * 1000, 1),
        "mean_ms": round(statistics.fmean(tally.latencies) * 1000, 1) if done else None,
        "errors": tally.errors,
        "first_error": tally.first_error,
        "server_cpu_s": round(server_cpu, 1),
        "client_cpu_s": round(client_cpu, 1),
        "seconds": round(elapsed, 1),
    }


# --- Main ----------------------------------------------------------------------------------------


def main() -> int:
    database_ensure(database_url())
    redis_flush(redis_url())
    run = secrets.token_hex(4)
    with tempfile.TemporaryDirectory(prefix="paperboy-web-load-") as tmp:
        scratch = Path(tmp)
        env = site_env(scratch)
        arxiv_id, feed_key = site_prepare(env)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = scratch / "gunicorn.log"
        process = gunicorn_start(env, port, log)
        try:
            gunicorn_wait(process, base, log)
            endpoints = [
                ("home", page_get("/", base)),
                ("paper", page_get(f"/papers/{arxiv_id}/", base)),
                ("sign-up", sign_up(base, run)),
                # A reader's private feed (two queries and the body kept in Redis), and the
                # public papers feed (kept a minute, as the pages are).
                ("feed", page_get(f"/digest/feed/{feed_key}.atom", base)),
                # The same feed polled by a reader that has it: If-None-Match, 304.
                ("feed-304", feed_poll(f"/digest/feed/{feed_key}.atom", base)),
                ("pub-feed", page_get("/papers/feed.atom", base)),
            ]
            print(
                f"web load: {CLIENTS} clients x {SECONDS:.0f} s per endpoint; "
                f"gunicorn {WORKER_CLASS} {WORKERS} workers x {THREADS} threads "
                f"on {os.cpu_count()} CPUs; PostgreSQL {BENCH_DATABASE}, Redis db {BENCH_REDIS_DB}"
            )
            columns = ("req/s", "p50 ms", "p99 ms", "max ms", "errors", "srv cpu", "cli cpu")
            print(f"{'endpoint':<10}" + "".join(f"{column:>9}" for column in columns))
            results: list[EndpointResult] = []
            for name, setup in endpoints:
                result = endpoint_run(name, base, setup, process.pid)
                results.append(result)
                print(
                    f"{name:<10}{result['requests_per_s']:>9}{result['p50_ms']:>9}{result['p99_ms']:>9}"
                    f"{result['max_ms']:>9}{result['errors']:>9}{result['server_cpu_s']:>9}{result['client_cpu_s']:>9}"
                    + (f"  first error: {result['first_error']}" if result["errors"] else "")
                )
        finally:
            gunicorn_stop(process)
            redis_flush(redis_url())
    met = all(r["errors"] == 0 and r["requests"] and r["p99_ms"] < TARGET_P99_MS for r in results)
    print(
        f"target: p99 < {TARGET_P99_MS:.0f} ms and no errors at {CLIENTS} clients: "
        f"{'met' if met else 'NOT met'}"
    )
    summary = {
        "bench": "web_load",
        "clients": CLIENTS,
        "seconds_per_endpoint": SECONDS,
        "gunicorn": {"worker_class": WORKER_CLASS, "workers": WORKERS, "threads": THREADS},
        "cpus": os.cpu_count(),
        "endpoints": results,
        "target_p99_ms": TARGET_P99_MS,
        "target_met": met,
    }
    print(json.dumps(summary))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
