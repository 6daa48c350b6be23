"""One kernel-enforced box per user: a cgroup with a process count, memory and CPU limit.

cgroup v2 (one unified tree with the pids, memory and cpu controllers) and v1 (one tree per
controller, as on hybrid hosts) are both handled. The user's cgroup is created *under the hub's
own cgroup* in each tree, so CoSim never leaves what it was given (delegation). Every process the
user server starts (kernels, terminals, builds, jobs) inherits the cgroup; only root may move a
process out of it, so ``setsid``/double-fork escapes stay inside.

Where none of this is writable, :func:`open_user_cgroup` returns None and the spawner falls back
to per-UID rlimits (see ``user_limits.py``).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .procs import kill_until_gone

CGROUP_ROOT = Path("/sys/fs/cgroup")
_V1_CONTROLLERS = ("pids", "memory", "cpu")
CPU_PERIOD_US = 100_000


@dataclass(frozen=True)
class CgroupLimits:
    max_processes: int
    memory_bytes: int
    cpus: float


def _own_paths(proc_cgroup: str) -> dict[str, str]:
    """``/proc/self/cgroup`` -> {controller (or "" for v2): path}."""
    found: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            found[controller] = parts[2]
    return found


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


class UserCgroup:
    """The cgroup (one directory per hierarchy) of one user server."""

    def __init__(self, dirs: dict[str, Path], version: int) -> None:
        self.dirs = dirs  # controller -> directory ("unified" for v2)
        self.version = version

    @property
    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs.values()]

    def apply(self, limits: CgroupLimits) -> None:
        quota = max(1000, int(limits.cpus * CPU_PERIOD_US))
        if self.version == 2:
            d = self.dirs["unified"]
            (d / "pids.max").write_text(str(limits.max_processes))
            (d / "memory.max").write_text(str(limits.memory_bytes))
            with contextlib.suppress(OSError):  # no swap accounting: nothing to cap
                (d / "memory.swap.max").write_text("0")
            (d / "cpu.max").write_text(f"{quota} {CPU_PERIOD_US}")
            return
        (self.dirs["pids"] / "pids.max").write_text(str(limits.max_processes))
        memory = self.dirs["memory"]
        (memory / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
        with contextlib.suppress(OSError):  # memsw only exists with swap accounting
            (memory / "memory.memsw.limit_in_bytes").write_text(str(limits.memory_bytes))
        cpu = self.dirs["cpu"]
        (cpu / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(quota))

    def join(self, pid: int = 0) -> None:
        """Move ``pid`` (0: the caller) into every hierarchy. Runs in the child before exec."""
        for procs in self.procs_files:
            procs.write_text(str(pid or os.getpid()))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for procs in self.procs_files:
            with contextlib.suppress(OSError):
                found.update(int(p) for p in procs.read_text().split())
        return found

    def kill_all(self, spare: set[int] | None = None, timeout: float = 10.0) -> set[int]:
        """SIGKILL every process in the cgroup but ``spare``, again until none is left (a
        process forking while we kill is caught on the next pass). Returns what is left."""
        return kill_until_gone(self.pids, spare, timeout)

    def remove(self, timeout: float = 2.0) -> bool:
        """Remove the cgroup directories once empty (killed processes take a moment to be
        reaped); a busy one stays. True when all are gone."""
        deadline = time.monotonic() + timeout
        left = list(self.dirs.values())
        while left:
            for d in list(left):
                with contextlib.suppress(OSError):
                    d.rmdir()
                if not d.exists():
                    left.remove(d)
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return not left


def open_user_cgroup(
    name: str, root: Path = CGROUP_ROOT, proc_cgroup: str | None = None
) -> UserCgroup | None:
    """Create (or reuse) ``cosim/<name>`` under our own cgroup in each hierarchy we need.

    Returns None when this machine gives us no writable cgroup with pids, memory and cpu.
    """
    if proc_cgroup is None:
        try:
            proc_cgroup = Path("/proc/self/cgroup").read_text()
        except OSError:
            return None
    own = _own_paths(proc_cgroup)
    unified = root if (root / "cgroup.controllers").exists() else None
    if unified is not None and "" in own:
        base = unified / own[""].lstrip("/")
        # Our own cgroup holds processes (the hub), so children go in a sibling-free subtree:
        # v2 allows controllers only in leaves' parents; ``cosim`` is that parent.
        parent = base / "cosim"
        try:
            available = set((base / "cgroup.controllers").read_text().split())
            if not {"pids", "memory", "cpu"} <= available or not _writable_dir(base):
                return None
            parent.mkdir(exist_ok=True)
            (parent / "cgroup.subtree_control").write_text("+pids +memory +cpu")
            d = parent / name
            d.mkdir(exist_ok=True)
        except OSError:
            return None
        return UserCgroup({"unified": d}, 2)
    dirs: dict[str, Path] = {}
    for controller in _V1_CONTROLLERS:
        mount = root / controller
        if controller not in own or not (mount / "cgroup.procs").exists():
            return None
        base = mount / own[controller].lstrip("/")
        if not _writable_dir(base):
            return None
        d = base / "cosim" / name
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        dirs[controller] = d
    return UserCgroup(dirs, 1)
