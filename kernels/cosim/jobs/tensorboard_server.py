"""``python -m cosim.jobs.tensorboard_server LOGDIR SOCKET``: TensorBoard on a Unix socket.

TensorBoard only listens on TCP ports, which every local account could reach without Jupyter's
auth. Served on a socket in a folder only this user can enter, it is reachable solely through
the server extension's authenticated proxy (jupyter-server-proxy's handler).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from tensorboard import program
from werkzeug import serving


class UnixSocketServer(serving.ThreadedWSGIServer, program.TensorBoardServer):
    daemon_threads = True

    def __init__(self, wsgi_app: Any, flags: Any) -> None:
        self._path = os.environ["COSIM_TB_SOCKET"]
        if os.path.exists(self._path):
            os.unlink(self._path)
        super().__init__(f"unix://{self._path}", 0, wsgi_app)
        os.chmod(self._path, 0o600)

    def get_url(self) -> str:
        return f"unix://{self._path}"


class SocketTensorBoard(program.TensorBoard):
    def _register_info(self, server: Any) -> None:
        """No entry in TensorBoard's port registry (``tensorboard --list``): there is no port."""


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m cosim.jobs.tensorboard_server LOGDIR SOCKET", file=sys.stderr)
        return 2
    os.environ["COSIM_TB_SOCKET"] = argv[2]
    tb = SocketTensorBoard(server_class=UnixSocketServer)
    tb.configure(logdir=argv[1], reload_interval=5.0)
    return int(tb.main() or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
