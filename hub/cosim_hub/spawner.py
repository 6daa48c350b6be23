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
from traitlets import Enum, Unicode, default

from .gpu_spawner import GpuSpawnerMixin
from .procs import LAUNCH_ENV
from .profile_form import ProfileFormMixin

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


class CoSimLocalSpawner(GpuSpawnerMixin, ProfileFormMixin, LocalProcessSpawner):
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
        help="Prefix of the Unix account names created for hub users (system-users mode).",
    ).tag(config=True)

    launch_id = Unicode(
        help="Tag passed to user servers so `cosim up` can find them at shutdown "
        "(default: $COSIM_LAUNCH_ID).",
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
        await self.allocate_gpus()
        try:
            return await super().start()
        except BaseException:
            await self.release_gpus()
            raise

    async def stop(self, now: bool = False) -> None:
        try:
            await super().stop(now=now)
        finally:
            await self.release_gpus()

    async def _ensure_account(self) -> None:
        name, home = self.account, self.home
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            entry = None
        if entry is not None and Path(entry.pw_dir) != home:
            # Never take over an account that CoSim did not create for this user.
            raise AccountError(f"Unix account {name!r} exists with home {entry.pw_dir}, not {home}")
        if entry is None:
            proc = await asyncio.create_subprocess_exec(
                "useradd", "--home-dir", str(home), "--no-create-home", "--shell", "/bin/bash",
                "--user-group", "--comment", f"CoSim user {self.user.name}", name,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            out, _ = await proc.communicate()
            if proc.returncode != 0:
                raise AccountError(f"useradd {name} failed: {out.decode().strip()}")
            entry = pwd.getpwnam(name)
            self.log.info("Created Unix account %s for hub user %s", name, self.user.name)
        home.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(home.parent, 0o711)
        home.mkdir(mode=0o700, exist_ok=True)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        os.chmod(home, 0o700)

    def make_preexec_fn(self, name: str) -> Any:
        if self.system_users:
            become_user = set_user_setuid(self.account)
        else:
            home = str(self.home)

            def become_user() -> None:
                os.chdir(home)

        apply_limits = self.profile_limits_fn()

        def preexec() -> None:
            apply_limits()  # before dropping root: lowering limits needs no privilege anyway
            become_user()

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
        env.update(self.gpu_environment())  # its own GPUs, or none: never every GPU
        return env
