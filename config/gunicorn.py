"""gunicorn's settings for the web container (`gunicorn -c python:config.gunicorn ...`).

Only what the command line does not say: the Prometheus bookkeeping when a worker exits.
"""

from __future__ import annotations

import os
import socket
from typing import Any


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: its live gauges' files go (its counters stay in the totals)."""
    if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess  # noqa: PLC0415 (only with the directory set)

        # The name config.metrics.process_id gave the worker's files, from the same host.
        multiprocess.mark_process_dead(f"{socket.gethostname()}-{worker.pid}", path=directory)
