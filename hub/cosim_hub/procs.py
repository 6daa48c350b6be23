"""Process and port helpers shared by the launcher, the benchmarks and the test fixtures."""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import signal
import socket
import time
from collections.abc import Callable, Iterable

import psutil

# Every process `cosim up` starts carries this variable, so shutdown can find stragglers even
# after they changed uid or process group.
LAUNCH_ENV = "COSIM_LAUNCH_ID"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host or "0.0.0.0", port))
        except OSError:
            return True
    return False


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie still answers kill(0); it is not running)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def tagged_pids(launch_id: str, uids: Iterable[int] = ()) -> list[int]:
    """Live processes started under ``launch_id`` or owned by one of ``uids``, except us."""
    uid_set = set(uids)
    me = os.getpid()
    found = []
    for proc in psutil.process_iter(["uids", "environ", "status"]):
        info = proc.info
        if proc.pid == me or info["status"] in (None, psutil.STATUS_ZOMBIE):
            continue
        tagged = (info["environ"] or {}).get(LAUNCH_ENV) == launch_id
        owned = info["uids"] is not None and info["uids"].effective in uid_set
        if tagged or owned:
            found.append(proc.pid)
    return found


def terminate(pids: Iterable[int], grace: float = 5.0) -> list[int]:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL. Returns pids that needed SIGKILL."""
    pending = [p for p in pids if pid_alive(p)]
    for pid in pending:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pending and time.monotonic() < deadline:
        time.sleep(0.05)
        pending = [p for p in pending if pid_alive(p)]
    for pid in pending:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return pending


def kill_until_gone(
    find: Callable[[], set[int]], spare: set[int] | None = None, timeout: float = 10.0
) -> set[int]:
    """SIGKILL what ``find()`` returns (but ``spare``), again until nothing is left: a process
    forking while we kill is caught on the next pass. Returns what is left at ``timeout``."""
    spare = spare or set()
    deadline = time.monotonic() + timeout
    while True:
        left = find() - spare
        if not left or time.monotonic() > deadline:
            return left
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def light_teardown() -> None:
    """Let this interpreter exit without the collector's passes over everything it imported.

    CPython's finalization runs full collections over every object still alive; with JupyterHub,
    SQLAlchemy or nbgrader imported that took 0.5-2.5 s of CPU on a loaded 2-core machine after
    the process's work was done, and stops wait for it: the hub stops its services one after the
    other, ``cosim up`` waits for the hub. Objects in the permanent generation (``gc.freeze``) are
    not traversed. Call at start; the freeze runs at exit, after the process's own clean-up (its
    ``finally`` blocks, then later-registered atexit handlers such as logging's flush, which run
    first). Files still close by reference counting; only cycles are left to the OS, as at any
    exit (CPython never promised to collect them)."""
    atexit.unregister(gc.freeze)  # once per process, however often it is asked
    atexit.register(gc.freeze)
