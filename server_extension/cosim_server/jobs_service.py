"""The server side of jobs: config (``c.CoSimJobs``), the watcher, and TensorBoard processes.

The watcher reconciles every job with its process once per ``poll_interval``: it reaps the
server's own children (their exit codes tell crashes from stops), follows jobs started by an
earlier server or the CLI by pid + start time (marking them lost when that process is gone), and
while any job runs it keeps the server's last-activity time fresh, which jupyterhub-singleuser
reports to the hub, so the idle culler leaves a training server alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from tornado.ioloop import PeriodicCallback
from traitlets import Float, Int, List, Unicode
from traitlets.config import LoggingConfigurable

from cosim.jobs import JobError, JobManager, Limits, TemplateError
from cosim_protocol.redis_client import make_sync

T = TypeVar("T")
ACTIVITY_SETTING = "cosim_jobs_last_activity"  # jupyter_server counts every *_last_activity


class CoSimJobs(LoggingConfigurable):
    """Background jobs of this user's server (``c.CoSimJobs.<name>``)."""

    max_jobs = Int(
        2,
        help="""Most jobs that may run at once in this server (one user). Starting or resuming
        one more is refused with 409 and a message.""",
    ).tag(config=True)

    max_cpus = Int(
        0,
        help="""Most CPUs all running jobs of this user may claim together; a job claims its
        template's cpus_param (n_envs for the RL templates). 0: the CPUs this server may use.
        Over the limit: 409 with a message.""",
    ).tag(config=True)

    stop_timeout = Float(
        30.0,
        help="""Seconds a stopping job gets to save its checkpoint and exit after SIGTERM
        before its whole process group gets SIGKILL.""",
    ).tag(config=True)

    poll_interval = Float(
        1.0, help="Seconds between checks of the jobs' processes (reconcile, activity)."
    ).tag(config=True)

    template_paths = List(
        Unicode(),
        help="""Extra folders of templates (<folder>/<name>/template.toml), searched before the
        templates shipped with CoSim; $COSIM_TEMPLATES adds more.""",
    ).tag(config=True)

    watch_seconds = Float(
        300.0, help="Seconds a 'watch the policy' rollout runs in the live viewer before it ends."
    ).tag(config=True)

    tensorboard_start_timeout = Float(
        60.0, help="Seconds to wait for a job's TensorBoard to answer before giving up (504)."
    ).tag(config=True)


class JobsService:
    """One per server: the JobManager, run on one worker thread (so job operations never block
    the event loop and never race each other), the watcher, and TensorBoard processes."""

    def __init__(self, config: CoSimJobs, workspace: str, redis_url: str) -> None:
        self.config = config
        self.settings: dict[str, Any] = {}
        self.redis = make_sync(redis_url, timeout=0.5, connect_timeout=0.3)
        limits = Limits(config.max_jobs, config.max_cpus, config.stop_timeout)
        self.manager = JobManager(
            workspace,
            redis=self.redis,
            redis_url=redis_url,
            limits=limits,
            template_paths=list(config.template_paths),
        )
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cosim-jobs")
        self._watcher = PeriodicCallback(self._watch, config.poll_interval * 1000)
        self._watching = False
        self.tensorboards = TensorBoards(config.tensorboard_start_timeout)
        self._rollouts: dict[str, subprocess.Popen[bytes]] = {}

    async def call(self, fn: Any, *args: Any) -> Any:
        """Run a manager call on the jobs thread; job and template errors pass through."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args))

    def start(self, web_settings: dict[str, Any]) -> None:
        """Start watching (idempotent): at server start, and at the latest with the first
        jobs request (test servers and embedders may skip extension start hooks)."""
        self.settings = web_settings
        if not self._watcher.is_running():
            self._watcher.start()

    async def _watch(self) -> None:
        if self._watching:  # a slow poll (busy disk) must not pile up
            return
        self._watching = True
        try:
            running = await self.call(self.manager.poll)
        except Exception:
            self.config.log.exception("CoSim jobs watcher failed")
            return
        finally:
            self._watching = False
        if running:
            self.settings[ACTIVITY_SETTING] = datetime.now(UTC)

    async def watch_policy(self, job_id: str) -> dict[str, Any]:
        """Run the job's latest checkpoint in the live viewer (``cosim.jobs.watch``); returns
        the sim id once the viewer is up. One rollout process per job: a new one replaces it."""
        from cosim.jobs.watch import WATCH_FILE

        job = await self.call(self.manager.job, job_id)
        if job.latest_checkpoint() is None:
            raise JobError(f"job {job_id} has no checkpoint yet to watch", 409)
        self._end(self._rollouts.pop(job_id, None))
        out = job.path / WATCH_FILE
        out.unlink(missing_ok=True)
        env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
        if self.manager.redis_url:
            env["REDIS_URL"] = self.manager.redis_url
        cmd = [
            sys.executable,
            "-m",
            "cosim.jobs.watch",
            str(job.path),
            str(self.config.watch_seconds),
        ]
        with open(job.path / "watch.log", "wb") as log:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self._rollouts[job_id] = proc
        deadline = asyncio.get_running_loop().time() + 60
        while not out.exists():
            if proc.poll() is not None:
                tail = (job.path / "watch.log").read_text(errors="replace").splitlines()[-3:]
                raise JobError("the policy rollout ended at start: " + " / ".join(tail), 500)
            if asyncio.get_running_loop().time() > deadline:
                raise JobError("the policy rollout did not start in time", 504)
            await asyncio.sleep(0.1)
        return dict(json.loads(out.read_text()))

    def end_rollout(self, job_id: str) -> None:
        self._end(self._rollouts.pop(job_id, None))

    @staticmethod
    def _end(proc: subprocess.Popen[bytes] | None) -> None:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        """Server shutdown: jobs keep running (they are their own sessions); TensorBoards and
        policy rollouts end."""
        self._watcher.stop()
        self.tensorboards.stop_all()
        for proc in self._rollouts.values():
            self._end(proc)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.redis.close()


class TensorBoards:
    """One TensorBoard process per job, on demand, on a Unix socket in a private folder."""

    def __init__(self, start_timeout: float) -> None:
        self.start_timeout = start_timeout
        self._dir: Path | None = None
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def _socket_dir(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="cosim-tb-"))  # mode 700: only this user
        return self._dir

    def socket(self, job_id: str) -> Path:
        return self._socket_dir() / f"{hashlib.sha1(job_id.encode()).hexdigest()[:16]}.sock"

    async def ensure(self, job_id: str, logdir: Path) -> Path:
        """The socket of ``job_id``'s TensorBoard, started if it is not running."""
        sock = self.socket(job_id)
        proc = self._procs.get(job_id)
        if proc is None or proc.poll() is not None:
            logdir.mkdir(parents=True, exist_ok=True)
            sock.unlink(missing_ok=True)
            cmd = [sys.executable, "-m", "cosim.jobs.tensorboard_server", str(logdir), str(sock)]
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            self._procs[job_id] = proc
        deadline = asyncio.get_running_loop().time() + self.start_timeout
        while not sock.exists():
            if proc.poll() is not None:
                raise JobError("TensorBoard exited at start; see the server log", 502)
            if asyncio.get_running_loop().time() > deadline:
                raise JobError("TensorBoard did not start in time", 504)
            await asyncio.sleep(0.1)
        return sock

    def stop(self, job_id: str) -> None:
        proc = self._procs.pop(job_id, None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_all(self) -> None:
        for job_id in list(self._procs):
            self.stop(job_id)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)


__all__ = ["CoSimJobs", "JobError", "JobsService", "TemplateError"]
