"""``/cosim/api/snapshots``: the workspace snapshots of this server's root folder, from Lab.

Snapshot work (hashing, compression) runs in a thread so the server keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from cosim.snapshots import (
    SnapshotError,
    create,
    diff,
    export,
    import_archive,
    list_snapshots,
    restore,
    show,
)

from .base import CoSimError, CoSimHandler
from .errors import http_error

T = TypeVar("T")
MAX_IMPORT_BYTES = 2 * 1024**3


class _SnapshotHandler(CoSimHandler):
    @property
    def workspace(self) -> str:
        return str(self.settings["server_root_dir"])

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, lambda: fn(*args, **kwargs))
        except SnapshotError as err:
            raise http_error(err, str(err).replace("--force", '"force": true')) from None


class SnapshotsHandler(_SnapshotHandler):
    async def get(self) -> None:
        self.finish({"snapshots": await self.run(list_snapshots, self.workspace)})

    async def post(self) -> None:
        body = self.read_json_body() or {}
        if not isinstance(body, dict):
            raise CoSimError(400, 'body must be {"message": "..."}')
        message = body.get("message", "")
        if not isinstance(message, str) or len(message) > 2000:
            raise CoSimError(400, "message must be a string of at most 2000 characters")
        manifest = await self.run(create, self.workspace, message)
        self.set_status(201)
        self.finish({"id": manifest["id"], "message": message, "files": len(manifest["files"]),
                     "stored_bytes": manifest["stored_bytes"]})  # fmt: skip


class SnapshotHandler(_SnapshotHandler):
    async def get(self, ref: str) -> None:
        self.finish(await self.run(show, self.workspace, ref))


class SnapshotDiffHandler(_SnapshotHandler):
    async def get(self, ref: str) -> None:
        against = self.get_query_argument("against", "working")
        self.finish(await self.run(diff, self.workspace, ref, against))


class SnapshotRestoreHandler(_SnapshotHandler):
    async def post(self, ref: str) -> None:
        body = self.read_json_body() or {}
        if not isinstance(body, dict):
            raise CoSimError(400, 'body must be {"force": bool, "target": null | "folder"}')
        force, target = body.get("force", False), body.get("target")
        if not isinstance(force, bool):
            raise CoSimError(400, "force must be true or false")
        allow_startup = body.get("allow_startup_files", False)
        if not isinstance(allow_startup, bool):
            raise CoSimError(400, "allow_startup_files must be true or false")
        if target is not None:
            if not isinstance(target, str) or not target.strip():
                raise CoSimError(400, "target must be a relative folder name")
            target = str(self.confine(target))
        self.finish(
            await self.run(
                restore,
                self.workspace,
                ref,
                target=target,
                force=force,
                allow_startup_files=allow_startup,
            )
        )


class SnapshotExportHandler(_SnapshotHandler):
    async def get(self, ref: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "snapshot.tar"
            await self.run(export, self.workspace, ref, path)
            snapshot_id = (await self.run(show, self.workspace, ref))["id"]
            self.set_header("Content-Type", "application/x-tar")
            self.set_header(
                "Content-Disposition", f'attachment; filename="cosim-snapshot-{snapshot_id}.tar"'
            )
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    self.write(chunk)
                    await self.flush()
        self.finish()


class SnapshotImportHandler(_SnapshotHandler):
    async def post(self) -> None:
        body = self.request.body
        if not body:
            raise CoSimError(400, "send the snapshot archive as the request body")
        if len(body) > MAX_IMPORT_BYTES:
            raise CoSimError(413, "archive too large for an upload; use `cosim snapshot import`")
        fd, tmp = tempfile.mkstemp(suffix=".tar")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            manifest = await self.run(import_archive, self.workspace, tmp)
        finally:
            os.unlink(tmp)
        self.set_status(201)
        self.finish({"id": manifest["id"], "message": manifest.get("message", ""),
                     "files": len(manifest["files"])})  # fmt: skip


def routes() -> list[tuple[str, type]]:
    one = r"/cosim/api/snapshots/(?P<ref>[^/]+)"
    return [
        (r"/cosim/api/snapshots", SnapshotsHandler),
        (r"/cosim/api/snapshots/import", SnapshotImportHandler),
        (one, SnapshotHandler),
        (one + r"/diff", SnapshotDiffHandler),
        (one + r"/restore", SnapshotRestoreHandler),
        (one + r"/export", SnapshotExportHandler),
    ]
