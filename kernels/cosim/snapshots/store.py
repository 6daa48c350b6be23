"""The snapshot store in ``<workspace>/.cosim/snapshots``: content-addressed blobs + manifests.

Layout::

    blobs/ab/abcdef...      zstd-compressed file contents, named by the sha256 of the raw bytes
    manifests/<id>.json     one per snapshot, written last (a snapshot exists iff its manifest does)
    index.json              path -> (size, mtime_ns, inode, sha256): only changed files are hashed
    lock                    flock: one writer at a time, others wait their turn

Every write goes to a temp file in the same directory, is fsynced, then renamed into place, so a
crash leaves the old state or the new one, never a torn file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import zstandard

STORE_DIR = Path(".cosim") / "snapshots"
HASH_RE = re.compile(r"^[0-9a-f]{64}$")
# UTC time to the microsecond, then a random part: ids sort in the order they were taken.
ID_RE = re.compile(r"^[0-9]{8}T[0-9]{12}-[0-9a-f]{8}$")
CHUNK = 1 << 20
SMALL_FILE = 4 << 20  # compressed in one call; larger files are streamed


class SnapshotError(Exception):
    """A problem the user can act on; the message says what and what to do."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` in one rename; ``durable`` also fsyncs file and folder
    (a cache such as the index can skip that: a lost update only costs re-hashing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)


def disk_error(err: OSError) -> SnapshotError:
    import errno

    if err.errno in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
        return SnapshotError(
            f"no room to write the snapshot ({err.strerror}); free space or raise the quota — "
            "earlier snapshots are intact"
        )
    return SnapshotError(f"could not write the snapshot: {err}")


class SnapshotStore:
    def __init__(self, workspace: str | os.PathLike[str]) -> None:
        self.workspace = Path(workspace).resolve()
        if not self.workspace.is_dir():
            raise SnapshotError(f"workspace {self.workspace} is not a directory")
        self.root = self.workspace / STORE_DIR
        self.blobs = self.root / "blobs"
        self.manifests = self.root / "manifests"

    # -- locking ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a second writer waits its turn
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- blobs --------------------------------------------------------------------------------
    def blob_path(self, digest: str) -> Path:
        if not HASH_RE.match(digest):
            raise SnapshotError(f"not a sha256 digest: {digest!r}")
        return self.blobs / digest[:2] / digest

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).exists()

    def put_file(self, source: Path, digest: str, level: int = 1) -> int:
        """Store ``source`` under ``digest`` unless present; returns compressed bytes written.

        No fsync here: the caller syncs once after all blobs (``sync()``) and before it writes
        the manifest, which keeps the crash guarantee at a fraction of the cost.
        """
        target = self.blob_path(digest)
        if target.exists():
            return 0
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                if os.fstat(src.fileno()).st_size <= SMALL_FILE:
                    out.write(zstandard.ZstdCompressor(level=level).compress(src.read()))
                else:
                    zstandard.ZstdCompressor(level=level).copy_stream(src, out)
            written = os.path.getsize(tmp)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return written

    def put_bytes(self, data: bytes, digest: str, level: int = 1) -> int:
        """Like put_file, for content already in memory."""
        target = self.blob_path(digest)
        if target.exists():
            return 0
        target.parent.mkdir(parents=True, exist_ok=True)
        compressed = zstandard.ZstdCompressor(level=level).compress(data)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(compressed)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return len(compressed)

    @staticmethod
    def sync() -> None:
        """Make every blob written so far durable before a manifest refers to it."""
        os.sync()

    def put_blob_stream(self, digest: str, compressed: IO[bytes]) -> None:
        """Store an already-compressed blob (from an archive) after the caller verified it."""
        target = self.blob_path(digest)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := compressed.read(CHUNK):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def extract_blob(self, digest: str, size: int, out: IO[bytes]) -> None:
        """Decompress a blob into ``out``, refusing more than ``size`` bytes (no bombs) and any
        content whose hash is not ``digest``."""
        extract_verified(self.blob_path(digest).open("rb"), digest, size, out)

    # -- manifests ----------------------------------------------------------------------------
    def manifest_path(self, snapshot_id: str) -> Path:
        if not ID_RE.match(snapshot_id):
            raise SnapshotError(f"not a snapshot id: {snapshot_id!r}")
        return self.manifests / f"{snapshot_id}.json"

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        data = json.dumps(manifest, separators=(",", ":")).encode()
        atomic_write(self.manifest_path(manifest["id"]), data)

    def read_manifest(self, snapshot_id: str) -> dict[str, Any]:
        path = self.manifest_path(snapshot_id)
        try:
            return dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise SnapshotError(f"no snapshot {snapshot_id} in {self.workspace}") from None
        except ValueError as err:
            raise SnapshotError(f"snapshot {snapshot_id} has a broken manifest: {err}") from None

    def ids(self) -> list[str]:
        if not self.manifests.is_dir():
            return []
        return sorted(p.stem for p in self.manifests.glob("*.json") if ID_RE.match(p.stem))

    def resolve(self, ref: str) -> str:
        """A full id from an id, a unique prefix, or ``latest``."""
        ids = self.ids()
        if ref == "latest":
            if not ids:
                raise SnapshotError(f"no snapshots yet in {self.workspace}")
            return ids[-1]
        matches = [i for i in ids if i == ref or i.startswith(ref) or i.endswith(ref)]
        if len(matches) != 1:
            what = "no snapshot" if not matches else "more than one snapshot"
            raise SnapshotError(f"{what} matches {ref!r}; see `cosim snapshot list`")
        return matches[0]

    # -- index --------------------------------------------------------------------------------
    def read_index(self) -> dict[str, list[Any]]:
        try:
            return dict(json.loads((self.root / "index.json").read_text()))
        except (FileNotFoundError, ValueError):
            return {}

    def write_index(self, index: dict[str, list[Any]]) -> None:
        atomic_write(self.root / "index.json", json.dumps(index).encode(), durable=False)


