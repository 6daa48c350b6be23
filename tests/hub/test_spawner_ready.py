"""The spawner's start returns as soon as the new server answers (so the hub's first check finds it
ready), not after JupyterHub's backoff of up to 5 s between checks; a server that exits first
fails the spawn at once, saying so."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest
from jupyterhub.objects import Server

from cosim_hub.procs import free_port
from cosim_hub.spawner import CoSimLocalSpawner

# Starts listening after a delay, answers /user/x/api; prints when it began listening.
LATE_SERVER = """
import sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
class Api(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/user/x/api" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
time.sleep(float(sys.argv[2]))
server = HTTPServer(("127.0.0.1", int(sys.argv[1])), Api)
print(time.monotonic(), flush=True)
server.serve_forever()
"""


def _spawner_for(proc: subprocess.Popen[str]) -> CoSimLocalSpawner:
    spawner = CoSimLocalSpawner(http_timeout=30, start_timeout=60)
    spawner.proc, spawner.pid = proc, proc.pid
    spawner.server = Server(base_url="/user/x/")
    return spawner


async def _wait(spawner: CoSimLocalSpawner, port: int) -> bool:
    started = asyncio.get_running_loop().time()
    return await spawner.wait_until_answering("127.0.0.1", port, started)


def test_start_waits_until_the_server_answers_and_no_longer() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", LATE_SERVER, str(port), "1.5"], stdout=subprocess.PIPE, text=True
    )
    try:
        spawner = _spawner_for(proc)
        assert asyncio.run(_wait(spawner, port)) is True
        answered = time.monotonic()
        assert proc.stdout is not None
        listening = float(proc.stdout.readline())
        # Checks 0.05 s apart: seen within a check or two (the hub's backoff waits 0-3.2 s by
        # then); slack for a loaded machine.
        assert 0 <= answered - listening < 0.5, answered - listening
    finally:
        proc.kill()
        proc.wait()


def test_a_server_that_exits_before_answering_fails_the_spawn_at_once() -> None:
    code = "import sys, time; time.sleep(0.3); sys.exit(3)"
    proc = subprocess.Popen([sys.executable, "-c", code], text=True)
    try:
        spawner = _spawner_for(proc)
        start = time.monotonic()
        with pytest.raises(RuntimeError, match=r"stopped while starting \(exit status 3\)") as err:
            asyncio.run(_wait(spawner, free_port()))
        assert time.monotonic() - start < 5  # not http_timeout (30 s)
        assert "server.log" in err.value.jupyterhub_message  # type: ignore[attr-defined]
    finally:
        proc.kill()
        proc.wait()


def test_the_wait_leaves_the_hub_its_start_timeout() -> None:
    """A server that never answers: the wait ends before the hub's start_timeout would fail
    start() (then the hub's own check decides, with its http_timeout)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], text=True)
    try:
        spawner = _spawner_for(proc)
        spawner.start_timeout = 4
        start = time.monotonic()
        assert asyncio.run(_wait(spawner, free_port())) is False
        assert 3.0 < time.monotonic() - start < 4.0
    finally:
        proc.kill()
        proc.wait()
