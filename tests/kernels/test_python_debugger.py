"""Lab's debugger works on ``python3`` kernels: kernel_info advertises it and debugpy answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel


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
