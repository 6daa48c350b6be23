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
import marshal
import os
import stat
from collections.abc import Callable, Collection
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

INDEX_VERSION = 3
# The stored form: these bytes, then the index in marshal's format 4 (stable since Python 3.4).
MAGIC = b"cosim-statindex\n"
MARSHAL_VERSION = 4
# Entries modified this close to the scan's start are checked again next time: covers 1-2 s
# timestamp granularity (FAT, ext3, some network filesystems) and a little clock skew.
RACY_MARGIN_NS = 2_000_000_000
# An entry's kind, one letter; a folder's kinds are one string, aligned with its names.
FILE, DIR, REFERENCE, SYMLINK, SPECIAL = "f", "d", "r", "l", "p"
SKIP_REASONS = {SYMLINK: "symlink", SPECIAL: "special file"}
_KINDS = {FILE, DIR, REFERENCE, SYMLINK, SPECIAL}
_FORMAT = {FILE: stat.S_IFREG, DIR: stat.S_IFDIR, SYMLINK: stat.S_IFLNK}
_NOT_NAMES = {"", ".", ".."}
NEVER = -1  # the mtime stored for a racy entry: no stat matches it

_by_name = attrgetter("name")

# One folder in the index: its own stat, then its entries, aligned: kinds (a string), names, and
# for each file its key [size, mtime_ns, inode, ctime_ns, sha256, stored] (0 for other kinds).
INO, MTIME, CTIME, KINDS, NAMES, KEYS = range(6)


class Tree(NamedTuple):
    """What a scan found. ``entries`` are (kind, relative path, lstat, the file's key in the
    last index or None), each folder's entries together, folders in the order they were
    visited (``dirs``, the next index's folders, whose KEYS the caller fills in)."""

    entries: list[tuple[str, str, os.stat_result, Any]]
    dirs: dict[str, list[Any]]
    # Per folder, in ``dirs`` order: where its entries end in ``entries``, and its keys in the
    # last index when its listing came from there (None when it was listed afresh).
    spans: list[tuple[int, list[Any] | None]]


def rules_key(ignore_lines: list[str], references: Collection[str]) -> str:
    """Cached folder listings hold only when the ignore rules and datasets are the same."""
    text = "\n".join(ignore_lines) + "\0" + "\n".join(sorted(references))
    return hashlib.sha256(text.encode()).hexdigest()


def scan_tree(
    root: Path,
    ignored: Callable[[], Callable[[str], bool]],
    references: Collection[str] = (),
    cached_dirs: dict[str, list[Any]] | None = None,
    *,
    trust_listings: bool = True,
) -> Tree:
    """Every entry of ``root`` a snapshot holds or reports, with its lstat. ``ignored`` makes
    the ignore matcher (only needed when a folder is listed); ``cached_dirs`` (the last
    index's) gives files' keys and, with ``trust_listings`` (the same ignore rules and
    datasets as then), lets unchanged folders skip listing."""
    cache = cached_dirs or {}
    base = str(root)
    entries: list[tuple[str, str, os.stat_result, Any]] = []
    dirs: dict[str, list[Any]] = {}
    spans: list[tuple[int, list[Any] | None]] = []
    matcher: list[Callable[[str], bool]] = []

    def match(path: str) -> bool:
        if not matcher:
            matcher.append(ignored())
        return matcher[0](path)

    def visit(rel: str, dir_stat: os.stat_result) -> None:
        folder = f"{base}/{rel}" if rel else base
        prefix = f"{rel}/" if rel else ""
        cached = cache.get(rel)
        stats = reused = None
        if (
            trust_listings
            and cached is not None
            and cached[MTIME] == dir_stat.st_mtime_ns
            and cached[INO] == dir_stat.st_ino
            and cached[CTIME] == dir_stat.st_ctime_ns
        ):
            kinds, names, keys = cached[KINDS], cached[NAMES], cached[KEYS]
            stats = _stat_cached(folder, kinds, names)
            reused = keys
        if stats is None:
            reused = None
            kinds, names, stats = _list(folder, prefix, match, references)
            old = dict(zip(cached[NAMES], cached[KEYS], strict=True)) if cached else {}
            keys = [old.get(name) for name in names]
        dirs[rel] = [dir_stat.st_ino, dir_stat.st_mtime_ns, dir_stat.st_ctime_ns, kinds, names]
        for kind, name, st, key in zip(kinds, names, stats, keys, strict=True):
            entries.append((kind, prefix + name, st, key))
        spans.append((len(entries), reused))
        for kind, name, st in zip(kinds, names, stats, strict=True):
            if kind == DIR:
                visit(prefix + name, st)

    visit("", os.lstat(base))
    return Tree(entries, dirs, spans)


