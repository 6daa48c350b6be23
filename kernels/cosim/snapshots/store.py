"""The snapshot store in ``<workspace>/.cosim/snapshots``: content-addressed blobs + manifests.

Layout::

    blobs/ab/abcdef...      zstd-compressed contents of large files, named by the raw bytes' sha256
    packs/<id>.pack, .idx   small files' compressed contents, many per pack (see packs.py)
    manifests/<id>.json     one per snapshot, written last (a snapshot exists iff its manifest does)
    index                   what the last snapshot saw (statindex.py): only changed files are read
    lock                    flock: one writer at a time, others wait their turn

Every write goes to a temp file in the same directory, is fsynced, then renamed into place, so a
crash leaves the old state or the new one, never a torn file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import zstandard

from . import statindex
from .packs import PackReader, PackWriter, fsync_dir

STORE_DIR = Path(".cosim") / "snapshots"
HASH_RE = re.compile(r"^[0-9a-f]{64}$")
# UTC time to the microsecond, then a random part: ids sort in the order they were taken.
ID_RE = re.compile(r"^[0-9]{8}T[0-9]{12}-[0-9a-f]{8}$")
CHUNK = 1 << 20
SMALL_FILE = 4 << 20  # compressed in one call into a pack; larger files are streamed to a blob
INDEX, LEGACY_INDEX = "index", "index.json"  # the stat index (statindex.py); once JSON


_local = threading.local()


def compressor(level: int = 1) -> zstandard.ZstdCompressor:
    """This thread's zstd compressor at ``level``: a new context per file costs about as much as
    compressing a small source file, and one context must not be shared between threads."""
    cache: dict[int, zstandard.ZstdCompressor] = _local.__dict__.setdefault("by_level", {})
    if level not in cache:
        cache[level] = zstandard.ZstdCompressor(level=level)
    return cache[level]


def decompressor() -> zstandard.ZstdDecompressor:
    """This thread's zstd decompressor (reused for the same reason as ``compressor``)."""
    if not hasattr(_local, "decompressor"):
        _local.decompressor = zstandard.ZstdDecompressor()
    return _local.decompressor


class SnapshotError(Exception):
    """A problem the user can act on; the message says what and what to do. ``status`` is the
    HTTP status the server answers with (404 not found, 409 needs force, else 400)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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
        fsync_dir(path.parent)


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
        self.packs = PackReader(self.root / "packs")
        self._dirty_dirs: set[Path] = set()
        self._loose: set[str] | None = None
        self._legacy_index = False

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
        return digest in self.packs or digest in self._loose_blobs()

    def _loose_blobs(self) -> set[str]:
        """Digests stored as files of their own, listed once (few: large files, imports)."""
        if self._loose is None:
            found: set[str] = set()
            if self.blobs.is_dir():
                for sub in self.blobs.iterdir():
                    if sub.is_dir():
                        found.update(n for n in os.listdir(sub) if not n.startswith(".tmp-"))
            self._loose = found
        return self._loose

    def new_pack(self) -> PackWriter:
        return PackWriter(self.packs.folder)

    def commit_pack(self, pack: PackWriter) -> None:
        pack_id = pack.commit()
        if pack_id is not None:
            self.packs.add(pack_id, pack.entries)

    def put_file(self, source: Path, digest: str, level: int = 1) -> int:
        """Store ``source`` as a blob file under ``digest`` unless present; returns compressed
        bytes written."""
        with open(source, "rb") as src:
            return self._write_blob(digest, lambda out: compressor(level).copy_stream(src, out))

    def put_blob_stream(self, digest: str, compressed: IO[bytes]) -> None:
        """Store an already-compressed blob (from an archive) after the caller verified it."""
        self._write_blob(digest, lambda out: shutil.copyfileobj(compressed, out, CHUNK))

    def _write_blob(self, digest: str, write: Callable[[IO[bytes]], object]) -> int:
        """A blob file: temp file, fsync, rename; its folder is synced by ``sync()`` (once for
        all) before a manifest refers to it. Returns the bytes written (0: already stored)."""
        if self.has_blob(digest):
            return 0
        target = self.blob_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            written = os.path.getsize(tmp)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._dirty_dirs.add(target.parent)
        self._loose_blobs().add(digest)
        return written

    def sync(self) -> None:
        """Make the blob files written so far durable (their folders' entries)."""
        for folder in sorted(self._dirty_dirs):
            fsync_dir(folder)
        if self._dirty_dirs:
            fsync_dir(self.blobs)
        self._dirty_dirs.clear()

    def read_compressed(self, digest: str) -> bytes:
        """A blob's stored (compressed) bytes, from its pack or its file."""
        packed = self.packs.read(digest)
        return packed if packed is not None else self.blob_path(digest).read_bytes()

    def extract_blob(self, digest: str, size: int, out: IO[bytes]) -> None:
        """Decompress a blob into ``out``, refusing more than ``size`` bytes (no bombs) and any
        content whose hash is not ``digest``."""
        packed = self.packs.read(digest)
        if packed is None:
            extract_verified(self.blob_path(digest).open("rb"), digest, size, out)
            return
        try:
            declared = zstandard.frame_content_size(packed)
        except zstandard.ZstdError:
            declared = -1
        if declared != size:  # unknown or wrong: the bounded stream says what is wrong
            extract_verified(io.BytesIO(packed), digest, size, out)
            return
        try:  # a small blob whose frame declares the recorded size: one call
            data = decompressor().decompress(packed)
        except zstandard.ZstdError as err:
            raise SnapshotError(f"blob {digest[:12]} is corrupt ({err})") from None
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise SnapshotError(f"blob {digest[:12]} is corrupt (hash or size mismatch)")
        out.write(data)

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
            raise SnapshotError(f"no snapshot {snapshot_id} in {self.workspace}", 404) from None
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
                raise SnapshotError(f"no snapshots yet in {self.workspace}", 404)
            return ids[-1]
        matches = [i for i in ids if i == ref or i.startswith(ref) or i.endswith(ref)]
        if len(matches) != 1:
            what = "no snapshot" if not matches else "more than one snapshot"
            status = 404 if not matches else 400
            raise SnapshotError(f"{what} matches {ref!r}; see `cosim snapshot list`", status)
        return matches[0]

    # -- index --------------------------------------------------------------------------------
    def read_index(self) -> dict[str, Any]:
        """The stat index (``statindex.py``); empty when missing, old or unreadable. A store
        from before the binary index has ``index.json``: read once, removed by the next write."""
        for name in (INDEX, LEGACY_INDEX):
            try:
                data = (self.root / name).read_bytes()
            except OSError:
                continue
            self._legacy_index = name == LEGACY_INDEX
            return statindex.load(data)
        return {}

    def write_index(self, data: bytes) -> None:
        atomic_write(self.root / INDEX, data, durable=False)
        if self._legacy_index:
            (self.root / LEGACY_INDEX).unlink(missing_ok=True)
            self._legacy_index = False


def extract_verified(compressed: IO[bytes], digest: str, size: int, out: IO[bytes]) -> None:
    hasher = hashlib.sha256()
    written = 0
    with compressed, decompressor().stream_reader(compressed) as reader:
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
