"""``cosim up``: redis-server + JupyterHub (+ proxy, + user servers) on one machine.

Everything started here carries ``COSIM_LAUNCH_ID`` in its environment, and in root mode runs
either as root (redis, hub, proxy) or as an account whose home is under our state dir (user
servers). Shutdown stops the hub gracefully, then sweeps both groups, so nothing is orphaned.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from traitlets import TraitError
from traitlets.config import Config, PyFileConfigLoader

from .auth import ADMIN_PASSWORD_ENV
from .config import CoSimHub, default_state_dir
from .origins import local_subdomain_host
from .procs import (
    LAUNCH_ENV,
    free_port,
    light_teardown,
    pid_alive,
    port_in_use,
    tagged_pids,
    terminate,
)
from .redis_server import RedisServer, RedisServerError


class UpError(RuntimeError):
    """A start-up problem with a one-line message that says what to do."""


@dataclass
class UpOptions:
    port: int = 8000
    ip: str = "127.0.0.1"
    state_dir: str = field(default_factory=default_state_dir)
    admin: str = "admin"
    config_file: str | None = None
    log_level: str = "INFO"
    ready_timeout: float = 120.0
    # Each user server on its own origin (<user>.cosim.localhost) when listening on loopback.
    subdomains: bool = True


def _say(msg: str) -> None:
    print(f"cosim: {msg}", flush=True)


def _check_state_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise UpError(
            f"state dir {path} is not writable ({err.strerror}); "
            "choose another with --state-dir or COSIM_STATE_DIR"
        ) from None


def _others_can_enter(path: Path) -> Path | None:
    """The first directory on the way to ``path`` that other users cannot traverse, if any."""
    for part in [path, *path.parents]:
        if part.is_dir() and not part.stat().st_mode & stat.S_IXOTH:
            return part
    return None


def _check_root_mode(state: Path) -> None:
    singleuser = Path(sys.executable).parent / "jupyterhub-singleuser"
    blocked = _others_can_enter(singleuser.parent)
    if blocked is not None or not os.stat(sys.executable).st_mode & stat.S_IXOTH:
        raise UpError(
            f"user servers run as unprivileged accounts but cannot run {sys.executable} "
            f"({blocked or 'not executable'} is closed to other users); install CoSim into a "
            "world-readable environment (`make install` uses /opt/cosim/venv)"
        )
    blocked = _others_can_enter(state.parent)
    if blocked is not None:
        raise UpError(
            f"user homes go under {state}/users but {blocked} is closed to other users; "
            "choose a --state-dir outside it (e.g. /var/lib/cosim)"
        )


def _read_or_create_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(24)
    path.write_text(value)
    os.chmod(path, 0o600)
    return value


def _validate_user_config(config_file: str | None) -> Config:
    """Load ``--config`` and our traits from it now, so bad values fail before anything starts."""
    cfg = Config()
    if config_file:
        path = Path(config_file).expanduser().resolve()
        if not path.is_file():
            raise UpError(f"config file {path} does not exist")
        try:
            cfg = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
        except Exception as err:
            raise UpError(f"config file {path} failed to load: {err}") from None
    try:
        CoSimHub(config=cfg)
    except TraitError as err:
        raise UpError(f"bad config value: {err}") from None
    return cfg


def _hub_config_text(opts: UpOptions, state: Path, redis_url: str, ports: dict[str, int]) -> str:
    bind_ip = opts.ip or "0.0.0.0"
    lines = [
        "# Written by `cosim up` at each start; put your own settings in a file passed with",
        "# `cosim up --config FILE` (loaded before CoSim's defaults, so yours win).",
        "from cosim_hub import configure",
        f"c.CoSimHub.state_dir = {str(state)!r}",
        f"c.CoSimHub.redis_url = {redis_url!r}",
        f"c.CoSimHub.bind_url = {f'http://{bind_ip}:{opts.port}/'!r}",
        f"c.CoSimHub.hub_port = {ports['hub']}",
        f"c.CoSimHub.proxy_api_port = {ports['proxy_api']}",
        f"c.CoSimHub.admin_users = [{opts.admin!r}]",
        "c.JupyterHub.cleanup_servers = True",
        "c.JupyterHub.cleanup_proxy = True",
    ]
    subdomain_host = local_subdomain_host(opts.ip, opts.port) if opts.subdomains else ""
    if subdomain_host:
        lines.append(f"c.CoSimHub.subdomain_host = {subdomain_host!r}")
    if opts.config_file:
        lines.append(f"load_subconfig({str(Path(opts.config_file).resolve())!r})")
    lines.append("configure(c)")
    return "\n".join(lines) + "\n"


def _hub_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    errors = [line for line in text if "Error" in line or "error" in line]
    return " | ".join((errors or text)[-lines:])


class Stack:
    """The processes of one ``cosim up``; ``stop()`` is safe to call at any point."""

    def __init__(self, opts: UpOptions) -> None:
        self.opts = opts
        self.state = Path(opts.state_dir).expanduser().resolve()
        self.launch_id = uuid.uuid4().hex
        self.redis: RedisServer | None = None
        self.hub: subprocess.Popen[bytes] | None = None
        self._lock_file: IO[str] | None = None
        self._hub_log: IO[bytes] | None = None
        # Where the launcher itself checks the hub (no name to resolve), and the public URL.
        self.local_url = (
            f"http://{opts.ip if opts.ip not in ('', '0.0.0.0') else '127.0.0.1'}:{opts.port}"
        )
        self.url = (opts.subdomains and local_subdomain_host(opts.ip, opts.port)) or self.local_url
        self.admin_password: str | None = None
        self.system_users = os.geteuid() == 0

    # ---- start -------------------------------------------------------------------------
    def start(self) -> None:
        opts, state = self.opts, self.state
        _check_state_dir(state)
        self._take_lock()
        _validate_user_config(opts.config_file)
        if port_in_use(opts.port, opts.ip):
            raise UpError(f"port {opts.port} is in use; stop what uses it or pass --port N")
        if shutil.which("configurable-http-proxy") is None:
            raise UpError(
                "configurable-http-proxy not found: npm install -g configurable-http-proxy "
                "(`make install` does)"
            )
        os.chmod(state, 0o711)  # users traverse to their homes; nobody lists the state dir
        if self.system_users:
            _check_root_mode(state)
        hub_dir, logs = state / "hub", state / "logs"
        for d in (hub_dir, logs):
            d.mkdir(exist_ok=True)
            os.chmod(d, 0o700)

        (hub_dir / "launch-id").write_text(self.launch_id)
        env = dict(os.environ)
        env[LAUNCH_ENV] = self.launch_id
        env["COSIM_STATE_DIR"] = str(state)
        redis_url = os.environ.get("REDIS_URL", "")
        if redis_url:
            _say(f"using Redis at REDIS_URL ({redis_url.split('@')[-1]})")
        else:
            password = _read_or_create_secret(hub_dir / "redis_password")
            try:
                self.redis = RedisServer(state / "redis", password=password, env=env).start()
            except RedisServerError as err:
                raise UpError(str(err)) from None
            redis_url = self.redis.url
        env["REDIS_URL"] = redis_url

        marker = hub_dir / "admin-initialized"
        if os.environ.get(ADMIN_PASSWORD_ENV):
            env[ADMIN_PASSWORD_ENV] = os.environ[ADMIN_PASSWORD_ENV]
        elif not marker.exists():
            self.admin_password = secrets.token_urlsafe(12)
            env[ADMIN_PASSWORD_ENV] = self.admin_password
        else:
            env.pop(ADMIN_PASSWORD_ENV, None)

        ports = {"hub": free_port(), "proxy_api": free_port()}
        config = hub_dir / "jupyterhub_config.py"
        config.write_text(_hub_config_text(opts, state, redis_url, ports))
        os.chmod(config, 0o600)
        self._hub_log = open(logs / "hub.log", "ab")  # noqa: SIM115 (closed in stop)
        self.hub = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterhub",
                "-f",
                str(config),
                f"--log-level={opts.log_level}",
            ],
            cwd=hub_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._hub_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready(logs / "hub.log")
        marker.touch()

    def _take_lock(self) -> None:
        # flock dies with its process, so a crashed run never blocks the next start.
        lock = open(self.state / "cosim.lock", "a+")  # noqa: SIM115 (held until stop)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            lock.close()
            raise UpError(
                f"another `cosim up` (pid {holder}) is using {self.state}; "
                "stop it first or pass another --state-dir"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock_file = lock

    def _wait_ready(self, log: Path) -> None:
        assert self.hub is not None
        deadline = time.monotonic() + self.opts.ready_timeout
        while time.monotonic() < deadline:
            if self.hub.poll() is not None:
                raise UpError(f"JupyterHub exited at start: {_log_tail(log)} (log: {log})")
            if _hub_answers(f"{self.local_url}/hub/api/"):
                return
            time.sleep(0.2)
        raise UpError(f"JupyterHub did not answer on {self.url} in time (log: {log})")

    # ---- stop --------------------------------------------------------------------------
    def _user_uids(self) -> list[int]:
        import pwd

        homes = str(self.state / "users") + os.sep
        return [e.pw_uid for e in pwd.getpwall() if e.pw_dir.startswith(homes) and e.pw_uid]

    def stop(self) -> None:
        if self.hub is not None:
            # The hub stops user servers and the proxy itself when asked nicely.
            terminate([self.hub.pid], grace=30.0)
            self.hub.wait()
            self.hub = None
        uids = self._user_uids() if self.system_users else []
        stragglers = [p for p in tagged_pids(self.launch_id, uids) if pid_alive(p)]
        if self.redis is not None:
            stragglers = [p for p in stragglers if p != self.redis.pid]
        if stragglers:
            terminate(stragglers, grace=5.0)
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        if self._hub_log is not None:
            self._hub_log.close()
            self._hub_log = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def _banner(stack: Stack) -> None:
    opts = stack.opts
    mode = (
        "multi-user: each hub user runs as their own Unix account"
        if stack.system_users
        else f"single-user mode: every server runs as {os.environ.get('USER') or os.getuid()}"
    )
    _say(f"CoSim is up at {stack.url}/  ({mode})")
    if stack.admin_password:
        _say(f"log in as {opts.admin!r} with password {stack.admin_password}  (shown only once)")
    elif os.environ.get(ADMIN_PASSWORD_ENV):
        _say(f"log in as {opts.admin!r} with the password in ${ADMIN_PASSWORD_ENV}")
    else:
        _say(f"log in as {opts.admin!r} with the password you set before")
    _say("others sign up at /hub/signup; approve them at /hub/authorize")
    _say(f"state: {stack.state}  logs: {stack.state / 'logs'}  — Ctrl-C stops everything")


def up(opts: UpOptions) -> int:
    light_teardown()  # Ctrl-C waits for our exit too
    stack = Stack(opts)
    stop_now = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stop_now.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        stack.start()
        _banner(stack)
        while not stop_now.is_set():
            if stack.hub is not None and stack.hub.poll() is not None:
                _say(f"JupyterHub stopped unexpectedly (code {stack.hub.returncode}); see logs")
                code = 1
                break
            stop_now.wait(0.5)
    except UpError as err:
        print(f"cosim: error: {err}", file=sys.stderr, flush=True)
        code = 2
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code == 0:
        _say("stopped")
    return code