def extract_verified(compressed: IO[bytes], digest: str, size: int, out: IO[bytes]) -> None:
    hasher = hashlib.sha256()
    written = 0
    with compressed, zstandard.ZstdDecompressor().stream_reader(compressed) as reader:
        while chunk := reader.read(CHUNK):
            written += len(chunk)
            if written > size:
                raise SnapshotError(f"blob {digest[:12]} decompresses past its size ({size} B)")
            hasher.update(chunk)
            out.write(chunk)
    if written != size or hasher.hexdigest() != digest:
        raise SnapshotError(f"blob {digest[:12]} is corrupt (hash or size mismatch)")


def _check_path(path: object, *, allow_store: bool = False) -> str:
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path:
        raise SnapshotError(f"unsafe path in snapshot: {path!r}")
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise SnapshotError(f"unsafe path in snapshot: {path!r}")
    if parts[0] == ".cosim" and not (allow_store and parts[:2] == [".cosim", "jobs"]):
        raise SnapshotError(f"snapshot may not write into .cosim: {path!r}")
    return path


def validate_manifest_paths(manifest: dict[str, Any]) -> None:
    """Refuse a manifest that could write outside its target or in odd ways, before any write."""
    seen: set[str] = set()
    for group in ("files", "dirs", "data_refs", "artifacts"):
        for entry in manifest.get(group, []):
            path = _check_path(entry.get("path"), allow_store=group == "artifacts")
            if path in seen:
                raise SnapshotError(f"duplicate path in snapshot: {path!r}")
            seen.add(path)
            mode = entry.get("mode", 0o644)
            if not isinstance(mode, int) or mode & ~0o777:
                raise SnapshotError(f"unsupported mode {mode!r} for {path!r}")
            if group != "dirs":
                size, digest = entry.get("size"), entry.get("sha256")
                if not isinstance(size, int) or size < 0 or not HASH_RE.match(str(digest)):
                    raise SnapshotError(f"bad size or hash for {path!r}")
    root_mode = manifest.get("root_mode", 0o755)
    if not isinstance(root_mode, int) or root_mode & ~0o777:
        raise SnapshotError(f"unsupported root mode {root_mode!r}")
    env = manifest.get("environment", {})
    if not HASH_RE.match(str(env.get("sha256"))) or not isinstance(env.get("size"), int):
        raise SnapshotError("bad environment entry in snapshot")
