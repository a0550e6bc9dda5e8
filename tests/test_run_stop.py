"""`make run` offline, then Ctrl-C: a quiet terminal and a clean stop.

Ctrl-C in a terminal sends SIGINT to its foreground process group (make, its shell, honcho;
honcho's processes run in sessions of their own): the test starts `make run` in a new process
group and signals the group the same way. It runs the real Makefile recipe and the real
Procfile.dev, only on a free port (the development port may be taken) and with its state in a
temporary directory. This machine has no network, so the live fetch `make run` queues fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, clean_env

NO_INSTALL = ("-o", ".venv/.installed")  # tests never install (as tests/test_makefile.py)
START_TIMEOUT = 90  # seconds: migrate, the sample, and three processes on two shared cores
# Once these appeared, everything ran: the queued fetch failed, the thumbnails were tried.
WAIT_FOR = ("failed, unreachable", "thumbnails:", "beat: Starting", "Starting development server")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _procfile_on_port(tmp_path: Path, port: int) -> Path:
    procfile = tmp_path / "Procfile"
    text = (ROOT / "Procfile.dev").read_text().replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    assert f"127.0.0.1:{port}" in text
    procfile.write_text(text)
    return procfile


@pytest.mark.slow
def test_it_starts_offline_quietly_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    env = clean_env(
        tmp_path,
        PAPERBOY_EMBED_ON_CHANGE="false",  # the model takes long to load; not what is tested
        PAPERBOY_LEARN_ON_CHANGE="false",
        PYTHONUNBUFFERED="1",
    )
    procfile = _procfile_on_port(tmp_path, _free_port())
    started = subprocess.Popen(
        ["make", "--no-print-directory", *NO_INSTALL, "run", f"PROCFILE={procfile}"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    assert started.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(started.stdout or ()), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and not all(
            any(wanted in line for line in list(lines)) for wanted in WAIT_FOR
        ):
            time.sleep(0.5)
        time.sleep(1)  # the second source's failure, a moment after the first
        os.killpg(started.pid, signal.SIGINT)  # what Ctrl-C does
        started.wait(timeout=30)
        reader.join(timeout=5)
    finally:
        if started.poll() is None:
            os.killpg(started.pid, signal.SIGKILL)
            started.wait()

    output = "".join(lines)
    print(output)  # shown with -rP: what a developer's terminal shows
    # make itself got the SIGINT too: once the recipe ended well, it ends by that signal, as
    # any program does on Ctrl-C, silently (no "make: *** [run] Error 130" or "Interrupt").
    assert started.returncode in (0, -signal.SIGINT), output
    assert "make:" not in output, output
    assert "Traceback" not in output, output
    assert "ERROR/" not in output, output  # no "Process 'ForkPoolWorker-1' exited with signal 15"
    assert output.rstrip().endswith("Paperboy stopped."), output
    # The live fetch failed offline: one warning line per source, and Celery gave up quietly.
    failures = [line for line in output.splitlines() if "failed, unreachable" in line]
    assert len(failures) == 2, output  # the HF API and the HF pages
    assert "raised unexpected" not in output
    # The sample's thumbnails failed too, once each, in one line.
    assert len([line for line in output.splitlines() if "thumbnails:" in line]) == 1, output
