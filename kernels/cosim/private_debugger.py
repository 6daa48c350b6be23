"""Lab's Python debugger over a Unix socket: debugpy without any TCP port.

ipykernel starts debugpy with ``debugpy.listen(("127.0.0.1", port))``, which spawns debugpy's
adapter process listening on loopback TCP: anyone on the machine could connect to it and
evaluate code in the kernel (a debug client needs no credentials). Under ``transport = "ipc"``
CoSim's kernels use :class:`UnixSocketDebugger` instead: pydevd's own debug-protocol server runs
in the kernel (debugpy's ``in_process_debug_adapter``) on a Unix socket next to the kernel's
other sockets, in the user's private runtime folder, and ipykernel's zmq STREAM socket reaches
it over ``ipc://``. Lab's requests and replies are the same.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import zmq
from ipykernel.compiler import get_tmp_directory
from ipykernel.debugger import Debugger, DebugpyClient

# Replies the attach sequence waits for: pydevd answers attach before configurationDone (the
# adapter answered after), so replies are matched by request, not taken in order.
_ATTACH_SEQUENCE = ("attach", "configurationDone")


class _UnixServerSocket(socket.socket):
    """An AF_UNIX listening socket that names itself like a TCP one: pydevd unpacks
    ``getsockname()`` into (host, port)."""

    def getsockname(self) -> Any:
        return ("unix", 0)


def listen(path: str) -> None:
    """Start pydevd's debug server in this process on the Unix socket ``path`` (mode 0600).

    Runs inside the kernel (sent by :meth:`UnixSocketDebugger.start` as silent code)."""
    import debugpy
    import debugpy.server.api  # puts debugpy's own pydevd on sys.path
    import pydevd
    from _pydevd_bundle import pydevd_comm

    def unix_server_socket(host: str, port: int) -> socket.socket:
        server = _UnixServerSocket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(path):
            os.unlink(path)
        old = os.umask(0o177)
        try:
            server.bind(path)
        finally:
            os.umask(old)
        return server

    # pydevd imported the function by name too; both must build the Unix socket.
    pydevd_comm.create_server_socket = unix_server_socket
    pydevd.create_server_socket = unix_server_socket
    debugpy.listen(("127.0.0.1", 0), in_process_debug_adapter=True)


class UnixDebugpyClient(DebugpyClient):
    """ipykernel's client of debugpy, connected over ``ipc://`` instead of TCP."""

    socket_path = ""

    def get_host_port(self) -> tuple[str, str]:
        # ipykernel puts these in the attach request; pydevd in process ignores them.
        return "unix", "0"

    def _get_endpoint(self) -> str:
        return f"ipc://{self.socket_path}"

    async def _handle_init_sequence(self) -> Any:
        await self.init_event.wait()
        done = {"type": "request", "seq": int(self.init_event_seq) + 1,
                "command": "configurationDone"}  # fmt: skip
        self._send_request(done)
        replies: dict[str, Any] = {}
        while not set(_ATTACH_SEQUENCE) <= replies.keys():
            reply = await self._wait_for_response()
            replies[reply.get("command", "")] = reply
        return replies["attach"]


class UnixSocketDebugger(Debugger):
    """ipykernel's Debugger with debugpy listening on a Unix socket (set ``socket_path``)."""

    socket_path = ""

    def __init__(self, log: Any, debugpy_stream: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(log, debugpy_stream, *args, **kwargs)
        client = UnixDebugpyClient(log, debugpy_stream, self._handle_event)
        client.socket_path = self.socket_path
        self.debugpy_client = client

    def start(self) -> bool:
        if not self.debugpy_initialized:
            # Where dumpCell writes cells for breakpoints (ipykernel's start makes it too).
            Path(get_tmp_directory()).mkdir(mode=0o700, parents=True, exist_ok=True)
            code = f"import cosim.private_debugger as _d; _d.listen({self.socket_path!r}); del _d"
            self.session.send(
                self.shell_socket,
                "execute_request",
                {"code": code, "silent": True},
                None,
                self.shell_socket.getsockopt(zmq.ROUTING_ID),
            )
            _ident, msg = self.session.recv(self.shell_socket, mode=0)
            self.debugpy_initialized = msg["content"]["status"] == "ok"
        # The rest of ipykernel's start (its cell clean-up and the client connection), with
        # debugpy already listening, so it sends no listen() of its own.
        return bool(super().start())


def debugger_class(socket_path: str) -> type[UnixSocketDebugger]:
    """A :class:`UnixSocketDebugger` on ``socket_path``, for ``IPythonKernel.debugger_class``."""
    return type("UnixSocketDebugger", (UnixSocketDebugger,), {"socket_path": socket_path})
