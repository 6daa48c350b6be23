"""Run ``cosim up`` as a child process and talk to it: shared by tests and benchmarks."""

from __future__ import annotations

import os
import pwd
import queue
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosim_hub.origins import local_subdomain_host
from cosim_hub.procs import free_port, tagged_pids, terminate

from .hub_client import HubClient
from .procs import parent_pid

SUBDOMAINS_ENV = "COSIM_TEST_SUBDOMAINS"


def cosim_up_command(*args: str, python: str = sys.executable) -> list[str]:
    return [python, "-m", "cosim_hub", "up", *args]


def make_state_dir(prefix: str = "cosim-test-") -> Path:
    """A temp state dir that unprivileged user accounts can traverse (pytest's tmp is 0700)."""
    parent = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(parent, 0o711)
    return parent / "state"


@dataclass
class CoSimStack:
    """A running ``cosim up`` and what tests need to talk to it."""

    url: str
    state_dir: Path
    admin: str
    admin_password: str
    account_prefix: str
    proc: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    subdomains: bool = False  # each user server at http://<name>.cosim.localhost:<port>

    def public_url(self, path: str) -> str:
        """Full URL of ``path`` as a browser reaches it: ``user/<name>/...`` and
        ``services/<name>/...`` on their own origins when subdomains are on, else on the hub's."""
        return self.client().url(path)

    def user_url(self, name: str) -> str:
        """Base URL of ``name``'s server, ending in ``/user/<name>/``."""
        return self.public_url(f"user/{name}/")

    @property
    def launch_id(self) -> str:
        return (self.state_dir / "hub" / "launch-id").read_text().strip()

    def client(self) -> HubClient:
        return HubClient(self.url, subdomains=self.subdomains)

    def admin_client(self) -> HubClient:
        return self.client().login(self.admin, self.admin_password)

    def new_user(self, name: str, password: str | None = None) -> tuple[HubClient, str]:
        """Sign up ``name``, approve it as the admin, and return a logged-in client."""
        password = password or secrets.token_urlsafe(10)
        self.client().signup(name, password)
        self.admin_client().approve(name)
        return self.client().login(name, password), password

    def server_pids(self, name: str) -> list[int]:
        """Pids of ``name``'s single-user server (found by the hub's env var, as root sees it)."""
        needle = f"JUPYTERHUB_USER={name}".encode()
        found = []
        for pid in tagged_pids(self.launch_id):
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if needle in environ:
                found.append(pid)
        return found

    def server_pid(self, name: str) -> int:
        """The pid of ``name``'s server process itself: :meth:`server_pids` also finds what it
        started with the env var, e.g. jupyter-lsp's ``npm root -g`` in its first seconds."""
        pids = self.server_pids(name)
        tops = [pid for pid in pids if parent_pid(pid) not in pids]
        assert len(tops) == 1, f"{name}'s server processes: {pids}"
        return tops[0]

    def accounts(self) -> list[pwd.struct_passwd]:
        return [e for e in pwd.getpwall() if e.pw_name.startswith(self.account_prefix)]


def _pump(stream: Any, lines: queue.Queue[str], sink: list[str]) -> None:
    for line in stream:
        sink.append(line)
        lines.put(line)


def start_cosim_up(
    state_dir: Path,
    *,
    port: int | None = None,
    admin_password: str = "cosim-test-admin",
    account_prefix: str | None = None,
    extra_args: tuple[str, ...] = (),
    timeout: float = 120.0,
    extra_config: str = "",
    subdomains: bool | None = None,
    python: str = sys.executable,
) -> CoSimStack:
    """Start ``cosim up`` and wait for its "is up" line; raise with its output if it fails.

    ``extra_config`` is appended to the test's config file (e.g. fast cost-guard intervals).
    ``subdomains``: each user server on its own origin (``cosim up``'s default); None reads
    $COSIM_TEST_SUBDOMAINS (``0`` runs a whole test session on one shared origin).
    ``python``: the interpreter of the environment to run it from (default: this one).
    ``account_prefix=""`` keeps the installation's own prefix (cosim-<installation id>-).
    """
    if subdomains is None:
        subdomains = os.environ.get(SUBDOMAINS_ENV, "1") != "0"
    port = port or free_port()
    if account_prefix is None:
        account_prefix = f"ct{secrets.token_hex(2)}-"
    state_dir.parent.mkdir(parents=True, exist_ok=True)
    config = state_dir.parent / "test_config.py"
    prefix = f"c.CoSimLocalSpawner.account_prefix = {account_prefix!r}\n" if account_prefix else ""
    config.write_text(prefix + extra_config)
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["COSIM_ADMIN_PASSWORD"] = admin_password
    proc = subprocess.Popen(
        cosim_up_command(
            "--port",
            str(port),
            "--state-dir",
            str(state_dir),
            "--config",
            str(config),
            "--subdomains" if subdomains else "--no-subdomains",
            *extra_args,
            python=python,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    stack = CoSimStack(
        url=local_subdomain_host("127.0.0.1", port) if subdomains else f"http://127.0.0.1:{port}",
        state_dir=state_dir,
        admin="admin",
        admin_password=admin_password,
        account_prefix=account_prefix,
        proc=proc,
        subdomains=subdomains,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines, stack.output), daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        if "CoSim is up" in line:
            if not stack.account_prefix:
                install_id = (state_dir / "hub" / "installation-id").read_text().strip()
                stack.account_prefix = f"cosim-{install_id}-"
            return stack
    proc.kill()
    raise RuntimeError("cosim up did not start:\n" + "".join(stack.output))


def stop_cosim_up(stack: CoSimStack, timeout: float = 60.0) -> list[int]:
    """Ctrl-C the stack; return pids that survived it (then kill them and remove accounts)."""
    launch_id = stack.launch_id
    uids = [e.pw_uid for e in stack.accounts()]
    stack.proc.send_signal(signal.SIGINT)
    try:
        stack.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stack.proc.kill()
    if stack.proc.stdout:
        stack.proc.stdout.close()
    survivors = tagged_pids(launch_id, uids)
    terminate(survivors, grace=2.0)
    for entry in stack.accounts():
        subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)
        subprocess.run(["groupdel", entry.pw_name], check=False, capture_output=True)
    return survivors
