"""``/cosim/api/build``: build a folder's C++ sources from the file browser, then run the result.

``POST /cosim/api/build`` ``{"path": "folder", "compiler"?, "flags"?, "mujoco"?, "name"?}``
starts a build and answers ``202 {"id", "status": "building"}`` at once; the build itself
(``cosim_cpp.build``, async subprocesses) runs on the server's loop. ``GET
/cosim/api/build/<id>`` gives its status, diagnostics and binary. A WebSocket at
``/cosim/api/build/<id>/run`` runs the binary in the sandbox and streams its output as JSON
messages ``{"stream", "text"}``, then ``{"exit", "ok", "message"}``; closing it kills the run.

Status lives in Redis (``cosim:<user>:build:<id>``, for every process of the server) and on disk
in ``<root>/.cosim/build/status/<id>.json`` (it outlives Redis and restarts).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError
from tornado.websocket import WebSocketClosedError

from cosim.snapshots.store import atomic_write
from cosim_cpp.build import (
    BUILD_DIR,
    BuildError,
    BuildRequest,
    CoSimCppBuild,
    build,
    check_flags,
    find_sources,
)
from cosim_cpp.sandbox import CoSimCppSandbox, Sandbox
from cosim_cpp.toolchain import COMPILERS, ToolMissing
from cosim_protocol.keys import Keys, namespace_user

from .base import CoSimError, CoSimHandler, CoSimWebSocketHandler
from .errors import http_error

STATUS_TTL_S = 7 * 24 * 3600
MAX_ARGS = 64


class BuildService:
    """The server's builds: config, running tasks, and where their status is kept."""

    def __init__(self, settings: dict[str, Any]) -> None:
        parent = settings.get("serverapp")
        self.config = CoSimCppBuild(parent=parent)
        self.limits = CoSimCppSandbox(parent=parent)
        self.root = Path(settings["server_root_dir"]).expanduser().resolve()
        self.redis = settings["cosim"].redis
        self.timeout = settings["cosim"].redis_timeout
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.keys = Keys(namespace_user())

    @classmethod
    def of(cls, settings: dict[str, Any]) -> BuildService:
        service = settings.get("cosim_build")
        if service is None:
            service = settings["cosim_build"] = cls(settings)
        return service

    def status_path(self, build_id: str) -> Path:
        return self.root / BUILD_DIR / "status" / f"{build_id}.json"

    async def save(self, status: dict[str, Any]) -> None:
        atomic_write(self.status_path(status["id"]), json.dumps(status).encode(), durable=False)
        # The disk copy is the durable one; GET falls back to it when Redis is away.
        with contextlib.suppress(TimeoutError, RedisError, OSError):
            await asyncio.wait_for(
                self.redis.set(self.keys.build(status["id"]), json.dumps(status), ex=STATUS_TTL_S),
                self.timeout,
            )

    async def load(self, build_id: str) -> dict[str, Any] | None:
        try:
            raw = await asyncio.wait_for(self.redis.get(self.keys.build(build_id)), self.timeout)
            if raw:
                return json.loads(raw)
        except (TimeoutError, RedisError, OSError, ValueError):
            pass
        try:
            return json.loads(self.status_path(build_id).read_bytes())
        except (OSError, ValueError):
            return None

    def _workspace_path(self, folder: Path, file: str) -> str | None:
        """A diagnostic's file as a workspace path Lab can open (None: outside, e.g. a system
        header, or the linker)."""
        try:
            path = (folder / file).resolve()
            return str(path.relative_to(self.root)) if path.is_file() else None
        except (OSError, ValueError):
            return None

    async def run_build(self, status: dict[str, Any], request: BuildRequest) -> None:
        try:
            result = await build(request)
            status.update(result.to_json())
            status["status"] = "succeeded" if result.ok else "failed"
            if result.binary is not None:
                status["binary"] = str(result.binary.relative_to(self.root))
            for diagnostic in status.get("diagnostics", []):
                diagnostic["path"] = self._workspace_path(request.root, diagnostic["file"])
        except (BuildError, ToolMissing) as err:
            status.update(status="error", error=str(err))
        except Exception as err:  # a bug must still end the build's status, not leave it hanging
            status.update(status="error", error=f"internal error: {type(err).__name__}")
            raise
        finally:
            status["finished"] = time.time()
            await self.save(status)
            self.tasks.pop(status["id"], None)


def _checked_id(build_id: str) -> str:
    if len(build_id) != 32 or any(c not in "0123456789abcdef" for c in build_id):
        raise CoSimError(400, "build id must be 32 lowercase hex characters")
    return build_id


