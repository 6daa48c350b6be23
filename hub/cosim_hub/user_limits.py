"""Per-user limits the kernel enforces, and a stop that leaves nothing of the user running.

Mixed into CoSimLocalSpawner. Each user server (and so every kernel, terminal, build and job it
starts) runs in the user's own cgroup with the profile's ``max_processes``, ``mem_limit`` and
``cpu_limit`` (``cgroups.py``). Without usable cgroups, per-UID ``RLIMIT_NPROC`` (valid because
each user has their own Unix account) and ``RLIMIT_AS`` stand in, and the hub log says so.

Stopping the server kills everything left in the cgroup and every process of the user's Unix
account, ``setsid`` escapees included, except CoSim jobs (``cosim.jobs.worker`` and what they
started), which are meant to outlive the server: they stay in the user's cgroup, under its limits.
"""

from __future__ import annotations

import resource
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psutil
from traitlets import Bool
from traitlets.config import Configurable

from .cgroups import CgroupLimits, UserCgroup, open_user_cgroup
from .procs import kill_until_gone
from .profiles import Profile

JOB_WORKER_MODULE = "cosim.jobs.worker"


def _is_job_worker(pid: int) -> bool:
    try:
        return JOB_WORKER_MODULE in psutil.Process(pid).cmdline()
    except psutil.Error:
        return False


def processes_of(uid: int) -> dict[int, int]:
    """{pid: ppid} of every live process owned by ``uid``."""
    return {
        proc.pid: proc.info["ppid"]
        for proc in psutil.process_iter(["ppid", "uids"])
        if proc.info["uids"] is not None and proc.info["uids"].effective == uid
    }


def job_pids(procs: dict[int, int]) -> set[int]:
    """The job workers among ``procs`` ({pid: ppid}) and everything below them."""
    spared = {pid for pid in procs if _is_job_worker(pid)}
    grew = True
    while grew:
        below = {pid for pid, ppid in procs.items() if ppid in spared} - spared
        spared |= below
        grew = bool(below)
    return spared


def kill_uid(uid: int, spare: set[int], timeout: float = 10.0) -> set[int]:
    """SIGKILL every process of ``uid`` not in ``spare`` until none is left; returns leftovers."""
    return kill_until_gone(lambda: set(processes_of(uid)), spare, timeout)


class UserLimitsMixin(Configurable):
    """cgroup (or rlimit) limits from the selected profile; stop kills what is left."""

    # Provided by the spawner this is mixed into.
    log: Any
    selected_profile: Profile
    if TYPE_CHECKING:

        @property
        def system_users(self) -> bool: ...

        @property
        def account(self) -> str: ...

    keep_jobs_on_stop = Bool(
        True,
        help="""Let CoSim jobs (``cosim.jobs.worker`` and their children) keep running when
        the server stops: they stay in the user's cgroup, under the profile's limits. False: a
        stop kills them too. Every other process of the user is always killed.""",
    ).tag(config=True)

    use_cgroups = Bool(
        True,
        help="""Put each user server in its own cgroup (pids, memory, cpu limits from the
        profile). Off, or where cgroups are not writable: per-UID RLIMIT_NPROC and RLIMIT_AS.""",
    ).tag(config=True)

    _cgroup: UserCgroup | None = None

    def _cgroup_limits(self) -> CgroupLimits:
        p = self.selected_profile
        return CgroupLimits(p.max_processes, p.mem_limit_bytes, p.cpu_limit)

    def prepare_user_limits(self) -> None:
        """Create the user's cgroup and set the profile's limits (as root, before spawning)."""
        self._cgroup = None
        if not (self.use_cgroups and self.system_users):
            return
        cgroup = open_user_cgroup(self.account)
        if cgroup is None:
            self.log.warning(
                "No writable cgroup (pids, memory, cpu) on this machine: %s gets per-UID "
                "RLIMIT_NPROC=%d and RLIMIT_AS=%s instead (weaker: memory is per process)",
                self.account, self.selected_profile.max_processes, self.selected_profile.mem_limit,
            )  # fmt: skip
            return
        cgroup.apply(self._cgroup_limits())
        self._cgroup = cgroup
        self.log.info(
            "%s runs in cgroup %s", self.account, ", ".join(map(str, cgroup.dirs.values()))
        )

    def user_limits_fn(self) -> Callable[[], None]:
        """What the child runs before it drops root: join the cgroup, else set per-UID rlimits."""
        cgroup = self._cgroup
        limits = self._cgroup_limits()
        system_users = self.system_users

        def apply() -> None:
            if cgroup is not None:
                cgroup.join()
            elif system_users:  # NPROC counts per UID: only meaningful with one account per user
                n = limits.max_processes
                resource.setrlimit(resource.RLIMIT_NPROC, (n, n))
                m = limits.memory_bytes
                resource.setrlimit(resource.RLIMIT_AS, (m, m))

        return apply

    def stop_user_processes(self) -> set[int]:
        """Kill what the server left behind (cgroup members and the account's processes) but
        jobs; returns pids that survived (logged)."""
        if not self.system_users:
            return set()
        import pwd

        try:
            uid = pwd.getpwnam(self.account).pw_uid
        except KeyError:
            return set()
        if uid == 0:
            return set()
        procs = processes_of(uid)
        spare = job_pids(procs) if self.keep_jobs_on_stop else set()
        cgroup = self._cgroup or (open_user_cgroup(self.account) if self.use_cgroups else None)
        left: set[int] = set()
        if cgroup is not None:
            left |= cgroup.kill_all(spare)
        left |= kill_uid(uid, spare)
        if spare:
            self.log.info("%s: %d job process(es) keep running in their limits", self.account,
                          len(spare))  # fmt: skip
        elif cgroup is not None:
            cgroup.remove()
        if left:
            self.log.error("%s: processes survived the stop: %s", self.account, sorted(left))
        return left
