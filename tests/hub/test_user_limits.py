"""Users cannot reach each other's kernels or exhaust the machine (issue 17), on the real stack.

Two users, ``mallory`` (the attacker) and ``victim``, each with their own Unix account, server
and kernels. Mallory acts only from her own kernel, as a student would.
"""

from __future__ import annotations

import ast
import json
import pwd
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from kernel_ws import UserKernel

from cosim_hub.spawner import unix_account_name
from cosim_hub.user_limits import processes_of
from cosim_testing.hub_client import HubClient
from cosim_testing.procs import wait_for
from cosim_testing.stack import CoSimStack, make_state_dir, start_cosim_up, stop_cosim_up

MAX_PROCESSES = 300
TEST_PROFILES = f"""
[[profile]]
name = "small"
display_name = "Small"
cpu_limit = 2
mem_request = "256M"
mem_limit = "512M"
max_processes = {MAX_PROCESSES}
default = true
"""


@pytest.fixture(scope="module")
def limits_stack() -> Iterator[CoSimStack]:
    state_dir = make_state_dir()
    profiles = state_dir.parent / "profiles.toml"
    state_dir.parent.mkdir(parents=True, exist_ok=True)
    profiles.write_text(TEST_PROFILES)
    stack = start_cosim_up(
        state_dir, extra_config=f"c.CoSimHub.profiles_file = {str(profiles)!r}\n"
    )
    yield stack
    survivors = stop_cosim_up(stack)
    shutil.rmtree(state_dir.parent, ignore_errors=True)
    assert survivors == [], f"processes outlived cosim up: {survivors}"


@pytest.fixture(scope="module")
def users(limits_stack: CoSimStack) -> dict[str, HubClient]:
    clients = {}
    for name in ("mallory", "victim"):
        client, _ = limits_stack.new_user(name)
        client.spawn(timeout=240)  # the machine is shared and loaded
        assert client.open_lab().status_code == 200
        clients[name] = client
    return clients


def _uid(stack: CoSimStack, name: str) -> int:
    return pwd.getpwnam(unix_account_name(stack.account_prefix, name)).pw_uid


LISTENING_TCP = """
import pathlib
found = []
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in pathlib.Path(table).read_text().splitlines()[1:]:
        f = line.split()
        if f[3] == "0A":  # LISTEN
            found.append((int(f[7]), int(f[1].rsplit(":", 1)[1], 16)))
print(sorted(found))
"""


def test_kernel_channels_are_private(limits_stack: CoSimStack, users: dict[str, HubClient]) -> None:
    victim_uid = _uid(limits_stack, "victim")
    victim_kernels = [UserKernel(users["victim"], "victim", k) for k in ("python3", "cosim-cpp")]
    mallory = UserKernel(users["mallory"], "mallory")
    try:
        assert victim_kernels[0].run("print(6 * 7)").stdout.strip() == "42"
        cpp = victim_kernels[1].run("#include <iostream>\nint main() { std::cout << 6 * 7; }\n")
        assert "42" in cpp.stdout, cpp
        # Victim debugs in Lab: debugpy runs (no debug client needs a password, so a TCP port
        # would let anyone run code in her kernel).
        init = victim_kernels[0].debug(1, "initialize", clientID="lab", adapterID="python",
                                       pathFormat="path", linesStartAt1=True,
                                       columnsStartAt1=True)  # fmt: skip
        assert init["success"] is True
        assert victim_kernels[0].debug(2, "attach")["success"] is True
        runtime = Path("/run/cosim") / unix_account_name(limits_stack.account_prefix, "victim")
        # The server's own HTTP port is meant to be there (the hub proxies to it, with auth).
        server_ports = {json.loads(p.read_text())["port"] for p in runtime.glob("jpserver-*.json")}
        assert len(server_ports) == 1

        # From mallory's kernel: no other TCP port that victim's processes listen on.
        listening = ast.literal_eval(mallory.run(LISTENING_TCP).stdout)
        assert {port for uid, port in listening if uid == victim_uid} == server_ports

        # Victim's kernels use Unix sockets in a folder only victim can open.
        info = runtime.stat()
        assert info.st_uid == victim_uid and info.st_mode & 0o777 == 0o700  # (+ sticky bit)
        sockets = [p for p in runtime.iterdir() if p.is_socket()]
        assert len(sockets) >= 10, sorted(p.name for p in runtime.iterdir())  # 5 per kernel
        assert [p for p in sockets if p.name.endswith("-debugpy")], sorted(map(str, sockets))
        probe = mallory.run(
            "import os, socket\n"
            f"print(os.access({str(runtime)!r}, os.R_OK | os.X_OK))\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            f"s.connect({str(sockets[0])!r})\n"
        )
        assert probe.stdout.strip() == "False"
        assert probe.error.startswith("PermissionError"), probe
    finally:
        for k in [*victim_kernels, mallory]:
            k.close()


FORK_MANY = """
import os
children, refused = [], ""
for _ in range(2000):
    try:
        children.append(os.posix_spawn("/bin/sleep", ["sleep", "60"], os.environ))
    except OSError as err:
        refused = type(err).__name__
        break
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print(len(children), refused)
"""


def test_process_count_is_capped(limits_stack: CoSimStack, users: dict[str, HubClient]) -> None:
    mallory = UserKernel(users["mallory"], "mallory")
    try:
        started, _, refused = mallory.run(FORK_MANY, timeout=180).stdout.strip().partition(" ")
    finally:
        mallory.close()
    assert refused == "BlockingIOError"
    assert 0 < int(started) < MAX_PROCESSES


