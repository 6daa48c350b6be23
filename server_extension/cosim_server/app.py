"""The ``cosim_server`` ExtensionApp: config, shared objects, and the routes of every feature."""

from __future__ import annotations

import atexit
import gc
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Int, List, Unicode, default

from cosim_protocol.redis_client import make_async, redis_url

from . import (
    access,
    build,
    contents,
    control,
    costguard,
    courses,
    formgrading,
    job_results,
    jobs,
    lab_writes,
    shares,
    snapshots,
    status,
    user_content,
    viewer,
)
from .access_watch import SETTING as ACCESS_WATCH_SETTING
from .access_watch import AccessWatch
from .auth import SETTING as VIEW_ONLY_SETTING
from .auth import ViewOnlyShares
from .jobs_service import CoSimJobs, JobsService
from .relay import RelayHub
from .rtc_origin import guard_document_rooms
from .user_sockets import SETTING as USER_SOCKETS_SETTING
from .user_sockets import UserSockets

# Each feature module exposes routes(); adding a feature is one line here.
FEATURE_MODULES = {"status": status, "viewer": viewer, "snapshots": snapshots}
FEATURE_MODULES["build"] = build
FEATURE_MODULES["jobs"] = jobs
FEATURE_MODULES["job_results"] = job_results
FEATURE_MODULES["costguard"] = costguard
FEATURE_MODULES["courses"] = courses
FEATURE_MODULES["formgrading"] = formgrading
FEATURE_MODULES["control"] = control
FEATURE_MODULES["shares"] = shares
FEATURE_MODULES["access"] = access


@dataclass
class CoSimContext:
    """What CoSim handlers share, passed through tornado settings (no module globals)."""

    redis_url: str
    redis: aioredis.Redis
    redis_timeout: float
    relays: RelayHub
    rooms: control.Rooms
    features: set[str] = field(default_factory=set)


