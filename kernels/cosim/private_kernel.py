"""IPython kernels that open no TCP port when they talk IPC.

ipykernel binds every channel to the transport in the connection file, except one: the pipe
that forked subprocesses use to send their output to IOPub, which it always binds to a random
127.0.0.1 TCP port. Under ``transport = "ipc"`` this app binds that pipe to a Unix socket next to
the kernel's other sockets instead (in the user's private runtime folder, see
``cosim_hub.private_runtime``), and Lab's debugger reaches debugpy over a Unix socket there too
(``private_debugger``), so the kernel listens on no TCP port at all.

CoSim's ``python3`` kernelspec (``kernelspecs/``, put first on ``JUPYTER_PATH`` by the spawner)
and the C++ kernel start through :func:`launch`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import zmq
from ipykernel.iostream import IOPubThread
from ipykernel.ipkernel import IPythonKernel
from ipykernel.kernelapp import IPKernelApp
from traitlets import Type
from zmq.eventloop.zmqstream import ZMQStream

from .private_debugger import debugger_class

# A folder for JUPYTER_PATH whose kernels/python3 starts this module.
KERNELSPEC_PATH = Path(__file__).with_name("kernelspecs")


class PrivateIOPubThread(IOPubThread):
    """IOPubThread whose subprocess pipe is bound to ``pipe_address`` (an ipc:// URL)."""

    def __init__(self, socket: Any, pipe_address: str, **kwargs: Any) -> None:
        self._pipe_address = pipe_address  # before super(): its __init__ sets the pipe up
        super().__init__(socket, **kwargs)

    def _setup_pipe_in(self) -> None:
        pipe_in = self.socket.context.socket(zmq.PULL)
        pipe_in.linger = 0
        pipe_in.bind(self._pipe_address)
        self._pipe_uuid = os.urandom(16)  # as ipykernel: authenticates pipe messages
        self._pipe_port = 0
        self._pipe_in = ZMQStream(pipe_in, self.io_loop)
        self._pipe_in.on_recv(self._handle_pipe_msg)

    def _setup_pipe_out(self) -> tuple[zmq.Context[Any], zmq.Socket[Any]]:
        ctx: zmq.Context[Any] = zmq.Context()
        pipe_out = ctx.socket(zmq.PUSH)
        pipe_out.linger = 3000  # as ipykernel: 3 s before a subprocess's output is dropped
        pipe_out.connect(self._pipe_address)
        return ctx, pipe_out


# Under the user's memory limit the kernel (and what it starts) should go before the server that
# holds the user's session; the OOM killer prefers higher scores. Raising one's own is allowed.
KERNEL_OOM_SCORE_ADJ = 300


def prefer_oom_kill(score: int = KERNEL_OOM_SCORE_ADJ) -> None:
    path = Path("/proc/self/oom_score_adj")
    try:
        if int(path.read_text()) < score:
            path.write_text(str(score))
    except (OSError, ValueError):
        pass  # not Linux, or not allowed: the kernel runs as before


class PrivateKernelApp(IPKernelApp):
    """IPKernelApp whose IOPub pipe follows the kernel's transport."""

    def initialize(self, argv: Any = None) -> None:
        prefer_oom_kill()
        super().initialize(argv)

    def init_kernel(self) -> None:
        if self.transport == "ipc" and issubclass(self.kernel_class, IPythonKernel):
            # IPythonKernel builds its debugger in __init__ from ``debugger_class`` (a trait
            # that config cannot set), so the kernel class gets the Unix-socket one as default.
            debugger = Type(debugger_class(f"{self.ip}-debugpy"))
            self.kernel_class = type(
                self.kernel_class.__name__, (self.kernel_class,), {"debugger_class": debugger}
            )
        super().init_kernel()

    def init_iopub(self, context: Any) -> None:
        if self.transport != "ipc":
            super().init_iopub(context)
            return
        self.iopub_socket = context.socket(zmq.XPUB)
        self.iopub_socket.linger = 1000
        self._apply_curve_server_options(self.iopub_socket)
        self.iopub_port = self._bind_socket(self.iopub_socket, self.iopub_port)
        self.configure_tornado_logger()
        self.iopub_thread = PrivateIOPubThread(
            self.iopub_socket, f"ipc://{self.ip}-pipe", pipe=True, session=self.session
        )
        self.iopub_thread.start()
        self.iopub_socket = self.iopub_thread.background_socket


def launch(kernel_class: Any = None) -> None:
    kwargs = {"kernel_class": kernel_class} if kernel_class is not None else {}
    PrivateKernelApp.launch_instance(**kwargs)


if __name__ == "__main__":
    launch()
