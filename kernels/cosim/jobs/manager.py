"""Start, stop, resume and delete jobs of one workspace; shared by the server and the CLI.

A job runs ``python -m cosim.jobs.worker <job dir>`` in its own session (``setsid``), so it
outlives the browser, the kernel and the Jupyter server that started it. Stop sends SIGTERM to
the leader only (the training loop saves a checkpoint and exits; SubprocVecEnv workers end with
it); after ``stop_timeout`` the whole process group gets SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .state import (
    ACTIVE_STATES,
    FAILED,
    LOST,
    QUEUED,
    RUNNING,
    STOPPED,
    STOPPING,
    JobDir,
    JobError,
    is_alive,
    jobs_root,
    list_jobs,
    new_job_id,
    process_start_time,
)
from .templates import Template, TemplateError, get_template, new_project, read_project


@dataclass
class Limits:
    max_jobs: int = 2
    max_cpus: int = 0  # 0: the number of CPUs this process may use
    stop_timeout: float = 30.0

    def cpus(self) -> int:
        return self.max_cpus or len(os.sched_getaffinity(0))


class JobManager:
    def __init__(
        self,
        workspace: str | os.PathLike[str],
        *,
        redis: Any = None,
        redis_url: str | None = None,
        limits: Limits | None = None,
        template_paths: list[str] | None = None,
    ) -> None:
        self.workspace = Path(workspace).resolve()
        self.redis = redis
        self.redis_url = redis_url  # handed to jobs, for their state mirror and metrics stream
        self.limits = limits or Limits()
        self.template_paths = template_paths
        # Children this process started: polled so they are reaped and their exit code known.
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    # ---- queries ---------------------------------------------------------------------------

    def job(self, job_id: str) -> JobDir:
        return JobDir.of(self.workspace, job_id)

    def jobs(self) -> list[JobDir]:
        return list_jobs(self.workspace)

    def active(self) -> list[dict[str, Any]]:
        out = []
        for job in self.jobs():
            state = job.state()
            if state.get("state") in ACTIVE_STATES:
                out.append({**job.spec(), **state})
        return out

    def template(self, name: str) -> Template:
        return get_template(name, self.template_paths)

    # ---- create and start ------------------------------------------------------------------

    def new_project(self, template_name: str, folder: Path, params: Any) -> dict[str, Any]:
        template = self.template(template_name)
        return new_project(template, folder, template.validate(params))

    def start(self, project: Path, overrides: Any = None) -> JobDir:
        """Start a job in ``project`` (a folder made from a template), with params from its
        cosim.json updated by ``overrides``."""
        info = read_project(project)
        template = self.template(str(info.get("template", "")))
        if overrides is not None and not isinstance(overrides, dict):
            raise TemplateError("params must be an object of name: value")
        given = {k: v for k, v in info.get("params", {}).items() if k in template.params}
        params = template.validate({**given, **(overrides or {})})
        cpus = template.cpus(params)
        self.check_limits(cpus)
        job_id = new_job_id(template.name)
        job = JobDir(jobs_root(self.workspace) / job_id)
        job.path.mkdir(parents=True)
        spec = {
            "id": job_id,
            "template": template.name,
            "title": template.title,
            "project": str(project),
            "entry": str(info.get("entry", template.entry)),
            "params": params,
            "cpus": cpus,
            "created": time.time(),
        }
        job.spec_file.write_text(json.dumps(spec, indent=2))
        job.update(self.redis, state=QUEUED, total_timesteps=params.get("total_timesteps"))
        self._spawn(job, spec)
        return job

    def check_limits(self, cpus: int, exclude: str | None = None) -> None:
        active = [j for j in self.active() if j["id"] != exclude]
        if len(active) >= self.limits.max_jobs:
            raise JobError(
                f"{len(active)} job(s) already running; the limit is {self.limits.max_jobs} "
                "at a time. Stop one or wait for it to finish.",
                409,
            )
        used = sum(int(j.get("cpus", 1)) for j in active)
        if used + cpus > self.limits.cpus():
            raise JobError(
                f"this job needs {cpus} CPU(s) but only {self.limits.cpus() - used} of "
                f"{self.limits.cpus()} are free; lower n_envs or stop a job.",
                409,
            )

    def _spawn(self, job: JobDir, spec: dict[str, Any]) -> None:
        project = Path(spec["project"])
        if not (project / spec["entry"]).is_file():
            job.update(self.redis, state=FAILED, message=f"{spec['entry']} is missing")
            raise JobError(f"{project.name}/{spec['entry']} is missing", 400)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.setdefault("MUJOCO_GL", "egl")
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        with open(job.log_file, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "cosim.jobs.worker", str(job.path)],
                cwd=project,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # own session + process group: survives the server
            )
        self.children[job.id] = proc
        job.update(
            self.redis,
            state=RUNNING,
            pid=proc.pid,
            start_time=process_start_time(proc.pid),
            started_at=time.time(),
            message="",
            exit_code=None,
        )

    # ---- stop, resume, delete --------------------------------------------------------------

    def stop(self, job_id: str) -> dict[str, Any]:
        job = self.job(job_id)
        state = job.state()
        if state.get("state") not in ACTIVE_STATES:
            raise JobError(f"job {job_id} is {state.get('state')}, not running", 409)
        state = job.update(
            self.redis, only_if=ACTIVE_STATES, state=STOPPING, stop_requested_at=time.time()
        )
        if is_alive(state):
            with contextlib.suppress(ProcessLookupError):
                os.kill(state["pid"], signal.SIGTERM)
        return state

    def kill(self, job: JobDir, state: dict[str, Any], message: str) -> None:
        """SIGKILL the whole process group of a job that did not stop in time."""
        if is_alive(state):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(state["pid"], signal.SIGKILL)
        job.update(
            self.redis,
            only_if=ACTIVE_STATES,
            state=STOPPED,
            message=message,
            ended_at=time.time(),
            log_tail=job.log_tail(),
        )

    def resume(self, job_id: str) -> JobDir:
        job = self.job(job_id)
        state = job.state()
        if state.get("state") in ACTIVE_STATES:
            raise JobError(f"job {job_id} is {state.get('state')}; stop it before resuming", 409)
        if job.latest_checkpoint() is None:
            raise JobError(f"job {job_id} has no checkpoint to resume from", 409)
        spec = job.spec()
        self.check_limits(int(spec.get("cpus", 1)), exclude=job_id)
        job.update(
            self.redis,
            state=QUEUED,
            resumes=int(state.get("resumes", 0)) + 1,
            ended_at=None,
            log_tail=None,
            stop_requested_at=None,
        )
        self._spawn(job, spec)
        return job

    def delete(self, job_id: str) -> None:
        job = self.job(job_id)
        if job.state().get("state") in ACTIVE_STATES:
            raise JobError(f"job {job_id} is running; stop it before deleting", 409)
        self.children.pop(job_id, None)
        shutil.rmtree(job.path)
        if self.redis is not None:
            from .state import metrics_stream, redis_key

            with contextlib.suppress(Exception):
                self.redis.delete(redis_key(job_id), metrics_stream(job_id))

    # ---- watching --------------------------------------------------------------------------

    def poll(self) -> list[dict[str, Any]]:
        """Reconcile every active job with its process; returns the jobs still running.

        A child of this process that exited without recording its end failed (its exit status
        and log tail say how). A job started elsewhere (an earlier server, the CLI) is followed
        by pid + process start time; when that process is gone without a recorded end, the job
        is lost. A stopping job past ``stop_timeout`` is killed."""
        running = []
        for job in self.jobs():
            state = job.state()
            if state.get("state") not in ACTIVE_STATES:
                self.children.pop(job.id, None)
                continue
            child = self.children.get(job.id)
            code = child.poll() if child is not None else None
            if child is not None and code is not None:
                del self.children[job.id]
                state = job.state()  # the worker may have recorded its end meanwhile
                if state.get("state") in ACTIVE_STATES:
                    stopping = state["state"] == STOPPING
                    job.update(
                        self.redis,
                        only_if=ACTIVE_STATES,
                        state=STOPPED if stopping and code <= 0 else FAILED,
                        exit_code=code,
                        ended_at=time.time(),
                        log_tail=job.log_tail(),
                        message=_exit_message(code),
                    )
                continue
            if child is None and not is_alive(state):
                fresh = state.get("state") == QUEUED and time.time() - state.get("updated", 0) < 30
                if not fresh:
                    job.update(
                        self.redis,
                        only_if=ACTIVE_STATES,
                        state=LOST,
                        ended_at=time.time(),
                        log_tail=job.log_tail(),
                        message="its process ended while no server was watching it",
                    )
                continue
            stop_at = state.get("stop_requested_at")
            timeout = self.limits.stop_timeout
            if state.get("state") == STOPPING and stop_at and time.time() - stop_at > timeout:
                self.kill(job, state, f"killed: did not stop within {timeout:g} s")
                continue
            running.append(state)
        return running


def _exit_message(code: int) -> str:
    if code < 0:
        return f"the job process was killed by signal {signal.Signals(-code).name}"
    return f"the job process exited with status {code} before recording its end"
