"""Drive a real ``cosim-cpp`` kernel from tests: start it in a folder, run cells, collect output."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel


def open_workspace() -> Path:
    """A project folder the sandbox's account can enter (as root, programs run as nobody)."""
    path = Path(tempfile.mkdtemp(prefix="cosim-cpp-test-"))
    path.chmod(0o755)
    return path


@contextmanager
def cpp_kernel(cwd: Path) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    km, kc = start_new_kernel(kernel_name="cosim-cpp", cwd=str(cwd), startup_timeout=60)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@dataclass
class CellRun:
    status: str
    reply: dict[str, Any]
    outputs: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (time, msg)
    seconds: float = 0.0

    def text(self, stream: str | None = None) -> str:
        return "".join(
            m["content"]["text"]
            for _, m in self.outputs
            if m["msg_type"] == "stream" and stream in (None, m["content"]["name"])
        )

    @property
    def error(self) -> str:
        errors = [m["content"] for _, m in self.outputs if m["msg_type"] == "error"]
        if not errors:
            return ""
        return errors[0]["evalue"] + "\n" + "\n".join(errors[0]["traceback"])


def execute(kc: BlockingKernelClient, code: str, timeout: float = 60) -> CellRun:
    start = time.perf_counter()
    outputs: list[tuple[float, dict[str, Any]]] = []
    reply = kc.execute_interactive(
        code, timeout=timeout, output_hook=lambda m: outputs.append((time.perf_counter(), m))
    )
    return CellRun(reply["content"]["status"], reply, outputs, time.perf_counter() - start)
