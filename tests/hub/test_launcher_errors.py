"""`cosim up` refuses bad starts with one clear line, a non-zero code and nothing left running."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cosim_hub.procs import free_port, tagged_pids
from cosim_testing.stack import cosim_up_command, make_state_dir


def run_up(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    return subprocess.run(
        cosim_up_command(*args),
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
    )


@pytest.fixture
def state_dir() -> Iterator[Path]:
    path = make_state_dir()
    yield path
    subprocess.run(["rm", "-rf", str(path.parent)], check=False)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cosim: error: ")
    assert "Traceback" not in result.stderr + result.stdout
    for needle in needles:
        assert needle in lines[0], lines[0]


def assert_nothing_running(state_dir: Path) -> None:
    launch_file = state_dir / "hub" / "launch-id"
    if launch_file.exists():
        assert tagged_pids(launch_file.read_text().strip()) == []


def test_port_in_use(state_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_up("--port", str(port), "--state-dir", str(state_dir))
    assert_one_line_error(result, f"port {port} is in use", "--port")
    assert_nothing_running(state_dir)


def test_missing_redis_server(state_dir: Path, tmp_path: Path) -> None:
    # A PATH with everything cosim up needs except redis-server.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("configurable-http-proxy", "node"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    result = run_up(
        "--port", str(free_port()), "--state-dir", str(state_dir), env={"PATH": str(bin_dir)}
    )
    assert_one_line_error(result, "redis-server not found", "apt-get install redis-server")
    assert_nothing_running(state_dir)


def test_second_up_on_same_state_dir_is_refused(state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    with open(state_dir / "cosim.lock", "w") as held:
        held.write("4242")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_up("--port", str(free_port()), "--state-dir", str(state_dir))
    assert_one_line_error(result, "another `cosim up`", "pid 4242", "--state-dir")


def test_stale_lock_file_does_not_block(state_dir: Path) -> None:
    """A crashed run leaves cosim.lock behind but no lock: the next start gets past it."""
    state_dir.mkdir(parents=True)
    (state_dir / "cosim.lock").write_text("999999")
    with socket.socket() as sock:  # stop right after the lock check, at the port check
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        result = run_up("--port", str(sock.getsockname()[1]), "--state-dir", str(state_dir))
    assert_one_line_error(result, "is in use")


def test_unwritable_state_dir() -> None:
    result = run_up("--state-dir", "/proc/cosim-state")
    assert_one_line_error(result, "/proc/cosim-state", "not writable", "--state-dir")


def test_bad_config_value(state_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad_config.py"
    config.write_text("c.CoSimHub.spawner = 'docker'\n")
    result = run_up("--state-dir", str(state_dir), "--config", str(config))
    assert_one_line_error(result, "bad config value", "spawner", "docker")
    assert_nothing_running(state_dir)


@pytest.mark.parametrize("port", ["70000", "http", "-1"])
def test_bad_port_argument(state_dir: Path, port: str) -> None:
    result = run_up("--port", port, "--state-dir", str(state_dir))
    assert result.returncode == 2
    assert "--port" in result.stderr or "port" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_documents_every_option() -> None:
    result = subprocess.run(cosim_up_command("--help"), capture_output=True, text=True)
    assert result.returncode == 0
    for option in ("--port", "--ip", "--state-dir", "--admin", "--config", "--log-level"):
        assert option in result.stdout
    assert "COSIM_STATE_DIR" in result.stdout and "COSIM_ADMIN_PASSWORD" in result.stdout
