"""CoSimLocalSpawner: one local process per user, under that user's own Unix account as root."""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import os
import pwd
import re
import sys
from pathlib import Path
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from tornado import web
from traitlets import Enum, Float, Unicode, default

from .dataset_mounts import DatasetMountsMixin
from .gpu_spawner import GpuSpawnerMixin
from .installation import account_comment, created_by
from .private_runtime import PrivateRuntimeMixin
from .procs import LAUNCH_ENV
from .profile_form import ProfileFormMixin
from .server_output import make_output_redirect
from .server_ready import ServerReadyMixin
from .user_limits import UserLimitsMixin

_ACCOUNT_LOCK = asyncio.Lock()
_UNIX_NAME_MAX = 32


def unix_account_name(prefix: str, hub_name: str) -> str:
    """A valid, stable Unix account name for a hub user name.

    Names that had to be changed or cut get a short hash so two hub users never share one.
    """
    cleaned = re.sub(r"[^a-z0-9_-]", "-", hub_name.lower())
    name = prefix + cleaned
    if cleaned != hub_name or len(name) > _UNIX_NAME_MAX:
        digest = hashlib.sha256(hub_name.encode()).hexdigest()[:6]
        name = f"{name[: _UNIX_NAME_MAX - 7]}-{digest}"
    return name


class AccountError(RuntimeError):
    pass


class AccountConflict(web.HTTPError):
    """An account with the user's name exists and this installation did not create it.

    An HTTPError with ``jupyterhub_message``: the hub shows the sentence on the spawn page (and in
    the API's error) instead of "500: Unhandled error starting server".
    """

    def __init__(self, account: str) -> None:
        sentence = (
            f"Your server cannot start because the Unix account {account} already exists and was "
            "not created by this CoSim installation: an admin should delete it (userdel "
            f"{account}) if it is left over, or set c.CoSimLocalSpawner.account_prefix to a "
            "prefix of this installation's own."
        )
        super().__init__(409, sentence.replace("%", "%%"))
        self.jupyterhub_message = sentence


