"""The sandbox as an unprivileged account runs it (how user servers run under the hub): the
process limit is counted on top of what the account already runs, and nothing outlives a run."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from cosim_cpp.sandbox import CoSimCppSandbox, _tasks_of, scrubbed_env

FORK_BOMB = "#include <unistd.h>\nint main() { for (;;) fork(); }\n"
RUNNER = """
import asyncio, json, sys
from pathlib import Path
from cosim_cpp.sandbox import CoSimCppSandbox, Sandbox
limits = CoSimCppSandbox(processes=16)
result = asyncio.run(Sandbox(limits).run([sys.argv[1]], Path(sys.argv[2]), lambda s, t: None,
                                         timeout_s=2))
print(json.dumps({"timed_out": result.timed_out, "message": result.message}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged account")
def test_fork_bomb_as_an_unprivileged_account() -> None:
    nobody = pwd.getpwnam("nobody")
    folder = Path(tempfile.mkdtemp(prefix="cosim-sandbox-"))
    folder.chmod(0o755)
    (folder / "bomb.cpp").write_text(FORK_BOMB)
    subprocess.run(["g++", "bomb.cpp", "-o", "bomb"], cwd=folder, check=True)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RUNNER), str(folder / "bomb"), str(folder)],
        user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[], cwd=folder,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert '"timed_out": true' in out.stdout and "time limit" in out.stdout
    # The whole group was killed (orphans are reaped by init, so give that a moment).
    deadline = time.monotonic() + 10
    while _tasks_of(nobody.pw_uid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _tasks_of(nobody.pw_uid) == 0


def test_scrubbed_env_drops_tokens() -> None:
    env = scrubbed_env(
        CoSimCppSandbox(),
        {"PATH": "/bin", "JUPYTERHUB_API_TOKEN": "x", "JPY_SESSION_NAME": "y", "MY_SECRET": "z",
         "REDIS_URL": "redis://:pw@h", "github_token": "t", "HOME": "/home/a"},
    )  # fmt: skip
    assert env == {"PATH": "/bin", "HOME": "/home/a", "TERM": "dumb"}
