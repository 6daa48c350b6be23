"""Which TCP sockets a process tree holds, read from /proc (as root sees every process)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cosim_testing.procs import parent_pid


def tcp_sockets(pid: int) -> list[str]:
    """TCP sockets (any state) that process ``pid`` holds, as "local-address state"."""
    held = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                held.add(os.readlink(fd))
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if f"socket:[{fields[9]}]" in held:
                found.append(f"{fields[1]} {fields[3]}")
    return found


def is_below(pid: int, root: int) -> bool:
    """Whether ``pid`` is (still) a descendant of ``root``. Ask after reading a process found by
    :func:`descendants`: with pid_max at 32768 a busy machine reuses a pid that has just exited
    (a test's reading once caught another test's Python kernel, with its five ports)."""
    for _ in range(64):
        parent = parent_pid(pid)
        if parent is None or parent <= 1:
            return False
        if parent == root:
            return True
        pid = parent
    return False


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (not ``pid`` itself)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (ppid := parent_pid(int(entry.name))) is not None:
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        found.append(todo.pop())
        todo.extend(children.get(found[-1], []))
    return found


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
