"""The hub starts from an environment with ``cosim[hub]`` alone: no Lab, no numpy, no sims.

One fresh venv (no system site packages) gets the cosim wheel with the ``hub`` extra from pip's
local wheel cache and index; ``cosim up`` from that venv must come up, serve the login page and
run its hub services (cost guard, courses exchange). nbgrader is not in ``cosim[hub]``: it
requires jupyterlab. The venv is built once per session (see the printed time).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cosim_testing.procs import wait_for
from cosim_testing.stack import make_state_dir, start_cosim_up, stop_cosim_up

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.stack


@pytest.fixture(scope="session")
def hub_only_python() -> Iterator[str]:
    # Not pytest's tmp (0700): `cosim up` as root refuses an interpreter other users cannot run.
    root = Path(tempfile.mkdtemp(prefix="cosim-hub-only-"))
    os.chmod(root, 0o711)
    started = time.monotonic()
    wheels = root / "wheels"
    env = {**os.environ, "HATCH_BUILD_NO_HOOKS": "true"}  # the hub needs no Lab assets
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(REPO)],
        check=True, env=env, timeout=300,
    )  # fmt: skip
    (wheel,) = wheels.glob("cosim-*.whl")
    # The same base interpreter as the product's own venv: world-readable, for user accounts.
    base = Path(getattr(sys, "_base_executable", sys.executable))
    target = root / "venv"
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(target)], check=True, timeout=120)
    python = str(target / "bin" / "python")
    # This pip installs into the new venv (no pip of its own to set up); no .pyc up front: the hub
    # compiles what it imports, and there are fewer files to write and to delete.
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-compile",
         f"{wheel}[hub]"],
        check=True, timeout=600,
    )  # fmt: skip
    print(f"\nhub-only venv built in {time.monotonic() - started:.0f} s")
    yield python
    shutil.rmtree(root, ignore_errors=True)


def test_hub_extra_has_no_user_side_packages(hub_only_python: str) -> None:
    probe = (
        "import importlib.util as u; "
        "print([m for m in ('numpy', 'torch', 'mujoco', 'pybullet', 'jupyterlab', 'notebook', "
        "'nbgrader') if u.find_spec(m)])"
    )
    out = subprocess.run([hub_only_python, "-c", probe], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_hub_starts_from_the_hub_extra_alone(hub_only_python: str) -> None:
    stack = start_cosim_up(make_state_dir(), python=hub_only_python)
    try:
        reply = requests.get(f"{stack.url}/hub/login", timeout=10)
        assert reply.status_code == 200
        # Each hub service answers itself (it asks for login), not the proxy's 503 for a dead one.
        for path in ("services/cosim-costguard/", "services/cosim-courses/api/courses"):
            url = f"{stack.url}/{path}"
            assert wait_for(lambda url=url: _service_answers(url), timeout=30), url
        assert "cosim" in subprocess.run(
            [str(Path(hub_only_python).parent / "cosim"), "--help"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        jobs = subprocess.run(
            [str(Path(hub_only_python).parent / "cosim"), "jobs", "list"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert jobs.returncode == 2
        assert "cosim[user]" in jobs.stderr
    finally:
        stop_cosim_up(stack)


def _service_answers(url: str) -> bool:
    return requests.get(url, timeout=5, allow_redirects=False).status_code in (302, 401, 403)
