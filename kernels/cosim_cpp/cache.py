"""The object cache: which compiled objects are still valid, judged by content, not timestamps.

An object is keyed by the compiler's identity, the full compile command and the source's path.
Beside each object a small JSON manifest records the source's hash and the hash of every header
it included last time (from the compiler's ``-MMD`` dependency output). The object is reused only
when the source and every one of those headers still hash the same, so editing a header rebuilds
exactly the files that include it, and touching a file without changing it rebuilds nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cosim.snapshots.store import atomic_write

MISSING = "-"


class FileHashes:
    """Content hashes of files, each read at most once per build."""

    def __init__(self) -> None:
        self._memo: dict[str, str] = {}

    def __call__(self, path: str | Path) -> str:
        key = str(path)
        found = self._memo.get(key)
        if found is None:
            try:
                with open(key, "rb") as f:
                    found = hashlib.blake2b(f.read(), digest_size=16).hexdigest()
            except OSError:
                found = MISSING
            self._memo[key] = found
        return found


def stable_hash(*parts: Any) -> str:
    """A short hash of JSON-able parts, for cache keys."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


def parse_depfile(text: str) -> list[str]:
    """Prerequisites of a Makefile rule as ``g++ -MMD`` and ``clang++ -MMD`` write it.

    Lines end in backslash-newline continuations; spaces inside names are escaped as ``\\ ``.
    """
    joined = text.replace("\\\r\n", " ").replace("\\\n", " ")
    _, _, rest = joined.partition(": ")
    names: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(rest):
        ch = rest[i]
        if ch == "\\" and i + 1 < len(rest) and rest[i + 1] in " #":
            current.append(rest[i + 1])
            i += 2
            continue
        if ch in " \t\n":
            if current:
                names.append("".join(current))
                current = []
        elif ch == "$" and rest[i + 1 : i + 2] == "$":
            current.append("$")
            i += 1
        else:
            current.append(ch)
        i += 1
    if current:
        names.append("".join(current))
    return names


class ObjectCache:
    """Objects and manifests in one folder (``<project>/.cosim/build/obj``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def object_path(self, key: str) -> Path:
        return self.folder / f"{key}.o"

    def manifest_path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def lookup(self, key: str, source_hash: str, hashes: FileHashes) -> str | None:
        """The stamp of a still-valid object for ``key``, or None when it must be compiled."""
        try:
            manifest = json.loads(self.manifest_path(key).read_bytes())
        except (OSError, ValueError):
            return None
        if manifest.get("source") != source_hash or not self.object_path(key).is_file():
            return None
        for dep, digest in manifest.get("deps", {}).items():
            if hashes(dep) != digest:
                return None
        stamp = manifest.get("stamp")
        return stamp if isinstance(stamp, str) else None

    def record(self, key: str, source_hash: str, deps: Iterable[str], hashes: FileHashes) -> str:
        """Remember a fresh object; returns its stamp (what links and binaries are keyed on)."""
        dep_hashes = {dep: hashes(dep) for dep in deps}
        stamp = stable_hash(key, source_hash, dep_hashes)
        manifest = {"source": source_hash, "deps": dep_hashes, "stamp": stamp}
        atomic_write(self.manifest_path(key), json.dumps(manifest).encode(), durable=False)
        return stamp
