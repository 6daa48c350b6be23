"""The workspace tree as a snapshot sees it, reusing what the last snapshot saw where that is safe.

Like git's index, every file is lstat'ed on every snapshot: editing a file in place changes the
file's own stat, never its folder's. What the index saves is the rest of the per-file work:

- a folder whose own stat (inode, mtime, ctime) is unchanged has the same entries as last time
  (creating, deleting or renaming an entry changes the folder's mtime and ctime), so it is not
  listed, sorted or matched against the ignore rules again: its cached entries are lstat'ed
  directly, and a surprise there (an entry gone, or of another kind) lists the folder afresh;
- a file whose stat (size, mtime, inode, ctime) is unchanged keeps its hash (``ops._scan``).
  ctime cannot be set by users, so an edit that puts the old mtime back is still seen.

Racy entries: timestamps have a granularity (a clock tick, a second on some filesystems), so a
file or folder changed again within the tick its stat was taken in keeps its mtime. An entry
whose mtime is not safely before the scan began (read from the store's filesystem, minus a
margin) is stored as racy and never trusted by the next scan, as git does with its index.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Collection
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

INDEX_VERSION = 2
# Entries modified this close to the scan's start are checked again next time: covers 1-2 s
# timestamp granularity (FAT, ext3, some network filesystems) and a little clock skew.
RACY_MARGIN_NS = 2_000_000_000
# A cached folder entry is its kind (one letter) then its name: compact and quick to load.
FILE, DIR, REFERENCE, SYMLINK, SPECIAL = "f", "d", "r", "l", "p"
SKIP_REASONS = {SYMLINK: "symlink", SPECIAL: "special file"}
_KINDS = {FILE, DIR, REFERENCE, SYMLINK, SPECIAL}
_NOT_NAMES = {"", ".", ".."}
NEVER = -1  # the mtime stored for a racy entry: no stat matches it

_by_name = attrgetter("name")


class Tree(NamedTuple):
    """What a scan found, in walk order (sorted names, folders entered where they sort)."""

    entries: list[tuple[str, str, os.stat_result]]  # (kind letter, relative path, lstat)
    dirs: dict[str, list[Any]]  # the folder part of the next index


def rules_key(ignore_lines: list[str], references: Collection[str]) -> str:
    """Cached folder listings hold only when the ignore rules and datasets are the same."""
    text = "\n".join(ignore_lines) + "\0" + "\n".join(sorted(references))
    return hashlib.sha256(text.encode()).hexdigest()


def scan_tree(
    root: Path,
    ignored: Callable[[str], bool],
    references: Collection[str] = (),
    cached_dirs: dict[str, list[Any]] | None = None,
) -> Tree:
    """Every entry of ``root`` a snapshot holds or reports, with its lstat. ``cached_dirs``
    (from the last index, for the same rules) lets unchanged folders skip listing."""
    cache = cached_dirs or {}
    base = str(root)
    entries: list[tuple[str, str, os.stat_result]] = []
    dirs: dict[str, list[Any]] = {}

    def visit(rel: str, dir_stat: os.stat_result) -> None:
        folder = f"{base}/{rel}" if rel else base
        prefix = f"{rel}/" if rel else ""
        cached = cache.get(rel)
        found = None
        if (
            cached is not None
            and cached[1] == dir_stat.st_mtime_ns
            and cached[0] == dir_stat.st_ino
            and cached[2] == dir_stat.st_ctime_ns
        ):
            found = _stat_cached(folder, cached[3])
        if found is None:
            found = _list(folder, prefix, ignored, references)
        children, stats = found
        dirs[rel] = [dir_stat.st_ino, dir_stat.st_mtime_ns, dir_stat.st_ctime_ns, children]
        for child, st in zip(children, stats, strict=True):
            path = prefix + child[1:]
            entries.append((child[0], path, st))
            if child[0] == DIR:
                visit(path, st)

    visit("", os.lstat(base))
    return Tree(entries, dirs)


def _stat_cached(folder: str, children: list[str]) -> tuple[list[str], list[os.stat_result]] | None:
    """lstat of each cached entry, or None when one is gone or changed kind (list afresh)."""
    lstat = os.lstat
    stats = []
    try:
        for child in children:
            st = lstat(f"{folder}/{child[1:]}")
            if _kind(st.st_mode) != child[0] and child[0] != REFERENCE:
                return None
            stats.append(st)
    except OSError:  # gone since the folder's stat was taken: list it again
        return None
    return children, stats


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISDIR(mode):
        return DIR
    return SYMLINK if stat.S_ISLNK(mode) else SPECIAL


def _list(
    folder: str, prefix: str, ignored: Callable[[str], bool], references: Collection[str]
) -> tuple[list[str], list[os.stat_result]]:
    """A folder's entries that are not ignored, sorted by name, as cached entries + lstats."""
    with os.scandir(folder) as it:
        found = sorted(it, key=_by_name)
    children, stats = [], []
    for entry in found:
        path = prefix + entry.name
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:  # deleted while we looked: not part of this snapshot
            continue
        kind = _kind(st.st_mode)
        if path in references:
            kind = REFERENCE
        elif ignored(path + "/" if kind == DIR else path):
            continue
        children.append(kind + entry.name)
        stats.append(st)
    return children, stats


def fs_clock_ns(folder: Path) -> int:
    """Now, by the clock that stamps files in ``folder`` (an mtime can lag the system clock by
    a tick): the mtime of a file made there, or the system clock where none can be made."""
    import tempfile
    import time

    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-clock-")
    except OSError:
        return time.time_ns()
    try:
        return min(os.fstat(fd).st_mtime_ns, time.time_ns())
    finally:
        os.close(fd)
        os.unlink(tmp)


def racy(mtime_ns: int, started_ns: int) -> bool:
    return mtime_ns >= started_ns - RACY_MARGIN_NS


def without_racy(dirs: dict[str, list[Any]], started_ns: int) -> dict[str, list[Any]]:
    """Folder entries to store: those changed too close to the scan's start are never reused."""
    for value in dirs.values():
        if racy(value[1], started_ns):
            value[1] = NEVER
    return dirs


def load(data: bytes) -> dict[str, Any]:
    """An index as stored; an old, unreadable or malformed one is empty (everything is re-read).
    Cached names are checked here, once: a name with a "/" or ".." would lead outside a folder."""
    try:
        index = json.loads(data)
        dirs, files = index["dirs"], index["files"]
        if index["version"] != INDEX_VERSION or not isinstance(index["rules"], str):
            return {}
        for value in dirs.values():
            ino, mtime, ctime, children = value
            if not all(type(n) is int for n in (ino, mtime, ctime)):
                return {}
            for child in children:
                if (
                    child[0] not in _KINDS
                    or child[1:] in _NOT_NAMES
                    or "/" in child
                    or "\0" in child
                ):
                    return {}
        for value in files.values():
            if len(value) != 6:
                return {}
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return {}
    return dict(index)


def dump(rules: str, dirs: dict[str, list[Any]], files: dict[str, list[Any]]) -> bytes:
    index = {"version": INDEX_VERSION, "rules": rules, "dirs": dirs, "files": files}
    return json.dumps(index, separators=(",", ":")).encode()
