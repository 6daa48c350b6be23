"""Pack files: many small compressed blobs appended to one file, like git's and restic's packs.

A first snapshot of 10k source files would otherwise create and rename 10k blob files, which
costs more than hashing and compressing them. A pack is written under a temp name, fsynced and
renamed, and only then is its index (``<id>.idx``: digest -> offset, length) written. A pack
without an index is what a crash left behind: no manifest can refer to it, and gc removes it.

Layout::

    packs/<id>.pack     zstd frames back to back
    packs/<id>.idx      JSON {sha256: [offset, compressed length]}
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import threading
from pathlib import Path

# A committed pack's id; anything else in the folder (a crash's ".tmp-<id>.idx") is not a pack.
PACK_ID_RE = re.compile(r"^[0-9a-f]{24}$")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PackWriter:
    """Appends blobs to a new pack; ``commit`` makes it durable and visible, ``abort`` drops it."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.pack_id = secrets.token_hex(12)
        self._tmp = folder / f".tmp-{self.pack_id}.pack"
        self._file = open(self._tmp, "wb")  # noqa: SIM115 (closed by commit/abort)
        self._offset = 0
        self._lock = threading.Lock()  # workers append concurrently
        self.entries: dict[str, list[int]] = {}

    def __contains__(self, digest: str) -> bool:
        return digest in self.entries

    def add(self, digest: str, compressed: bytes) -> int:
        """Append one blob unless this pack has it already; returns the bytes written."""
        with self._lock:
            if digest in self.entries:
                return 0
            self._file.write(compressed)
            self.entries[digest] = [self._offset, len(compressed)]
            self._offset += len(compressed)
            return len(compressed)

    def commit(self) -> str | None:
        """Durable pack, then its index; the id of the pack, or None when it stayed empty."""
        if not self.entries:
            self.abort()
            return None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self.folder / f"{self.pack_id}.pack")
        index = self.folder / f"{self.pack_id}.idx"
        tmp = self.folder / f".tmp-{self.pack_id}.idx"
        with open(tmp, "wb") as f:
            f.write(json.dumps(self.entries, separators=(",", ":")).encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, index)
        fsync_dir(self.folder)
        return self.pack_id

    def abort(self) -> None:
        self._file.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()


class PackReader:
    """Where each packed blob lives, and its compressed bytes (thread-safe: pread)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # Each committed pack's id and index, the largest first (most lookups end there): one
        # dict per pack as parsed, no merged table (building one cost more than a small
        # snapshot's scan once the packs held 10k blobs). Packs holding the same digest hold
        # the same bytes (checked on extract), so which one answers does not matter.
        self._packs: list[tuple[str, dict[str, list[int]]]] | None = None
        self._fds: dict[str, int] = {}
        self._lock = threading.Lock()

    def _load(self) -> list[tuple[str, dict[str, list[int]]]]:
        if self._packs is None:
            self._packs = sorted(self.indexes().items(), key=lambda p: -len(p[1]))
        return self._packs

    def _find(self, digest: str) -> tuple[str, list[int]] | None:
        for pack_id, entries in self._load():
            where = entries.get(digest)
            if where is not None:
                return pack_id, where
        return None

    def indexes(self) -> dict[str, dict[str, list[int]]]:
        """Every committed pack's index, by pack id (unreadable ones are skipped). A temp index
        a killed create left is not one: pathlib's glob matches dot-names, and trusting it made
        the next create skip blobs that only that unindexed pack held. Nor is an index whose
        pack is missing (a power loss can keep the index's rename and lose the pack's, POSIX
        orders neither before the folder's fsync): its blobs are stored again."""
        out = {}
        if self.folder.is_dir():
            for path in sorted(self.folder.glob("*.idx")):
                if not PACK_ID_RE.match(path.stem) or not path.with_suffix(".pack").exists():
                    continue
                with contextlib.suppress(OSError, ValueError):
                    out[path.stem] = dict(json.loads(path.read_bytes()))
        return out

    def invalidate(self) -> None:
        """Forget what was loaded: packs were added or removed."""
        with self._lock:
            self._packs = None
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()

    def add(self, pack_id: str, entries: dict[str, list[int]]) -> None:
        """Record a pack this process just committed, without re-reading every index."""
        self._load().append((pack_id, entries))

    def __contains__(self, digest: str) -> bool:
        return self._find(digest) is not None

    def read(self, digest: str) -> bytes | None:
        """The compressed bytes of a packed blob, or None when no pack holds it."""
        found = self._find(digest)
        if found is None:
            return None
        pack_id, where = found
        try:
            offset, length = (int(n) for n in where)
        except (TypeError, ValueError):
            raise OSError(f"pack {pack_id} has a malformed index entry") from None
        with self._lock:
            fd = self._fds.get(pack_id)
            if fd is None:
                fd = self._fds[pack_id] = os.open(self.folder / f"{pack_id}.pack", os.O_RDONLY)
        data = os.pread(fd, length, offset)
        if len(data) != length:
            raise OSError(f"pack {pack_id} is truncated")
        return data

    def close(self) -> None:
        self.invalidate()
