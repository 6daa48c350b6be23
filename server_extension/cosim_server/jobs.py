"""``/cosim/api/templates`` and ``/cosim/api/jobs``: templates, background jobs, live events,
and each job's TensorBoard under ``/cosim/tensorboard/<id>/`` (behind Jupyter auth).

Every job operation runs on the jobs service's own thread; errors the user can act on come back
as 400 (bad params, naming the range), 404 (unknown template or job) or 409 (limits, state).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server_proxy.handlers import ProxyHandler
from tornado.websocket import WebSocketClosedError

from cosim.jobs.progress import read_metrics
from cosim.jobs.state import ACTIVE_STATES, JobDir
from cosim_protocol.ws import CLOSE_JOB_DELETED

from .base import (
    CoSimError,
    CoSimHandler,
    CoSimWebSocketHandler,
    PermissionMixin,
    write_json_error,
)
from .errors import user_errors
from .jobs_service import JobsService

MAX_METRICS = 5000
EVENT_INTERVAL = 0.5  # seconds between checks for new log lines and metrics on a socket


def _service(handler: Any) -> JobsService:
    return handler.settings["cosim_jobs"]


async def _call(handler: Any, fn: Any, *args: Any) -> Any:
    with user_errors():
        return await _service(handler).call(fn, *args)


def _detail(job: JobDir) -> dict[str, Any]:
    metrics, _ = read_metrics(job.metrics_file, limit=MAX_METRICS)
    summary = job.summary(metrics[-1] if metrics else None)
    summary["log_tail"] = job.log_tail()
    summary["metrics"] = metrics
    return summary


class _JobsHandler(CoSimHandler):
    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        _service(self).start(self.application.settings)

    @property
    def manager(self) -> Any:
        return _service(self).manager

    def body_object(self, shape: str) -> dict[str, Any]:
        body = self.read_json_body()
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise CoSimError(400, f"body must be {shape}")
        return body

    def folder(self, body: dict[str, Any], key: str) -> Path:
        value = body.get(key)
        if not isinstance(value, str) or not value.strip():
            raise CoSimError(400, f"{key} must be a folder path relative to the workspace")
        return self.confine(value)


class TemplatesHandler(_JobsHandler):
    async def get(self) -> None:
        from cosim.jobs import list_templates

        paths = self.manager.template_paths
        templates = await _call(self, list_templates, paths)
        self.finish({"templates": [t.as_json() for t in templates]})


class TemplateHandler(_JobsHandler):
    async def get(self, name: str) -> None:
        template = await _call(self, self.manager.template, name)
        self.finish(template.as_json())

    async def post(self, name: str) -> None:
        """Make a project folder from the template (no job): ``{"folder", "params"}``."""
        body = self.body_object('{"folder": "path", "params": {...}}')
        folder = self.folder(body, "folder")
        project = await _call(self, self.manager.new_project, name, folder, body.get("params"))
        self.set_status(201)
        self.finish({"folder": str(folder.relative_to(self.confine("."))), **project})


class JobsHandler(_JobsHandler):
    async def get(self) -> None:
        jobs = await _call(self, lambda: [j.summary() for j in self.manager.jobs()])
        self.finish({"jobs": jobs})

    async def post(self) -> None:
        """Start a job: ``{"template", "params", "folder"?}`` makes the project folder first
        (default: a new folder named after the template); ``{"project", "params"?}`` starts one
        in an existing project folder."""
        body = self.body_object('{"template": "name", "params": {...}, "folder": "path"}')
        if "project" in body:
            project = self.folder(body, "project")
            job = await _call(self, self.manager.start, project, body.get("params"))
        elif "template" in body:
            name = body["template"]
            params = body.get("params")
            template = await _call(self, self.manager.template, name)
            with user_errors():
                template.validate(params)  # before any folder is made
            folder = (
                self.folder(body, "folder")
                if "folder" in body
                else self._fresh_folder(template.name)
            )
            job = await _call(self, self._new_and_start, name, folder, params)
        else:
            raise CoSimError(400, 'give "template" (and "params") or "project"')
        self.set_status(201)
        self.finish(await _call(self, job.summary))

    def _fresh_folder(self, name: str) -> Path:
        root = self.confine(".")
        for n in range(1, 10_000):
            folder = root / f"{name}-{n}"
            if not folder.exists():
                return folder
        raise CoSimError(409, f"no free folder name for {name}")

    def _new_and_start(self, name: str, folder: Path, params: Any) -> JobDir:
        template = self.manager.template(name)
        self.manager.check_limits(template.cpus(template.validate(params)))  # before the folder
        self.manager.new_project(name, folder, params)
        return self.manager.start(folder)


class JobHandler(_JobsHandler):
    async def get(self, job_id: str) -> None:
        job = await _call(self, self.manager.job, job_id)
        self.finish(await _call(self, _detail, job))

    async def delete(self, job_id: str) -> None:
        await _call(self, self.manager.delete, job_id)
        _service(self).tensorboards.stop(job_id)
        _service(self).end_rollout(job_id)
        self.set_status(204)
        self.finish()


class JobLogHandler(_JobsHandler):
    async def get(self, job_id: str) -> None:
        try:
            lines = int(self.get_query_argument("lines", "200"))
        except ValueError:
            raise CoSimError(400, "lines must be a whole number") from None
        if not 1 <= lines <= 10_000:
            raise CoSimError(400, "lines must be in [1, 10000]")
        job = await _call(self, self.manager.job, job_id)
        self.finish({"id": job_id, "lines": await _call(self, job.log_tail, lines)})


class JobStopHandler(_JobsHandler):
    async def post(self, job_id: str) -> None:
        await _call(self, self.manager.stop, job_id)
        job = await _call(self, self.manager.job, job_id)
        self.finish(await _call(self, job.summary))


class JobResumeHandler(_JobsHandler):
    async def post(self, job_id: str) -> None:
        job = await _call(self, self.manager.resume, job_id)
        self.finish(await _call(self, job.summary))


class JobTensorBoardHandler(_JobsHandler):
    async def post(self, job_id: str) -> None:
        """Start (or find) the job's TensorBoard; the reply says where Lab opens it."""
        job = await _call(self, self.manager.job, job_id)
        with user_errors():
            await _service(self).tensorboards.ensure(job_id, job.tensorboard)
        self.finish({"id": job_id, "url": f"cosim/tensorboard/{job_id}/"})


