"""Run a real ``redis-server`` as a child process (for ``cosim up`` and for tests)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from cosim_protocol.limits import (
    REDIS_MAX_QUERY_BYTES,
    REDIS_MAX_VALUE_BYTES,
    REDIS_MAXMEMORY,
    REDIS_MAXMEMORY_POLICY,
)

from .procs import free_port, terminate


class RedisServerError(RuntimeError):
    """redis-server is missing or did not come up; the message says what to do."""


def find_redis_server() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise RedisServerError(
            "redis-server not found: install it (apt-get install redis-server; `make install` "
            "does) or set REDIS_URL to a Redis you run yourself"
        )
    return path


def _ping(port: int, password: str | None) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            if password:
                sock.sendall(f"AUTH {password}\r\n".encode())
                if not sock.recv(64).startswith(b"+OK"):
                    return False
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` on loopback.

    ``persist=True`` keeps an append-only file under ``data_dir`` (what ``cosim up`` wants);
    tests pass ``persist=False`` for speed. Memory is capped at ``maxmemory`` bytes with the
    ``noeviction`` policy (writes past it are refused, nothing is dropped), and one value at
    ``REDIS_MAX_VALUE_BYTES`` (cosim_protocol.limits).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        password: str | None = None,
        persist: bool = True,
        env: dict[str, str] | None = None,
        maxmemory: int = REDIS_MAXMEMORY,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.password = password
        self.persist = persist
        self.env = env
        self.maxmemory = maxmemory
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        binary = find_redis_server()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        args = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--logfile",
            str(self.data_dir / "redis.log"),
            "--maxmemory",
            str(self.maxmemory),
            "--maxmemory-policy",
            REDIS_MAXMEMORY_POLICY,
            "--proto-max-bulk-len",
            str(REDIS_MAX_VALUE_BYTES),
            "--client-query-buffer-limit",
            str(REDIS_MAX_QUERY_BYTES),
        ]
        if self.persist:
            args += ["--appendonly", "yes", "--save", "300 1"]
        else:
            args += ["--appendonly", "no", "--save", ""]
        if self.password:
            # Through stdin-less config would be nicer; argv is readable only by root and us.
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=self.env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = (self.proc.stderr.read() if self.proc.stderr else b"").decode()[-300:]
                log = self.data_dir / "redis.log"
                tail = log.read_text()[-300:] if log.exists() else ""
                raise RedisServerError(
                    f"redis-server exited at start (code {self.proc.returncode}): "
                    f"{(err or tail).strip()}"
                )
            if _ping(self.port, self.password):
                return self
            time.sleep(0.02)
        self.stop()
        raise RedisServerError(f"redis-server did not answer PING on port {self.port}")

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM makes redis flush its append-only file before it exits."""
        if self.proc is None:
            return
        terminate([self.proc.pid], grace=grace)
        self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
