"""What a job process shares between its worker and the training code: the stop request and
where its files go. No heavy imports: the worker loads this before the training script."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from cosim_protocol.redis_client import make_sync

_STOP = threading.Event()
JOB_DIR_ENV = "COSIM_JOB_DIR"
REDIS_STREAM_MAXLEN = 10_000


def request_stop() -> None:
    """Ask the training loop to stop at its next step (it saves a checkpoint first)."""
    _STOP.set()


def stop_requested() -> bool:
    return _STOP.is_set()


def job_dir() -> Path | None:
    """The job folder when running as a CoSim job, else None (a plain ``python train.py``)."""
    value = os.environ.get(JOB_DIR_ENV)
    return Path(value) if value else None


class MetricsSink:
    """One JSON object per call to ``metrics.jsonl`` and, when Redis is reachable, to the job's
    Redis stream. Called once per rollout, never per env step. A Redis outage costs the live
    stream only: the file is the record."""

    def __init__(self, path: Path, stream: str | None = None, redis_url: str | None = None):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the job
        self._stream = stream
        self._redis: Any = None
        self._retry_at = 0.0
        if stream and redis_url:
            self._redis = make_sync(redis_url, timeout=0.5, connect_timeout=0.2)

    def emit(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"))
        self._file.write(line + "\n")
        if self._redis is not None and time.monotonic() >= self._retry_at:
            try:
                self._redis.xadd(
                    self._stream, {"m": line}, maxlen=REDIS_STREAM_MAXLEN, approximate=True
                )
            except Exception:
                self._retry_at = time.monotonic() + 30.0

    def close(self) -> None:
        self._file.close()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                self._redis.close()
