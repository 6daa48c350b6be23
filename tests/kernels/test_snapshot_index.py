"""The stat index: an incremental snapshot skips unchanged files and folders, never a change.

Folders and files are aged (mtime an hour back) where a test needs the index to trust them:
entries changed within the racy margin before a scan are always checked again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from snapshot_workspace import make_workspace

from cosim.snapshots import SnapshotStore, create, statindex
from cosim.snapshots.walk import walk

BIG = 300_000  # bytes per file where reads are counted: far above what a snapshot reads else


def _age(root: Path) -> None:
    """Every file and folder under ``root`` (not the store) last modified an hour ago."""
    old = time.time_ns() - 3600 * 10**9
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        dirnames[:] = [d for d in dirnames if d != ".cosim"]
        if ".cosim" in Path(dirpath).relative_to(root).parts[:1]:
            continue
        for name in filenames:
            os.utime(os.path.join(dirpath, name), ns=(old, old), follow_symlinks=False)
        os.utime(dirpath, ns=(old, old))


def _bytes_read() -> int:
    """Bytes this process has read through read() calls so far (Linux)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def _read_during(fn: Any) -> tuple[Any, int]:
    before = _bytes_read()
    result = fn()
    return result, _bytes_read() - before


def _expected(ws: Path) -> dict[str, Any]:
    """What a snapshot must hold, from an uncached walk and the files' bytes read now."""
    files, dirs, skipped = {}, {}, {}
    for e in walk(ws):
        if e.kind == "file":
            files[e.path] = (e.mode, hashlib.sha256((ws / e.path).read_bytes()).hexdigest())
        elif e.kind == "dir":
            dirs[e.path] = e.mode
        else:
            skipped[e.path] = e.reason
    return {"files": files, "dirs": dirs, "skipped": skipped}


def _index(ws: Path) -> dict[str, Any]:
    index = statindex.load((SnapshotStore(ws).root / "index").read_bytes())
    assert index, "no index, or one that did not load"
    return index


def _write_index(ws: Path, index: dict[str, Any]) -> None:
    (SnapshotStore(ws).root / "index").write_bytes(statindex.dump(index["rules"], index["dirs"]))


def _held(manifest: dict[str, Any]) -> dict[str, Any]:
    return {
        "files": {f["path"]: (f["mode"], f["sha256"]) for f in manifest["files"]},
        "dirs": {d["path"]: d["mode"] for d in manifest["dirs"]},
        "skipped": {s["path"]: s["reason"] for s in manifest["skipped"]},
    }


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = make_workspace(tmp_path / "ws")
    (root / "deep" / "a" / "b").mkdir(parents=True)
    for i in range(8):
        (root / "deep" / "a" / "b" / f"w{i}.bin").write_bytes(os.urandom(BIG))
    _age(root)
    return root


def test_unchanged_files_are_not_read_again_and_a_changed_one_is(ws: Path) -> None:
    first = create(ws, "one")
    second, read = _read_during(lambda: create(ws, "two"))
    assert read < BIG, f"an unchanged workspace was read again ({read} B)"
    assert _held(second) == _held(first) == _expected(ws)
    changed = ws / "deep" / "a" / "b" / "w3.bin"
    data = changed.read_bytes()
    changed.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, other content
    third, read = _read_during(lambda: create(ws, "three"))
    assert BIG <= read < 3 * BIG
    assert _held(third) == _expected(ws) != _held(second)


def test_new_ignore_rules_relist_folders_but_do_not_reread_files(ws: Path) -> None:
    create(ws, "one")
    (ws / ".cosimignore").write_text("*.log\nw0.bin\n")
    manifest, read = _read_during(lambda: create(ws, "two"))
    assert read < BIG
    assert "deep/a/b/w0.bin" not in _held(manifest)["files"]
    assert _held(manifest) == _expected(ws)