class CoSimLocalSpawner(
    ServerReadyMixin,
    UserLimitsMixin,
    PrivateRuntimeMixin,
    DatasetMountsMixin,
    GpuSpawnerMixin,
    ProfileFormMixin,
    LocalProcessSpawner,
):
    """Local user servers with per-user isolation.

    As root (isolation 'auto' or 'system-users') each hub user gets an unprivileged Unix account,
    created on first spawn, whose home is ``homes_dir/<name>`` (mode 700): users cannot read each
    other's files and nothing runs as root. As a normal user ('shared') every server runs as that
    user with its own home directory under ``homes_dir``.
    """

    homes_dir = Unicode(
        help="Directory holding each user's home (`<homes_dir>/<hub name>`). "
        "`cosim_hub.configure` sets it to <state_dir>/users.",
    ).tag(config=True)

    isolation = Enum(
        ["auto", "system-users", "shared"],
        default_value="auto",
        help="""'system-users': each hub user runs as their own Unix account (needs root).
        'shared': all servers run as the hub's own (non-root) user. 'auto': system-users when
        the hub runs as root, else shared. Running user servers as root is never allowed.""",
    ).tag(config=True)

    account_prefix = Unicode(
        "cosim-",
        help="""Prefix of the Unix account names created for hub users (system-users mode).
        `cosim_hub.configure` sets it to cosim-<installation id>-, so two installations on one
        machine never share an account.""",
    ).tag(config=True)

    installation_id = Unicode(
        "",
        help="""Id of this installation (`cosim_hub.configure` reads it from
        <state_dir>/hub/installation-id, written at first start). Accounts this spawner creates
        record it in their comment field; an existing account is used only when it records the
        same id (or, for accounts made before ids, has exactly the user's home).""",
    ).tag(config=True)

    launch_id = Unicode(
        help="Tag passed to user servers so `cosim up` can find them at shutdown "
        "(default: $COSIM_LAUNCH_ID).",
    ).tag(config=True)

    stop_poll_interval = Float(
        0.05,
        help="""Seconds between checks whether a stopping server has exited. JupyterHub's own
        wait backs off with jitter up to 5 s between checks, so a server that exits 1 s after
        SIGINT was seen up to 2 s later, and every stop (the user's, the cost guard's, Ctrl-C's)
        took that much longer. A check is one kill(pid, 0).""",
    ).tag(config=True)

    @default("options_form")
    def _default_options_form(self) -> Any:
        return lambda spawner: spawner.render_profile_form()

    @default("launch_id")
    def _default_launch_id(self) -> str:
        return os.environ.get(LAUNCH_ENV, "")

    @default("homes_dir")
    def _default_homes_dir(self) -> str:
        return os.path.join(os.environ.get("COSIM_STATE_DIR", "/tmp/cosim"), "users")

    @property
    def system_users(self) -> bool:
        if self.isolation == "auto":
            return os.geteuid() == 0
        return self.isolation == "system-users"

    @property
    def account(self) -> str:
        if self.system_users:
            return unix_account_name(self.account_prefix, self.user.name)
        return getpass.getuser()

    @property
    def home(self) -> Path:
        return Path(self.homes_dir) / self.user.name

    async def start(self) -> Any:
        started = asyncio.get_running_loop().time()
        if self.system_users:
            if os.geteuid() != 0:
                raise AccountError("isolation 'system-users' needs the hub to run as root")
            async with _ACCOUNT_LOCK:
                await self._ensure_account()
        else:
            if os.geteuid() == 0:
                raise AccountError("refusing to run a user server as root (isolation 'shared')")
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.notebook_dir = str(self.home)
        self.prepare_runtime_dir()
        self.prepare_user_limits()
        self.prepare_dataset_mounts()
        await self.allocate_gpus()
        try:
            ip, port = await super().start()
            await self.wait_until_answering(ip, port, started)
            return ip, port
        except BaseException:
            await self.release_gpus()
            raise

    async def stop(self, now: bool = False) -> None:
        try:
            await super().stop(now=now)
            # The server's process group is gone; setsid escapees and leftovers are not.
            await asyncio.to_thread(self.stop_user_processes)
        finally:
            await self.release_gpus()

    async def wait_for_death(self, timeout: float = 10) -> bool:
        """Wait up to ``timeout`` s for the server process to exit (polled every
        ``stop_poll_interval`` s); whether it did."""
        deadline = asyncio.get_running_loop().time() + timeout
        while await self.poll() is None:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            await asyncio.sleep(min(self.stop_poll_interval, left))
        return True

    def get_args(self) -> list[str]:
        args: list[str] = super().get_args()
        return args + self.kernel_transport_args()

    async def _ensure_account(self) -> None:
        name, home = self.account, self.home
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            entry = None
        ours = entry is not None and created_by(self.installation_id, entry.pw_gecos)
        if entry is not None and not ours and Path(entry.pw_dir) != home:
            # Never take over an account that CoSim did not create for this installation.
            self.log.error("Unix account %s exists with home %s, not %s", name, entry.pw_dir, home)
            raise AccountConflict(name)
        if entry is not None and ours and Path(entry.pw_dir) != home:
            # Ours, but the state dir moved: follow it.
            await self._run("usermod", "--home", str(home), name)
            entry = pwd.getpwnam(name)
        if entry is None:
            comment = account_comment(self.installation_id, self.user.name)
            await self._run(
                "useradd", "--home-dir", str(home), "--no-create-home", "--shell", "/bin/bash",
                "--user-group", "--comment", comment, name,
            )  # fmt: skip
            entry = pwd.getpwnam(name)
            self.log.info("Created Unix account %s for hub user %s", name, self.user.name)
        home.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(home.parent, 0o711)
        home.mkdir(mode=0o700, exist_ok=True)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        os.chmod(home, 0o700)

    async def _run(self, *argv: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise AccountError(f"{argv[0]} {argv[-1]} failed: {out.decode().strip()}")

    def make_preexec_fn(self, name: str) -> Any:
        if self.system_users:
            become_user = set_user_setuid(self.account)
        else:
            home = str(self.home)

            def become_user() -> None:
                os.chdir(home)

        apply_limits = self.profile_limits_fn()
        enter_user_limits = self.user_limits_fn()
        mount_datasets = self.datasets_fn()
        redirect_output = make_output_redirect(self.home)

        def preexec() -> None:
            apply_limits()  # before dropping root: lowering limits needs no privilege anyway
            enter_user_limits()  # joining a cgroup does need root
            mount_datasets()  # so do a mount namespace and its read-only binds
            become_user()
            redirect_output()  # as the user: never the hub's own log descriptors

        return preexec

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        env["USER"] = self.account
        env["HOME"] = str(self.home)
        env["SHELL"] = "/bin/bash"
        return env

    def get_env(self) -> dict[str, str]:
        env: dict[str, str] = super().get_env()
        if self.launch_id:
            env[LAUNCH_ENV] = self.launch_id
        # Terminals and kernels find CoSim's environment first.
        bin_dir = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join([bin_dir, "/usr/local/bin", "/usr/bin", "/bin"])
        env.update(self.profile_environment())
        env.update(self.runtime_env(env))
        env.update(self.datasets_env())
        env.update(self.gpu_environment())  # its own GPUs, or none: never every GPU
        return env
