"""A single Jupyter server with cosim_server on a free port (benchmarks don't need a hub)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import _harness  # noqa: F401 - tests/ on sys.path, for cosim_testing
import requests

from cosim_hub.procs import free_port, terminate
from cosim_testing.procs import wait_for


class JupyterServer:
    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.root = Path(tempfile.mkdtemp(prefix="cosim-bench-root-"))
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "REDIS_URL": redis_url}
        self.log = open(self.root / ".server.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={self.port}",
                "--ip=127.0.0.1", f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.root}", "--allow-root",
                # The benchmark's own measuring page is served from files/, which CoSim
                # sandboxes (no scripts) by default.
                "--FileContentsManager.files_handler_class="
                "jupyter_server.base.handlers.AuthenticatedFileHandler",
            ],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        if not wait_for(self._ready, timeout=60, interval=0.2):
            self.stop()
            raise RuntimeError(f"jupyter server did not start; log: {self.root / '.server.log'}")

    def _ready(self) -> bool:
        try:
            r = requests.get(f"{self.url}/cosim/api/status?token={self.token}", timeout=2)
            return r.status_code == 200
        except requests.RequestException:
            return False

    def ws_path(self, sim_id: str) -> str:
        return f"/cosim/api/sims/{sim_id}/ws?token={self.token}"

    def stop(self) -> None:
        terminate([self.proc.pid], grace=10)
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)
