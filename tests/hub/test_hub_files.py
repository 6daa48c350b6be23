"""No hub file reaches a user: every descriptor of a user server and its kernels is the user's.

Before the guard, user servers inherited the hub's stdout/stderr (root-owned logs/hub.log), so
a user wrote forged lines into the hub's log from any kernel.
"""

from __future__ import annotations

import os
import pwd
import stat
import time
from pathlib import Path

from cosim_hub.server_output import server_log_path
from cosim_hub.spawner import unix_account_name
from cosim_testing.stack import CoSimStack

# Character devices every process may hold: they are not files of anybody.
HARMLESS_DEVICES = {"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/ptmx"}


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _read_only(pid: int, fd: str) -> bool:
    """Whether descriptor ``fd`` of ``pid`` was opened for reading only."""
    try:
        fdinfo = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
    except OSError:
        return False
    flags = [int(line.split()[1], 8) for line in fdinfo.splitlines() if line.startswith("flags")]
    return bool(flags) and flags[0] & os.O_ACCMODE == os.O_RDONLY


def _foreign_fds(pid: int, uid: int) -> list[str]:
    """Descriptors of ``pid`` that point at a file (or tty) that ``uid`` does not own, but for
    read-only ones of files anyone may read."""
    bad = []
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
            info = os.stat(fd)  # the open file itself, even if its name was removed
        except OSError:
            continue  # closed meanwhile
        if not target.startswith("/"):
            continue  # pipe:[..], socket:[..], anon_inode:..: no file behind them
        if stat.S_ISCHR(info.st_mode) and target in HARMLESS_DEVICES:
            continue
        if _read_only(pid, fd.name) and info.st_mode & stat.S_IROTH:
            continue  # what anyone may read (a system library folder an import is listing)
        if info.st_uid != uid:
            bad.append(f"pid {pid} fd {fd.name} -> {target} (uid {info.st_uid})")
    return bad


def _wait_for_kernel(uid: int, kernel_id: str, timeout: float = 60.0) -> int:
    """The pid of the kernel the server started for ``kernel_id``: a process of the user whose
    command line names the kernel's connection file (``kernel-<id>.json``), whatever program
    runs it (CoSim's launcher ``cosim.private_kernel`` today, ipykernel's before)."""
    needle = f"kernel-{kernel_id}.json".encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in _processes_of(uid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if needle in cmdline:
                return pid
        time.sleep(0.2)
    raise AssertionError(f"no process of uid {uid} runs kernel {kernel_id}")


def test_user_server_and_kernel_hold_no_hub_files(cosim_stack: CoSimStack) -> None:
    erin, _ = cosim_stack.new_user("fderin")
    erin.spawn()
    assert erin.open_lab().status_code == 200
    uid = pwd.getpwnam(unix_account_name(cosim_stack.account_prefix, "fderin")).pw_uid
    resp = erin.request("POST", "user/fderin/api/kernels", json={"name": "python3"})
    assert resp.status_code == 201, resp.text
    kernel = _wait_for_kernel(uid, resp.json()["id"])

    servers = [
        pid
        for pid in cosim_stack.server_pids("fderin")
        if b"jupyterhub-singleuser" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert servers, "no server process found"
    pids = _processes_of(uid)
    assert kernel in pids and set(servers) <= set(pids)
    bad = [line for pid in pids for line in _foreign_fds(pid, uid)]
    assert bad == [], "user processes hold files they do not own:\n" + "\n".join(bad)

    # The server's output goes to the user's own log, not to the hub's.
    log = server_log_path(cosim_stack.state_dir / "users" / "fderin")
    for pid in servers:
        assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
        assert os.readlink(f"/proc/{pid}/fd/1") == os.readlink(f"/proc/{pid}/fd/2") == str(log)
    assert log.stat().st_uid == uid and log.stat().st_mode & 0o077 == 0
    erin.stop()
