"""The server's contents manager: writes into a read-only mount answer 403 with a reason.

Admin-declared datasets are read-only bind mounts under ``~/datasets/<name>``. Jupyter's file
manager turns EPERM/EACCES into 403 but any other OSError into "500: Unexpected error while
saving file", so a student saving into a dataset from Lab's file browser saw a server error.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupyter_server.utils import to_api_path
from tornado.web import HTTPError


class CoSimContentsManager(AsyncLargeFileManager):
    """Jupyter's default contents manager, plus EROFS -> 403."""

    @contextmanager
    def perm_to_403(self, os_path: str = "") -> Iterator[None]:
        try:
            with super().perm_to_403(os_path):
                yield
        except OSError as err:
            if err.errno != errno.EROFS:
                raise
            path = to_api_path(os_path or err.filename or "", root=self.root_dir)
            reason = "datasets are mounted read-only; copy what you want to change"
            raise HTTPError(403, f"{path} is on a read-only file system ({reason})") from err


def use_by_default(serverapp: Any) -> None:
    """Make CoSimContentsManager the server's unless its config names another class."""
    if serverapp.contents_manager_class is AsyncLargeFileManager:
        serverapp.contents_manager_class = CoSimContentsManager
