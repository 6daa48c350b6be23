"""A job's files in ``<workspace>/.cosim/jobs/<id>/`` and its state, on disk and in Redis.

Layout::

    job.json         what was asked: template, project folder, entry point, params, cpus
    state.json       where it is: state, pid + process start time, timesteps, times, message
    log.txt          the process's stdout and stderr
    metrics.jsonl    one JSON object per rollout (timesteps, reward, steps/s, losses)
    checkpoints/     step_<n>.zip (+ _vecnormalize.pkl, _replay.pkl) for resume
    tb/              TensorBoard event files (one run, continued across resumes)
    lock             flock around every read-modify-write of state.json

The job process and the server both write state.json (each only the fields it owns); the
flock makes each update a read-modify-write that cannot lose the other's fields. Redis holds a
mirror under ``cosim:<user>:job:<id>`` for other processes; a Redis outage never fails a job.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from cosim.jobs.progress import last_metric
from cosim.snapshots.store import atomic_write
from cosim_protocol.keys import Keys, namespace_name

JOBS_DIR = Path(".cosim") / "jobs"
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{2,100}$")

QUEUED, RUNNING, STOPPING = "queued", "running", "stopping"
STOPPED, FINISHED, FAILED, LOST = "stopped", "finished", "failed", "lost"
ACTIVE_STATES = frozenset({QUEUED, RUNNING, STOPPING})
LOG_TAIL_LINES = 20
# What a job summary shows of its latest metric record.
PROGRESS_FIELDS = ("timesteps", "steps_per_s", "episode_reward")


class JobError(Exception):
    """A job request the user can act on; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def user_name() -> str:
    """The hub user this server belongs to (``JUPYTERHUB_USER``), else the Unix account."""
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()


def redis_key(job_id: str, user: str | None = None) -> str:
    return Keys(namespace_name(user or user_name())).job(job_id)


def metrics_stream(job_id: str, user: str | None = None) -> str:
    return Keys(namespace_name(user or user_name())).job_metrics(job_id)


def new_job_id(template: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{template}-{secrets.token_hex(3)}"


def jobs_root(workspace: str | os.PathLike[str]) -> Path:
    return Path(workspace) / JOBS_DIR


class JobDir:
    """Paths and state of one job folder."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.id = self.path.name

    @classmethod
    def of(cls, workspace: str | os.PathLike[str], job_id: str) -> JobDir:
        if not isinstance(job_id, str) or not ID_RE.match(job_id):
            raise JobError(f"no job {job_id!r}", 404)
        job = cls(jobs_root(workspace) / job_id)
        if not (job.path / "job.json").is_file():
            raise JobError(f"no job {job_id!r}", 404)
        return job

    spec_file = property(lambda self: self.path / "job.json")
    state_file = property(lambda self: self.path / "state.json")
    log_file = property(lambda self: self.path / "log.txt")
    metrics_file = property(lambda self: self.path / "metrics.jsonl")
    checkpoints = property(lambda self: self.path / "checkpoints")
    tensorboard = property(lambda self: self.path / "tb")

    def spec(self) -> dict[str, Any]:
        return dict(json.loads(self.spec_file.read_text()))

    def state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_file.read_text()))
        except FileNotFoundError:
            return {"state": QUEUED}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.path / "lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def update(
        self, redis: Any = None, *, only_if: frozenset[str] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Merge ``fields`` into state.json under the lock and mirror it to Redis.

        ``only_if``: apply only while the current state is one of these (so a late progress
        update never revives a job the server already marked stopped or lost)."""
        with self._locked():
            state = self.state()
            if only_if is None or state.get("state") in only_if:
                state.update(fields)
                state["updated"] = time.time()
                atomic_write(self.state_file, json.dumps(state).encode(), durable=False)
        mirror(redis, self.id, state)
        return state

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> list[str]:
        try:
            with open(self.log_file, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 64 * 1024))
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        return text.splitlines()[-lines:]

    def latest_checkpoint(self) -> Path | None:
        """The checkpoint with the most timesteps (``step_<n>.zip``), if any."""
        best, best_step = None, -1
        for path in self.checkpoints.glob("step_*.zip"):
            match = re.fullmatch(r"step_(\d+)\.zip", path.name)
            if match and int(match.group(1)) > best_step:
                best, best_step = path, int(match.group(1))
        return best

    def summary(self, latest_metric: dict[str, Any] | None = None) -> dict[str, Any]:
        """What a list of jobs shows: spec + state + checkpoint + progress from the latest metric
        (``latest_metric`` when the caller has read the metrics already), without the log."""
        spec, state = self.spec(), self.state()
        ckpt = self.latest_checkpoint()
        summary = {**spec, **state, "id": self.id, "checkpoint": ckpt.name if ckpt else None}
        metric = latest_metric or last_metric(self.metrics_file)
        if metric:
            summary.update({field: metric.get(field) for field in PROGRESS_FIELDS})
        return summary


def mirror(redis: Any, job_id: str, state: dict[str, Any]) -> None:
    """Best effort: Redis is a shared mirror, state.json is the record."""
    if redis is None:
        return
    with contextlib.suppress(Exception):
        redis.set(redis_key(job_id), json.dumps({"id": job_id, **state}))


def list_jobs(workspace: str | os.PathLike[str]) -> list[JobDir]:
    root = jobs_root(workspace)
    if not root.is_dir():
        return []
    jobs = [JobDir(p) for p in root.iterdir() if (p / "job.json").is_file()]
    return sorted(jobs, key=lambda j: j.id)


# ---- process identity: a pid alone can be reused, pid + start time cannot --------------------


def process_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, or None if it is gone or a zombie.
    (Ticks, as job states already stored hold: psutil gives boot time + ticks / CLK_TCK.)"""
    try:
        proc = psutil.Process(pid)
        if proc.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return None
        since_boot = proc.create_time() - psutil.boot_time()
    except psutil.Error:
        return None
    return round(since_boot * os.sysconf("SC_CLK_TCK"))


def is_alive(state: dict[str, Any]) -> bool:
    pid, start = state.get("pid"), state.get("start_time")
    return isinstance(pid, int) and start is not None and process_start_time(pid) == start