class CoSimServer(ExtensionApp):
    name = "cosim_server"
    load_other_extensions = True
    classes = [CoSimJobs]

    redis_url = Unicode(
        help="""Redis URL for CoSim's bus and state (frames, jobs, build status).

        Default: the REDIS_URL environment variable, which `cosim up` and the hub's spawner set,
        else redis://127.0.0.1:6379/0.""",
    ).tag(config=True)

    redis_timeout = Float(
        2.0,
        help="Seconds a request handler waits for Redis before answering that it is unreachable.",
    ).tag(config=True)

    max_frame_bytes = Int(
        8 * 1024 * 1024,
        help="""Largest sim frame (bytes) relayed to browsers; bigger frames are dropped with a
        warning in the server log. Pose frames are 56 + 28 bytes per moving body.""",
    ).tag(config=True)

    allowed_proxy_ports = List(
        Int(),
        help="""Local ports that /proxy/<port>/ (jupyter-server-proxy) may reach on this server.
        Default: none, since a page served there runs in the browser of whoever opens it.
        CoSim's TensorBoard has its own route and needs no entry. What allowed ports serve is
        sandboxed by proxied_content_csp.""",
    ).tag(config=True)

    proxied_content_csp = Unicode(
        "sandbox allow-scripts allow-forms allow-popups allow-downloads",
        help="""Content-Security-Policy added to answers from allowed proxied ports: a sandbox
        without allow-same-origin, so the page cannot use this server's cookies or API.
        Empty: none (only for ports serving trusted content).""",
    ).tag(config=True)

    control_edit_settle_s = Float(
        0.5,
        help="""Seconds an edit of a sim-control.json RTC document (Lab's editor) must be still
        before the server validates and applies it, so a value half typed is not refused. Keep
        it under jupyter-collaboration's document_save_delay (1 s by default), so an invalid
        text is set back before the room saves it to disk.""",
    ).tag(config=True)

    access_recheck_s = Float(
        2.0,
        help="""Seconds between re-checks, with the hub, of each visitor active on this server
        (someone it is shared with). Access taken away outside the Share dialog (hub REST API,
        group membership, a group share, a revoked token) ends within this time: cached auth is
        dropped and every WebSocket of theirs closes (viewers, documents, kernels, terminals).
        One hub request per active visitor per re-check.""",
    ).tag(config=True)

    @default("redis_url")
    def _default_redis_url(self) -> str:
        return redis_url()

    def initialize_settings(self) -> None:
        # The server's exit after its clean-up spent 1.5-2 s of CPU in the collector's passes
        # over everything Lab and its extensions imported, and every stop waited for it; frozen
        # objects are not traversed (cosim_hub.procs.light_teardown says more).
        atexit.unregister(gc.freeze)
        atexit.register(gc.freeze)
        redis = make_async(self.redis_url, timeout=self.redis_timeout, health_check_interval=30)
        self.cosim = CoSimContext(
            redis_url=self.redis_url,
            redis=redis,
            redis_timeout=self.redis_timeout,
            relays=RelayHub(redis, self.max_frame_bytes),
            rooms=control.Rooms(
                redis,
                self.settings["server_root_dir"],
                rtc_extension=self._collaboration,
                edit_settle_s=self.control_edit_settle_s,
            ),
            features=set(FEATURE_MODULES),
        )
        self.settings["cosim"] = self.cosim
        self.settings[user_content.ALLOWED_PORTS_SETTING] = set(self.allowed_proxy_ports)
        self.settings[user_content.PROXY_CSP_SETTING] = self.proxied_content_csp
        root = self.settings["server_root_dir"]
        sockets = self.settings[USER_SOCKETS_SETTING] = UserSockets()
        # A share made view-only or editable, however: its holders' sockets reconnect (access.py).
        self.settings[VIEW_ONLY_SETTING] = ViewOnlyShares(changed=sockets.reconnect)
        self.settings[ACCESS_WATCH_SETTING] = AccessWatch(
            self.access_recheck_s, close_user=sockets.close, connected=sockets.has_open
        )
        self.settings["cosim_jobs"] = JobsService(CoSimJobs(parent=self), root, self.redis_url)
        self.log.info("CoSim server extension loaded (features: %s)", ", ".join(FEATURE_MODULES))

    def _collaboration(self) -> Any:
        """jupyter-collaboration's extension, when it runs on this server (else None)."""
        app = self.serverapp
        return app.web_app.settings.get("jupyter_server_ydoc") if app is not None else None

    def initialize_handlers(self) -> None:
        for module in FEATURE_MODULES.values():
            self.handlers.extend(module.routes())
        self.handlers.extend(user_content.routes())
        if self.serverapp is not None:  # formgrader's unsandboxed steps: 403 (see formgrading)
            formgrading.refuse_formgrader_steps(self.serverapp.web_app)

    def _link_jupyter_server_extension(self, serverapp: Any) -> None:
        super()._link_jupyter_server_extension(serverapp)
        # Before the server creates its contents manager and routes.
        user_content.sandbox_files_by_default(serverapp.config)
        contents.use_by_default(serverapp)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        # The jobs watcher needs the running loop, and writes activity into the live settings.
        self.settings["cosim_jobs"].start(serverapp.web_app.settings)
        self.settings[VIEW_ONLY_SETTING].start()
        self.settings[ACCESS_WATCH_SETTING].start()
        # Every extension's routes are in by now: Lab's unchecked writes ask the authorizer.
        lab_writes.guard_lab_writes(serverapp.web_app)
        collaboration = self._collaboration()
        if collaboration is not None:  # view-only visitors cannot change documents in rooms
            guard_document_rooms(collaboration.ywebsocket_server)

    async def stop_extension(self) -> None:
        if "cosim_jobs" in self.settings:
            self.settings["cosim_jobs"].stop()
        if VIEW_ONLY_SETTING in self.settings:
            self.settings[VIEW_ONLY_SETTING].stop()
        if ACCESS_WATCH_SETTING in self.settings:
            self.settings[ACCESS_WATCH_SETTING].stop()
        cosim: Any = getattr(self, "cosim", None)
        if cosim is not None:
            cosim.relays.stop()
            cosim.rooms.stop()
            await cosim.redis.aclose()