HOG_MEMORY = """
import subprocess, sys, time
# Each process stays under the per-process data limit; together they pass the user's 512M.
# They hold their memory until one has ended (the OOM killer's doing) or a minute has passed.
code = "import time; b = b'x' * (200 << 20); time.sleep(60)"
procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(4)]
deadline = time.monotonic() + 60
while time.monotonic() < deadline and all(p.poll() is None for p in procs):
    time.sleep(0.05)
ended = [p.poll() for p in procs]
for p in procs:
    p.kill()
    p.wait()
print(sorted(code for code in ended if code is not None))
"""


def cgroups_usable() -> bool:
    """Whether this machine gives root pids, memory and cpu cgroups (v2, or v1 as on hybrid
    hosts): then every user server must run in one; else the hub falls back to rlimits."""
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return {"pids", "memory", "cpu"} <= set((root / "cgroup.controllers").read_text().split())
    return all((root / c / "cgroup.procs").exists() for c in ("pids", "memory", "cpu"))


def _cgroup_dirs(pid: int) -> dict[str, Path]:
    """{controller ("unified" for v2): cgroup directory} of process ``pid``."""
    root = Path("/sys/fs/cgroup")
    v2 = (root / "cgroup.controllers").exists()
    dirs = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if v2 and not controllers:
            dirs["unified"] = root / path.lstrip("/")
        for c in set(controllers.split(",")) & {"pids", "memory", "cpu"}:
            dirs[c] = root / c / path.lstrip("/")
    return dirs


def _rlimits(pid: int) -> dict[str, str]:
    """{limit name: soft value} from /proc/<pid>/limits."""
    rows = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    return {row[:26].strip(): row[26:47].strip() for row in rows}


def test_limits_are_set_by_the_kernel(
    limits_stack: CoSimStack, users: dict[str, HubClient]
) -> None:
    """Mallory's server and kernel sit in her own cgroup with the profile's limits where this
    machine has cgroups; without them, under per-UID RLIMIT_NPROC and per-process RLIMIT_AS
    (the hub log says so), so memory is then capped per process only, not per user."""
    account = unix_account_name(limits_stack.account_prefix, "mallory")
    mallory = UserKernel(users["mallory"], "mallory")
    try:
        kernel = int(mallory.run("import os; print(os.getpid())").stdout)
    finally:
        mallory.close()
    server = limits_stack.server_pids("mallory")
    assert server, "no server process found"
    log = (limits_stack.state_dir / "logs" / "hub.log").read_text()
    if not cgroups_usable():
        assert f"No writable cgroup (pids, memory, cpu) on this machine: {account}" in log
        for pid in [kernel, *server]:
            limits = _rlimits(pid)
            assert limits["Max processes"] == str(MAX_PROCESSES)
            assert limits["Max address space"] == str(512 << 20)
        return
    assert f"{account} runs in cgroup" in log
    for pid in [kernel, *server]:
        dirs = _cgroup_dirs(pid)
        assert dirs and {d.name for d in dirs.values()} == {account}, dirs
    dirs = _cgroup_dirs(kernel)
    if "unified" in dirs:  # cgroup v2
        d = dirs["unified"]
        assert (d / "pids.max").read_text().strip() == str(MAX_PROCESSES)
        assert (d / "memory.max").read_text().strip() == str(512 << 20)
        assert (d / "cpu.max").read_text().split() == ["200000", "100000"]
    else:  # v1: one tree per controller (this machine's kind: a hybrid host)
        assert (dirs["pids"] / "pids.max").read_text().strip() == str(MAX_PROCESSES)
        limit = (dirs["memory"] / "memory.limit_in_bytes").read_text().strip()
        assert limit == str(512 << 20)
        assert (dirs["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "200000"
        assert (dirs["cpu"] / "cpu.cfs_period_us").read_text().strip() == "100000"


def test_memory_is_capped_per_user(limits_stack: CoSimStack, users: dict[str, HubClient]) -> None:
    if not cgroups_usable():
        pytest.skip("no cgroups here: memory is capped per process (RLIMIT_AS), not per user")
    mallory = UserKernel(users["mallory"], "mallory")
    try:
        codes = ast.literal_eval(mallory.run(HOG_MEMORY, timeout=180).stdout)
        assert -9 in codes, codes  # the kernel's OOM killer ended at least one
        victim = users["victim"]
        assert victim.request("GET", "user/victim/cosim/api/status").status_code == 200
    finally:
        mallory.close()


SETSID_LOOP = """
import subprocess
subprocess.Popen(["setsid", "sh", "-c", "while :; do :; done"], start_new_session=True)
subprocess.Popen(["sh", "-c", "nohup sleep 1000 >/dev/null 2>&1 &"], start_new_session=True)
print("spawned")
"""


def test_stopping_a_server_stops_all_its_processes(
    limits_stack: CoSimStack, users: dict[str, HubClient]
) -> None:
    uid = _uid(limits_stack, "mallory")
    mallory = UserKernel(users["mallory"], "mallory")
    assert mallory.run(SETSID_LOOP).stdout.strip() == "spawned"
    mallory.close()
    assert wait_for(lambda: len(processes_of(uid)) >= 3, timeout=10)
    users["mallory"].stop()
    wait_for(lambda: not processes_of(uid), timeout=15, interval=0.2)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in processes_of(uid)}
    assert left == {}
    assert users["victim"].request("GET", "user/victim/cosim/api/status").status_code == 200