def _stat_cached(folder: str, kinds: str, names: list[str]) -> list[os.stat_result] | None:
    """lstat of each cached entry, or None when one is gone or changed kind (list afresh)."""
    lstat = os.lstat
    stats = []
    try:
        for kind, name in zip(kinds, names, strict=True):
            st = lstat(f"{folder}/{name}")
            expected = _FORMAT.get(kind)
            if expected is not None and st.st_mode & 0o170000 != expected:
                return None
            if kind == SPECIAL and _kind(st.st_mode) != SPECIAL:
                return None
            stats.append(st)
    except OSError:  # gone since the folder's stat was taken: list it again
        return None
    return stats


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISDIR(mode):
        return DIR
    return SYMLINK if stat.S_ISLNK(mode) else SPECIAL


def _list(
    folder: str, prefix: str, ignored: Callable[[str], bool], references: Collection[str]
) -> tuple[str, list[str], list[os.stat_result]]:
    """A folder's entries that are not ignored, sorted by name: kinds, names, lstats."""
    try:
        with os.scandir(folder) as it:
            found = sorted(it, key=_by_name)
    except (FileNotFoundError, NotADirectoryError):  # removed while we walked: now empty
        return "", [], []
    kinds, names, stats = [], [], []
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
        kinds.append(kind)
        names.append(entry.name)
        stats.append(st)
    return "".join(kinds), names, stats


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


def load(data: bytes) -> dict[str, Any]:
    """An index as stored; an old, unreadable or malformed one is empty (everything is re-read).
    Cached names are checked here, once: a name with a "/" or ".." would lead outside a folder.
    The JSON of earlier versions is still read (the next snapshot writes the binary form)."""
    try:
        # marshal: 7 ms to load and 3 to write 10k files' index, JSON 12 and 13. Only this
        # user's own snapshots write the file, and every value is type-checked below.
        binary = data.startswith(MAGIC)
        index = marshal.loads(data[len(MAGIC) :]) if binary else json.loads(data)
        dirs = index["dirs"]
        if index["version"] != INDEX_VERSION or not isinstance(index["rules"], str):
            return {}
        for value in dirs.values():
            ino, mtime, ctime, kinds, names, keys = value
            if not (type(ino) is type(mtime) is type(ctime) is int and type(kinds) is str):
                return {}
            if not len(kinds) == len(names) == len(keys) or not _KINDS.issuperset(kinds):
                return {}
            joined = "".join(names)  # a TypeError unless all are strings
            if "/" in joined or "\0" in joined or not _NOT_NAMES.isdisjoint(names):
                return {}
            for kind, key in zip(kinds, keys, strict=True):
                if key is not None and (kind != FILE or len(key) != 6 or len(key[4]) != 64):
                    return {}
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, EOFError):
        return {}
    return dict(index)


def dump(rules: str, dirs: dict[str, list[Any]]) -> bytes:
    index = {"version": INDEX_VERSION, "rules": rules, "dirs": dirs}
    return MAGIC + marshal.dumps(index, MARSHAL_VERSION)
