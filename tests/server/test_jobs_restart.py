"""Jobs outlive their Jupyter server: kill -9 the server, start it again, and the job is still
listed and running (reattached by pid + start time); a job whose process died meanwhile is
marked lost. A real `jupyter server` process, a real training job."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cosim_hub.procs import free_port, pid_alive, terminate
from cosim_testing.procs import wait_for


class Server:
    """``jupyter server`` with cosim_server in its own process, restartable on one root."""

    def __init__(self, root: Path, redis_url: str) -> None:
        self.root, self.port, self.token = root, free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        config = root.parent / "config"
        config.mkdir(exist_ok=True)
        settings = {"CoSimServer": {"redis_url": redis_url}, "CoSimJobs": {"poll_interval": 0.2}}
        (config / "jupyter_server_config.json").write_text(json.dumps(settings))
        self.env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config)}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.root.parent / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={self.port}",
             "--ip=127.0.0.1", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={self.root}", "--allow-root"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        assert wait_for(self._ready, timeout=60, interval=0.2), self.log_text()

    def _ready(self) -> bool:
        try:
            return self.get("status").status_code == 200
        except requests.RequestException:
            return False

    def log_text(self) -> str:
        return (self.root.parent / "server.log").read_text()[-3000:]

    def get(self, *path: str) -> requests.Response:
        return requests.get(self._api(*path), headers=self._auth, timeout=10)

    def post(self, *path: str, body: Any = None) -> requests.Response:
        return requests.post(self._api(*path), json=body or {}, headers=self._auth, timeout=30)

    def _api(self, *path: str) -> str:
        return "/".join([self.url, "cosim", "api", *path])

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            terminate([self.proc.pid], grace=10)


@pytest.fixture
def server(tmp_path: Path, cosim_redis_url: str) -> Iterator[Server]:
    root = tmp_path / "home"
    root.mkdir()
    srv = Server(root, cosim_redis_url)
    srv.start()
    yield srv
    srv.stop()
    for state in (root / ".cosim" / "jobs").glob("*/state.json"):  # no job outlives the test
        pid = json.loads(state.read_text()).get("pid")
        if pid and pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)


def wait_job(srv: Server, job_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def check() -> bool:
        found.update(srv.get("jobs", job_id).json())
        return done(found)

    assert wait_for(check, timeout=90, interval=0.3), (found.get("state"), found.get("log_tail"))
    return found


def test_job_survives_server_kill_and_is_reattached_then_lost(server: Server) -> None:
    params = {"total_timesteps": 10_000_000, "n_envs": 1, "n_steps": 256}
    reply = server.post("jobs", body={"template": "mujoco-ppo", "params": params})
    assert reply.status_code == 201, reply.text
    job_id, pid = reply.json()["id"], reply.json()["pid"]
    job = wait_job(server, job_id, lambda j: (j.get("timesteps") or 0) >= 512)

    server.kill()  # no shutdown hooks: what a crash or an OOM kill does
    assert pid_alive(pid), "the job must outlive its server"
    server.start()
    again = server.get("jobs").json()["jobs"]
    assert [j["id"] for j in again] == [job_id] and again[0]["state"] == "running"
    steps = job["timesteps"]
    job = wait_job(server, job_id, lambda j: j["timesteps"] > steps + 512)
    assert job["state"] == "running" and job["pid"] == pid

    # Its process dies while the server watches from outside (not its parent): lost.
    os.killpg(pid, signal.SIGKILL)
    job = wait_job(server, job_id, lambda j: j["state"] != "running")
    assert job["state"] == "lost", job
    assert "ended while no server was watching" in job["message"]
    assert job["checkpoint"] is None or job["checkpoint"].startswith("step_")


def test_job_that_died_while_the_server_was_down_is_lost(server: Server) -> None:
    params = {"total_timesteps": 10_000_000, "n_envs": 1, "n_steps": 256}
    reply = server.post("jobs", body={"template": "mujoco-ppo", "params": params})
    job_id, pid = reply.json()["id"], reply.json()["pid"]
    wait_job(server, job_id, lambda j: j["state"] == "running")
    server.kill()
    os.killpg(pid, signal.SIGKILL)
    assert wait_for(lambda: not pid_alive(pid), timeout=10)
    server.start()
    job = wait_job(server, job_id, lambda j: j["state"] != "running")
    assert job["state"] == "lost"
    # A lost job with a checkpoint can be resumed; this one may have none yet: then 409.
    resumed = server.post("jobs", job_id, "resume")
    assert resumed.status_code in (200, 409), resumed.text
    if resumed.status_code == 200:
        server.post("jobs", job_id, "stop")