class JobWatchHandler(_JobsHandler):
    async def post(self, job_id: str) -> None:
        """Roll out the latest checkpoint in the live viewer; the reply has its sim id."""
        with user_errors():
            reply = await _service(self).watch_policy(job_id)
        self.finish({"id": job_id, **reply})


class JobEventsHandler(CoSimWebSocketHandler):
    """Live job events: first ``{"type": "snapshot"}`` (state, log tail, all metrics), then
    ``log`` (new lines), ``metrics`` (new records) and ``state`` messages as they happen."""

    action = "read"
    job: JobDir
    _task: asyncio.Task[None] | None = None

    async def pre_upgrade(self, job_id: str) -> None:
        with user_errors():
            self.job = await _service(self).call(_service(self).manager.job, job_id)

    def open(self, job_id: str) -> None:
        self._task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        job = self.job
        metrics, m_offset = read_metrics(job.metrics_file, limit=MAX_METRICS)
        try:
            l_offset = job.log_file.stat().st_size
        except FileNotFoundError:
            l_offset = 0
        state = job.state()
        try:
            await self._send(
                {
                    "type": "snapshot",
                    "job": job.summary(),
                    "metrics": metrics,
                    "log": job.log_tail(),
                }
            )
            while True:
                await asyncio.sleep(EVENT_INTERVAL)
                new, m_offset = read_metrics(job.metrics_file, m_offset)
                if new:
                    await self._send({"type": "metrics", "metrics": new})
                l_offset = await self._send_log(l_offset)
                now = job.state()
                if now.get("state") != state.get("state"):
                    state = now
                    await self._send({"type": "state", "job": job.summary()})
        except (WebSocketClosedError, asyncio.CancelledError):
            return
        except FileNotFoundError:  # the job was deleted
            with contextlib.suppress(Exception):
                self.close(CLOSE_JOB_DELETED, "job deleted")

    async def _send_log(self, offset: int) -> int:
        try:
            with open(self.job.log_file, "rb") as f:
                f.seek(offset)
                data = f.read(256 * 1024)
        except FileNotFoundError:
            return offset
        end = data.rfind(b"\n") + 1
        if end:
            lines = data[:end].decode("utf-8", "replace").splitlines()
            await self._send({"type": "log", "lines": lines})
        return offset + end

    async def _send(self, message: dict[str, Any]) -> None:
        await self.write_message(json.dumps(message))

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen."""

    def on_close(self) -> None:
        if self._task is not None:
            self._task.cancel()


class TensorBoardProxyHandler(PermissionMixin, ProxyHandler):
    """A job's TensorBoard through jupyter-server-proxy's handler, to a Unix socket only this
    user can reach. Auth as for every CoSim endpoint: 403 without a Jupyter login. TensorBoard
    only serves reads; its POSTs are queries (scalars_multirun, hparams' session groups), so
    every verb needs ``read``: a view-only collaborator watches training like the owner."""

    every_verb_reads = True

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        prepared: Any = JupyterHandler.prepare(self)
        if prepared is not None:
            await prepared
        await self.check_permission("read")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        write_json_error(self, status_code, kwargs.get("exc_info"))

    async def _target(self, job_id: str, path: str | None) -> str:
        service = _service(self)
        with user_errors():
            job = await service.call(service.manager.job, job_id)
            self.unix_socket = str(await service.tensorboards.ensure(job_id, job.tensorboard))
        self.proxy_base = f"cosim/tensorboard/{job_id}"
        return path or "/"

    async def http_get(self, job_id: str, path: str | None = None) -> None:
        if path is None:  # TensorBoard's page uses relative URLs: it needs the trailing slash
            self.redirect(self.request.path + "/")
            return
        await self.proxy("localhost", 0, await self._target(job_id, path))

    async def post(self, job_id: str, path: str | None = None) -> None:
        await self.proxy("localhost", 0, await self._target(job_id, path))

    async def open(self, job_id: str, path: str | None = None) -> None:
        await self.proxy_open("localhost", 0, await self._target(job_id, path))


def routes() -> list[tuple[str, type]]:
    job = r"/cosim/api/jobs/(?P<job_id>[^/]+)"
    return [
        (r"/cosim/api/templates", TemplatesHandler),
        (r"/cosim/api/templates/(?P<name>[^/]+)", TemplateHandler),
        (r"/cosim/api/jobs", JobsHandler),
        (job, JobHandler),
        (job + r"/log", JobLogHandler),
        (job + r"/stop", JobStopHandler),
        (job + r"/resume", JobResumeHandler),
        (job + r"/tensorboard", JobTensorBoardHandler),
        (job + r"/watch", JobWatchHandler),
        (job + r"/events", JobEventsHandler),
        (r"/cosim/tensorboard/(?P<job_id>[^/]+)(?P<path>/.*)?", TensorBoardProxyHandler),
    ]


__all__ = ["ACTIVE_STATES", "routes"]