class BuildsHandler(CoSimHandler):
    async def post(self) -> None:
        body = self.read_json_body()
        if not isinstance(body, dict) or not isinstance(body.get("path"), str):
            raise CoSimError(400, 'body must be {"path": "folder", "compiler"?, "flags"?, ...}')
        folder = self.confine(body["path"])
        if not folder.is_dir():
            raise CoSimError(404, f"no folder {body['path']!r} in the workspace")
        service = BuildService.of(self.settings)
        compiler = body.get("compiler", service.config.compiler)
        if compiler not in COMPILERS:
            raise CoSimError(400, f"compiler must be one of {', '.join(COMPILERS)}")
        name = body.get("name", "app")
        if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
            raise CoSimError(400, "name must be a plain file name (letters, digits, - and _)")
        mujoco = body.get("mujoco", False)
        if not isinstance(mujoco, bool):
            raise CoSimError(400, "mujoco must be true or false")
        try:
            flags = check_flags(body.get("flags", service.config.flags))
        except BuildError as err:
            raise http_error(err) from None
        sources = find_sources(folder)
        if not sources:
            raise CoSimError(400, f"no C++ sources (.cpp, .cc, .cxx) in {body['path']!r}")
        build_id = uuid.uuid4().hex
        rel = str(folder.relative_to(service.root)) if folder != service.root else "."
        status: dict[str, Any] = {"id": build_id, "status": "building", "path": rel,
                                  "compiler": compiler, "flags": flags, "mujoco": mujoco,
                                  "started": time.time()}  # fmt: skip
        await service.save(status)
        request = BuildRequest(
            root=folder, sources=sources, output_name=name, compiler=compiler, flags=flags,
            link_flags=service.config.link_flags, mujoco=mujoco,
            precompiled_header=service.config.precompiled_header,
            jobs=service.config.default_jobs(),
        )  # fmt: skip
        service.tasks[build_id] = asyncio.ensure_future(service.run_build(status, request))
        self.set_status(202)
        self.finish({"id": build_id, "status": "building"})


class BuildHandler(CoSimHandler):
    async def get(self, build_id: str) -> None:
        status = await BuildService.of(self.settings).load(_checked_id(build_id))
        if status is None:
            raise CoSimError(404, f"no build {build_id} on this server")
        self.finish(status)


class BuildRunHandler(CoSimWebSocketHandler):
    """Runs a finished build's binary and streams its output; closing the socket kills it."""

    sandbox: Sandbox | None = None
    task: asyncio.Task[None] | None = None

    async def pre_upgrade(self, build_id: str) -> None:
        service = BuildService.of(self.settings)
        status = await service.load(_checked_id(build_id))
        if status is None:
            raise CoSimError(404, f"no build {build_id} on this server")
        if status.get("status") != "succeeded" or not status.get("binary"):
            raise CoSimError(409, f"build {build_id} is {status.get('status')}; nothing to run")
        binary = (service.root / status["binary"]).resolve()
        if service.root not in binary.parents or not binary.is_file():
            raise CoSimError(404, "the build's binary is gone; build again")
        args = self.get_query_arguments("arg")
        if len(args) > MAX_ARGS:
            raise CoSimError(400, f"at most {MAX_ARGS} arguments")
        self.argv = [str(binary), *args]
        self.cwd = (service.root / status["path"]).resolve()
        self.service = service

    def open(self, *args: Any, **kwargs: Any) -> None:
        self.sandbox = Sandbox(self.service.limits)
        self.task = asyncio.ensure_future(self.run())

    async def run(self) -> None:
        assert self.sandbox is not None

        def send(stream: str, text: str) -> None:
            self.send({"stream": stream, "text": text})

        try:
            result = await self.sandbox.run(self.argv, self.cwd, send)
        except (OSError, RuntimeError) as err:  # e.g. the sandbox account cannot enter the folder
            self.send({"exit": None, "ok": False, "message": f"could not start the program: {err}"})
        else:
            self.send({"exit": result.exit_code, "signal": result.signal, "ok": result.ok,
                       "message": result.message, "seconds": round(result.seconds, 3)})  # fmt: skip
        self.close()

    def send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(WebSocketClosedError):
            self.write_message(json.dumps(message))

    def on_message(self, message: str | bytes) -> None:
        """Nothing to say to a run (no stdin); any message is ignored."""

    def on_close(self) -> None:
        if self.sandbox is not None and self.task is not None and not self.task.done():
            self.sandbox.interrupt()


def routes() -> list[tuple[str, type]]:
    one = r"/cosim/api/build/(?P<build_id>[^/]+)"
    return [
        (r"/cosim/api/build", BuildsHandler),
        (one, BuildHandler),
        (one + r"/run", BuildRunHandler),
    ]
