"""A stopping user server is seen gone as soon as it exits (every stop waits for that: the user's,
the cost guard's cull, Ctrl-C's), not after JupyterHub's backoff of up to 5 s between checks."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
from typing import Any

from cosim_hub.spawner import CoSimLocalSpawner


def _spawner_for(proc: subprocess.Popen[bytes]) -> tuple[CoSimLocalSpawner, list[float]]:
    """A spawner that holds ``proc`` as its server and records when it checks it."""
    spawner = CoSimLocalSpawner()
    spawner.proc, spawner.pid = proc, proc.pid
    checks: list[float] = []
    upstream_poll = spawner.poll

    async def poll() -> Any:
        checks.append(asyncio.get_running_loop().time())
        return await upstream_poll()

    spawner.poll = poll  # type: ignore[method-assign]
    return spawner, checks


def test_a_running_server_is_checked_every_interval_until_the_timeout() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        spawner, checks = _spawner_for(proc)
        assert asyncio.run(spawner.wait_for_death(timeout=1.0)) is False
        # 0.05 s apart: ~20 checks in 1 s (upstream's backoff makes 4-6); slack for a busy loop.
        assert len(checks) >= 10, checks
        assert checks[-1] - checks[0] <= 1.5
    finally:
        proc.kill()
        proc.wait()


def test_an_exited_server_is_seen_at_the_next_check() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    spawner, checks = _spawner_for(proc)
    assert asyncio.run(spawner.wait_for_death(timeout=30)) is True
    assert proc.returncode == 0
    gaps = [b - a for a, b in itertools.pairwise(checks)]
    assert gaps and max(gaps) < 0.5, gaps  # upstream's waits reach 0.8-1.6 s by then
