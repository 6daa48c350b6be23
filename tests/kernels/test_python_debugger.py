"""Lab's debugger works on ``python3`` kernels: kernel_info advertises it and debugpy answers.

CoSim's kernels under ``transport = "ipc"`` (every user server) run debugpy on a Unix socket:
a debug client needs no credentials, so a TCP port would let any local user run code in the
kernel (issue 17).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager, start_new_kernel
from proc_sockets import descendants, is_below, tcp_sockets

from cosim.private_kernel import KERNELSPEC_PATH


@pytest.fixture(scope="module")
def python_kernel() -> Iterator[Any]:
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60)
    yield kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def debug_request(kc: Any, seq: int, command: str, **arguments: Any) -> dict[str, Any]:
    content = {"type": "request", "seq": seq, "command": command, "arguments": arguments}
    msg = kc.session.msg("debug_request", content)
    kc.control_channel.send(msg)
    while True:
        reply = kc.control_channel.get_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            return reply["content"]


def test_kernel_info_advertises_the_debugger(python_kernel: Any) -> None:
    content = python_kernel.kernel_info(reply=True, timeout=30)["content"]
    # Protocol 5.5 (ipykernel 7) lists it in supported_features; older kernels had "debugger".
    assert "debugger" in content.get("supported_features", []) or content.get("debugger") is True


def test_debugger_initializes_and_reports_its_state(python_kernel: Any) -> None:
    init = debug_request(python_kernel, 1, "initialize", clientID="cosim-test",
                         adapterID="python", pathFormat="path", linesStartAt1=True,
                         columnsStartAt1=True)  # fmt: skip
    assert init["success"] is True and init["command"] == "initialize"
    attach = debug_request(python_kernel, 2, "attach")
    assert attach["success"] is True
    info = debug_request(python_kernel, 3, "debugInfo")
    assert info["success"] is True and info["body"]["isStarted"] is True
    assert info["body"]["tmpFilePrefix"]  # where Lab's breakpoints in cells map to
    debug_request(python_kernel, 4, "disconnect", restart=False, terminateDebuggee=True)


# ---- CoSim's kernels under transport=ipc: the debugger on a Unix socket, no TCP port ----------


@pytest.fixture(scope="module")
def ipc_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Path]]:
    """CoSim's python3 kernel (cosim.private_kernel) on IPC, as user servers start it."""
    runtime = tmp_path_factory.mktemp("runtime")
    specs = KernelSpecManager()
    specs.kernel_dirs = [str(KERNELSPEC_PATH / "kernels")]
    km = KernelManager(kernel_name="python3", kernel_spec_manager=specs, transport="ipc",
                       connection_file=str(runtime / "kernel-t.json"),
                       ip=str(runtime / "kernel-t-ipc"))  # fmt: skip
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    yield km, kc, runtime
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def test_ipc_kernel_debugs_over_a_unix_socket(ipc_kernel: tuple[Any, Any, Path]) -> None:
    """A whole debugging session (breakpoint, stack, evaluate) with no TCP socket anywhere in
    the kernel's process tree: debugpy listens on a 0600 Unix socket in the runtime folder."""
    km, kc, runtime = ipc_kernel
    assert km.kernel_spec.argv[:3] == ["python", "-m", "cosim.private_kernel"]
    init = debug_request(kc, 1, "initialize", clientID="cosim-test", adapterID="python",
                         pathFormat="path", linesStartAt1=True, columnsStartAt1=True)  # fmt: skip
    assert init["success"] is True
    attach = debug_request(kc, 2, "attach")
    assert attach["success"] is True and attach["command"] == "attach"
    cell = "a = 6\nb = a * 7\n"
    source = debug_request(kc, 3, "dumpCell", code=cell)["body"]["sourcePath"]
    bps = debug_request(kc, 4, "setBreakpoints", source={"path": source},
                        breakpoints=[{"line": 2}], sourceModified=False)  # fmt: skip
    assert bps["body"]["breakpoints"][0]["verified"] is True
    assert debug_request(kc, 5, "configurationDone")["success"] is True
    kc.execute(cell)
    stopped = None
    while stopped is None:
        msg = kc.iopub_channel.get_msg(timeout=30)
        if msg["msg_type"] == "debug_event" and msg["content"]["event"] == "stopped":
            stopped = msg["content"]["body"]
    pid = km.provisioner.process.pid
    family = [pid, *descendants(pid)]
    held = {p: tcp_sockets(p) for p in family}
    assert {p: h for p, h in held.items() if h and (p == pid or is_below(p, pid))} == {}
    sock = runtime / "kernel-t-ipc-debugpy"
    assert sock.is_socket() and sock.stat().st_mode & 0o777 == 0o600

    frames = debug_request(kc, 6, "stackTrace", threadId=stopped["threadId"])["body"]
    assert frames["stackFrames"][0]["line"] == 2
    value = debug_request(kc, 7, "evaluate", expression="a * 7",
                          frameId=frames["stackFrames"][0]["id"], context="repl")  # fmt: skip
    assert value["body"]["result"] == "42"
    debug_request(kc, 8, "continue", threadId=stopped["threadId"])
    assert debug_request(kc, 9, "disconnect", restart=False, terminateDebuggee=True)["success"]
