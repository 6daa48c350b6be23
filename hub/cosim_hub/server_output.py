"""Where a local user server's stdin/stdout/stderr go: never to the hub's own descriptors.

A child inherits fds 0-2 from the hub, and the hub's stdout is its root-owned log, so a user
server (and every kernel, terminal and job it starts) could write into ``logs/hub.log``. Instead
stdin is /dev/null and stdout/stderr go to a log file in the user's own home, opened *after* the
child has become the user: a symlink planted there can only reach what the user may write anyway.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

SERVER_LOG = Path(".cosim") / "logs" / "server.log"
# One previous log is kept as server.log.1 when the current one passes this size at a start.
ROTATE_BYTES = 10 * 1024 * 1024


def server_log_path(home: str | os.PathLike[str]) -> Path:
    return Path(home) / SERVER_LOG


def make_output_redirect(home: str | os.PathLike[str]) -> Callable[[], None]:
    """A preexec step (run as the user, in the child) that points fds 0, 1 and 2 at the user's
    own files. If the log cannot be opened the output is dropped rather than inherited."""
    log = server_log_path(home)

    def redirect() -> None:
        null = os.open(os.devnull, os.O_RDWR)
        try:
            log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if log.is_file() and log.stat().st_size > ROTATE_BYTES:
                os.replace(log, log.with_name(log.name + ".1"))
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        except OSError:
            out = null
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        for fd in {null, out}:
            os.close(fd)

    return redirect
