"""Slow clients: fifty connections trickling their requests do not stall the site behind its proxy.

gunicorn's sync workers each serve one connection from its first byte to its last, so straight to
gunicorn a few clients sending a byte at a time hold every worker and a reader's page waits.
deploy/nginx.conf, run here by the local nginx exactly as the `proxy` service runs it (only the
upstream, the port and nginx's scratch directories are changed), reads each whole request before
gunicorn sees it. The figures are printed (`pytest -s`).
"""

from __future__ import annotations

import os
import secrets
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import yaml

from tests.helpers import ROOT, clean_env, free_port, process_stop, run_python

pytestmark = pytest.mark.slow  # it migrates a database and starts gunicorn and nginx

NGINX = Path("/usr/sbin/nginx")
SLOW_CLIENTS = 50
# Each slow client sends one more byte this often: far slower than any real browser.
TRICKLE_SECONDS = 0.5
# The longest a reader's page may take while the slow clients trickle.
PATIENCE_SECONDS = 1.0
# As the TLS proxy in front of nginx sends it: the app then serves the page instead of redirecting.
BEHIND_TLS = {"X-Forwarded-Proto": "https"}
# Requests that never end: the headers alone, or whole headers and then a form body. The form
# comes as a browser's would (a CSRF cookie, its origin), so that the site reads its body.
SLOW_HEADERS = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow-client/1.0\r\nAccept: */*\r\n"
)
SLOW_FORM = (
    b"POST /subscribe/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
    b"Origin: https://127.0.0.1\r\nCookie: csrftoken=" + b"a" * 32 + b"\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4096\r\n\r\n"
)


@pytest.fixture(scope="module", autouse=True)
def _needs_nginx() -> None:
    """Skip (or, under CI=true, fail) without nginx: .ci/run installs it."""
    if NGINX.exists():
        return
    reason = f"needs nginx at {NGINX} (apt-get install nginx-light)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason}, and CI=true requires it", pytrace=False)
    pytest.skip(reason)


@contextmanager
def running(argv: list[str], *, env: dict[str, str], log: Path, port: int) -> Iterator[None]:
    """Run a server until it accepts connections on the port; stop it on the way out."""
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield
    finally:
        process_stop(process)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A production environment with a migrated SQLite database and collected static files."""
    tmp = tmp_path_factory.mktemp("site")
    env = clean_env(
        tmp,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp / 'paperboy.sqlite3'}",
        STATIC_ROOT=str(tmp / "static"),
        LOG_LEVEL="WARNING",
    )
    # One interpreter for both commands: Django starts once.
    result = run_python(
        "import django; django.setup(); from django.core.management import call_command; "
        "call_command('migrate', interactive=False, verbosity=0); "
        "call_command('collectstatic', interactive=False, verbosity=0)",
        env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return env


@pytest.fixture(scope="module")
def web(site: dict[str, str]) -> Iterator[int]:
    """The compose web command (sync workers, two of them) on a free port; yields the port."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command: list[str] = compose["services"]["web"]["command"]
    port = free_port()
    bind = command.index("--bind") + 1
    argv = [sys.executable, "-m", *command[:bind], f"127.0.0.1:{port}", *command[bind + 1 :]]
    log = Path(site["HOME"]) / "gunicorn.log"
    with running([*argv, "--workers", "2"], env=site, log=log, port=port):
        # A site that has been up a while: each worker has served a page and filled its caches.
        for _ in range(4):
            assert page_seconds(port, timeout=30) < 30, log.read_text()
        yield port


def shipped_config_for_here(*, upstream: int, port: int, scratch: Path) -> str:
    """deploy/nginx.conf with its upstream, its port and nginx's scratch directories moved here."""
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    # The compiled-in temporary directories are the system's (and root's): these are the test's.
    temp_paths = "".join(
        f"\n    {kind}_temp_path {scratch / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    for old, new in (
        # An address needs no resolving (nor does this nginx, older than 1.27.3, know `resolve`).
        ("server web:8000 resolve ", f"server 127.0.0.1:{upstream} "),
        ("listen 80 default_server;", f"listen 127.0.0.1:{port} default_server;"),
        ("\nhttp {", "\nhttp {" + temp_paths),
    ):
        assert config.count(old) == 1, old
        config = config.replace(old, new)
    return config


@pytest.fixture(scope="module")
def proxy(web: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The shipped nginx config in front of `web`, in the foreground; yields its port."""
    scratch = tmp_path_factory.mktemp("nginx")
    port = free_port()
    config = scratch / "nginx.conf"
    config.write_text(shipped_config_for_here(upstream=web, port=port, scratch=scratch))
    directives = f"daemon off; pid {scratch / 'nginx.pid'};"
    if os.geteuid() == 0:
        # Else its workers run as nobody, who cannot enter pytest's private temporary directory.
        directives += " user root;"
    argv = [str(NGINX), "-p", str(scratch), "-c", str(config), "-e", str(scratch / "error.log")]
    env = {"PATH": os.environ["PATH"]}
    with running([*argv, "-g", directives], env=env, log=scratch / "nginx.log", port=port):
        yield port


def page_seconds(port: int, *, timeout: float) -> float:
    """How long `GET /` takes to answer 200, or the timeout when no answer came within it."""
    started = time.perf_counter()
    try:
        response = requests.get(f"http://127.0.0.1:{port}/", headers=BEHIND_TLS, timeout=timeout)
    except requests.Timeout:
        return timeout
    assert response.status_code == 200, response.text[:500]
    return time.perf_counter() - started


class SlowClients:
    """Connections that send their request a byte per TRICKLE_SECONDS and never finish it: half
    trickle their headers, half send whole headers and then trickle a form body."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._pending: list[tuple[socket.socket, bytearray]] = []
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def __enter__(self) -> SlowClients:
        for n in range(SLOW_CLIENTS):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            if n % 2:
                sock.sendall(SLOW_FORM)
                self._pending.append((sock, bytearray(b"email=" + b"x" * 4090)))
            else:
                self._pending.append((sock, bytearray(SLOW_HEADERS)))
        self._thread.start()
        # Every client has sent a byte: any worker that took one is now waiting for the next.
        assert self._started.wait(timeout=5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for sock, _ in self._pending:
            sock.close()

    def _trickle(self) -> None:
        while True:
            for sock, rest in self._pending:
                if rest:
                    try:
                        sock.send(rest[:1])
                        del rest[:1]
                    except OSError:
                        rest.clear()  # the server closed it: held() counts it out
            self._started.set()
            if self._stop.wait(TRICKLE_SECONDS):
                return

    def held(self) -> int:
        """How many are still waiting, with nothing from the server (no answer, no close)."""
        sockets = [sock for sock, _ in self._pending]
        readable, _, _ = select.select(sockets, [], [], 0)
        return len(sockets) - len(readable)


def test_fifty_slow_clients_do_not_hold_up_a_page_behind_the_proxy(proxy: int) -> None:
    with SlowClients(proxy) as slow:
        seconds = [page_seconds(proxy, timeout=3 * PATIENCE_SECONDS) for _ in range(5)]
        held = slow.held()

    print(f"\nGET / through nginx with {SLOW_CLIENTS} slow clients: {_figures(seconds)}")
    assert max(seconds) < PATIENCE_SECONDS, seconds
    assert held == SLOW_CLIENTS  # nginx keeps every one of them waiting, away from gunicorn


def test_straight_to_gunicorn_the_same_slow_clients_stall_the_page(web: int) -> None:
    # The control: without it, a broken SlowClients would make the test above pass by itself.
    # It is not flaky: a sync worker waits for a request's next byte without a time limit, and
    # the page's connection is queued behind all fifty.
    with SlowClients(web) as slow:
        seconds = page_seconds(web, timeout=PATIENCE_SECONDS)
        held = slow.held()

    print(f"\nGET / straight to gunicorn with {SLOW_CLIENTS} slow clients: {_figures([seconds])}")
    assert held == SLOW_CLIENTS
    assert seconds >= PATIENCE_SECONDS  # no answer at all within it


def test_the_proxy_passes_scheme_and_host_and_refuses_big_bodies_and_the_probes_itself(
    proxy: int, web: int
) -> None:
    plain = requests.get(f"http://127.0.0.1:{proxy}/", timeout=10, allow_redirects=False)
    probes = {
        path: requests.get(f"http://127.0.0.1:{proxy}{path}", timeout=10).status_code
        for path in ("/healthz", "/readyz", "/metrics")
    }
    inside = requests.get(f"http://127.0.0.1:{web}/healthz", timeout=10)
    with socket.create_connection(("127.0.0.1", proxy), timeout=10) as sock:
        # Only the headers: nginx answers from the declared length, before reading any body.
        sock.sendall(
            b"POST /subscribe/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % (11 * 1024 * 1024)
        )
        oversized = sock.recv(200)

    # Plain HTTP is sent to https on the standard port: nginx passes Host without its own port.
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://127.0.0.1/"
    # The probes answer inside the network only: through the proxy, all would come from its address.
    assert probes == {"/healthz": 404, "/readyz": 404, "/metrics": 404}
    assert inside.status_code == 200
    assert oversized.startswith(b"HTTP/1.1 413 ")


def _figures(seconds: list[float]) -> str:
    return ", ".join(f"{s * 1000:.0f} ms" for s in seconds)
