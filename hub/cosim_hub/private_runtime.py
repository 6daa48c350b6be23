"""Kernel channels on Unix sockets in a folder only the user can open, never on TCP.

Mixed into CoSimLocalSpawner. With TCP (Jupyter's default) every local account can connect to
127.0.0.1 and subscribe to another user's IOPUB channel: code and output are readable even though
executing needs the signing key. With ``transport = "ipc"`` jupyter_client puts each kernel's
sockets next to its connection file, in ``JUPYTER_RUNTIME_DIR``; we make that a short, root-made
folder per user (mode 700, owned by the user), so no other account can reach the sockets.
Short, because a Unix socket path holds at most 107 bytes (the kernel id alone is 36).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traitlets import Enum, Unicode
from traitlets.config import Configurable

# <root>/<account>/kernel-<36-char id>-ipc-<n> must fit in sun_path (108 bytes with the NUL).
_SUN_PATH_MAX = 107
_SOCKET_NAME_MAX = len("kernel-") + 36 + len("-ipc-") + 5


class PrivateRuntimeMixin(Configurable):
    """A private runtime folder per user server and kernels talking over IPC inside it."""

    # Provided by the spawner this is mixed into.
    if TYPE_CHECKING:

        @property
        def system_users(self) -> bool: ...

        @property
        def account(self) -> str: ...

    user: Any

    kernel_transport = Enum(
        ["ipc", "tcp"],
        default_value="ipc",
        help="""How user servers talk to their kernels. 'ipc' (default): Unix sockets in the
        user's private runtime folder, which no other account can open. 'tcp': loopback ports,
        which every local account can connect to (only for single-user machines).""",
    ).tag(config=True)

    runtime_root = Unicode(
        "/run/cosim",
        help="""Root-owned folder (mode 711) holding one private runtime folder per user
        (`<runtime_root>/<account>`, mode 700, the user's). Kernel connection files and IPC
        sockets live there. Keep it short: Unix socket paths are limited to 107 bytes.""",
    ).tag(config=True)

    @property
    def runtime_dir(self) -> Path:
        if self.system_users:
            return Path(self.runtime_root) / self.account
        # Shared mode: every server is the hub's own account; a short folder of ours in /tmp.
        digest = hashlib.sha256(self.user.name.encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"cosim-run-{os.getuid()}" / digest

    def prepare_runtime_dir(self) -> None:
        """Create the user's runtime folder with the right owner and mode, whatever was there."""
        path = self.runtime_dir
        if len(str(path)) + 1 + _SOCKET_NAME_MAX > _SUN_PATH_MAX:
            raise ValueError(f"runtime folder {path} is too long for Unix socket paths")
        parent = path.parent
        parent.mkdir(parents=True, exist_ok=True)
        if parent.lstat().st_uid != os.geteuid():
            raise PermissionError(f"{parent} is not ours: someone else made it")
        os.chmod(parent, 0o711 if self.system_users else 0o700)
        path.mkdir(mode=0o700, exist_ok=True)
        if path.is_symlink() or not path.is_dir():
            raise PermissionError(f"{path} is not a plain folder")
        if self.system_users:
            entry = pwd.getpwnam(self.account)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(path, 0o700)

    def runtime_env(self, env: dict[str, str]) -> dict[str, str]:
        """Variables to add to ``env``: the runtime folder and, for IPC, CoSim's python3
        kernelspec first on JUPYTER_PATH (ipykernel's own binds a TCP pipe even under IPC)."""
        extra = {"JUPYTER_RUNTIME_DIR": str(self.runtime_dir)}
        spec = importlib.util.find_spec("cosim")  # located, not imported: the hub stays light
        if self.kernel_transport == "ipc" and spec is not None and spec.origin:
            kernelspecs = Path(spec.origin).parent / "kernelspecs"  # cosim.private_kernel's
            paths = [str(kernelspecs), *filter(None, env.get("JUPYTER_PATH", "").split(":"))]
            extra["JUPYTER_PATH"] = os.pathsep.join(paths)
        return extra

    def kernel_transport_args(self) -> list[str]:
        return [f"--KernelManager.transport={self.kernel_transport}"]