def test_a_same_size_edit_that_puts_the_mtime_back_is_seen(ws: Path) -> None:
    # Same size, same mtime (put back, as `touch -r` or a careless tool does), same inode: only
    # the ctime, which no user can set, tells the file changed.
    create(ws, "one")
    run_sh = ws / "run.sh"
    st = run_sh.stat()
    run_sh.write_bytes(run_sh.read_bytes().replace(b"run", b"RUN"))
    os.utime(run_sh, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (run_sh.stat().st_size, run_sh.stat().st_ino) == (st.st_size, st.st_ino)
    assert _held(create(ws, "two")) == _expected(ws)


def test_a_file_changed_just_before_a_snapshot_is_read_again_next_time(ws: Path) -> None:
    # Its mtime may share a clock tick (a second, on some filesystems) with a later same-size
    # edit, so the next snapshot cannot trust it; once it is old, it is trusted.
    create(ws, "one")
    fresh = ws / "deep" / "fresh.bin"
    fresh.write_bytes(os.urandom(BIG))
    create(ws, "two")
    _, read = _read_during(lambda: create(ws, "three"))
    assert read >= BIG, "a racy file was trusted"
    _age(ws)
    create(ws, "four")  # the ctime changed with the ageing: read once more
    _, read = _read_during(lambda: create(ws, "five"))
    assert read < BIG


def test_a_folder_changed_just_before_a_snapshot_is_listed_again_next_time(ws: Path) -> None:
    create(ws, "one")
    (ws / "deep" / "a" / "new.txt").write_text("new")
    create(ws, "two")
    index = _index(ws)
    assert index["dirs"]["deep/a"][1] == -1  # never matches a folder's mtime
    assert index["dirs"]["deep/a/b"][1] == (ws / "deep" / "a" / "b").stat().st_mtime_ns


def _replace_by_symlink(path: Path) -> None:
    path.unlink()
    path.symlink_to("w0.bin")


def _mutations(ws: Path) -> list[tuple[str, Any]]:
    b = ws / "deep" / "a" / "b"
    return [
        ("new file in an unchanged folder tree", lambda: (b / "new.py").write_text("x = 1\n")),
        ("file deleted", lambda: (b / "w1.bin").unlink()),
        ("file renamed", lambda: (b / "w2.bin").rename(b / "w2-renamed.bin")),
        ("file replaced by a folder", lambda: ((b / "w4.bin").unlink(), (b / "w4.bin").mkdir())),
        ("file made executable", lambda: os.chmod(b / "w5.bin", 0o755)),
        ("folder made private", lambda: os.chmod(ws / "deep" / "a", 0o700)),
        ("file replaced by a symlink", lambda: _replace_by_symlink(b / "w6.bin")),
        ("folder removed", lambda: shutil.rmtree(ws / "empty" / "nested")),
        ("ignore rules changed", lambda: (ws / ".cosimignore").write_text("*.log\n*.bin\n")),
        ("ignore rules relaxed", lambda: (ws / ".cosimignore").write_text("")),
        ("same-size edit in place", lambda: (b / "w7.bin").write_bytes(os.urandom(BIG))),
    ]


def test_every_kind_of_change_is_seen_in_aged_folders(ws: Path) -> None:
    create(ws, "start")
    for what, mutate in _mutations(ws):
        _age(ws)
        create(ws, f"before: {what}")  # the index now trusts every folder and file
        mutate()
        assert _held(create(ws, what)) == _expected(ws), what


def test_an_index_naming_entries_outside_their_folder_is_not_trusted(
    ws: Path, tmp_path: Path
) -> None:
    (tmp_path / "outside.txt").write_text("not part of the workspace")
    create(ws, "one")
    index = _index(ws)
    # deep/a/b: a folder the index trusts (the root changed with the store's creation)
    folder = index["dirs"]["deep/a/b"]  # stat, then kinds, names and keys, aligned
    folder[3:6] = ["f" + folder[3], ["../../../../outside.txt", *folder[4]], [None, *folder[5]]]
    _write_index(ws, index)
    manifest = create(ws, "two")
    assert not [f for f in manifest["files"] if "outside" in f["path"]]
    assert _held(manifest) == _expected(ws)


def test_entry_modes_are_read_fresh(ws: Path) -> None:
    create(ws, "one")
    os.chmod(ws / "private.txt", 0o640)
    held = _held(create(ws, "two"))
    assert held["files"]["private.txt"][0] == stat.S_IMODE((ws / "private.txt").stat().st_mode)


def test_a_cached_entry_of_another_kind_than_on_disk_lists_its_folder_again(ws: Path) -> None:
    # What a change between a folder's stat and its entries' lstat looks like (a race with the
    # walk), made here by editing the index: the folder "deep/a" cached as a file.
    create(ws, "one")
    index = _index(ws)
    index["dirs"]["deep"][3:6] = ["f", ["a"], [None]]
    _write_index(ws, index)
    assert _held(create(ws, "two")) == _expected(ws)


def test_a_folder_removed_while_the_walk_reaches_it_reads_as_empty(tmp_path: Path) -> None:
    from cosim.snapshots import statindex

    gone = tmp_path / "gone"  # listed by its parent, removed before its own listing
    assert statindex._list(str(gone), "gone/", lambda path: False, ()) == ("", [], [])


def test_a_json_index_from_before_is_used_then_replaced(ws: Path) -> None:
    create(ws, "one")
    _age(ws)
    create(ws, "two")  # trusts every folder and file from here on
    root = SnapshotStore(ws).root
    (root / "index.json").write_text(json.dumps(_index(ws)))  # what older versions wrote
    (root / "index").unlink()
    (ws / "new.txt").write_text("new")
    manifest, read = _read_during(lambda: create(ws, "three"))
    assert read < BIG, "the JSON index was not used"
    assert _held(manifest) == _expected(ws)
    assert not (root / "index.json").exists() and _index(ws)


def test_a_truncated_index_means_reading_everything_again(ws: Path) -> None:
    create(ws, "one")
    _age(ws)
    create(ws, "two")
    path = SnapshotStore(ws).root / "index"
    path.write_bytes(path.read_bytes()[:-100])
    (ws / "deep" / "a" / "b" / "w3.bin").write_bytes(os.urandom(BIG))  # same size, new bytes
    manifest, read = _read_during(lambda: create(ws, "three"))
    assert read >= 8 * BIG, "a truncated index was trusted"
    assert _held(manifest) == _expected(ws)
