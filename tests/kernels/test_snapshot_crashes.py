"""Crash safety: kill -9 during create, and a file-size limit (a full quota) while writing."""

from __future__ import annotations

import hashlib
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import zstandard
from snapshot_workspace import make_workspace

from cosim.snapshots import create, gc, list_snapshots, verify
from cosim.snapshots.store import SnapshotStore


def _cli(ws: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "cosim_cli", "snapshot", "--workspace", str(ws), *args]


def test_kill_9_during_create_never_leaves_a_broken_snapshot(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    for i in range(40):
        (ws / f"file{i}.bin").write_bytes(os.urandom(512_000))
    create(ws, "round 0")  # the rounds below are incremental creates, like users' later ones
    store_files = lambda: {p for p in (ws / ".cosim").rglob("*") if p.is_file()}  # noqa: E731
    start = time.monotonic()
    subprocess.run(_cli(ws, "list"), check=True, capture_output=True)
    startup = time.monotonic() - start  # before this, a kill only stops Python's start-up
    rng = random.Random(7)
    completed = killed = mid_write = round_ = 0
    last = None  # how long the last uninterrupted create took: the machine's load moves it
    # CI once timed a cold first create and then killed every later, faster create after it had
    # finished. Each round aims between start-up and the last whole create's length.
    while (killed < 6 or not mid_write) and round_ < 60:
        for i in range(10):  # something new each time, enough that writing packs takes a while
            (ws / f"file{(10 * round_ + i) % 40}.bin").write_bytes(os.urandom(512_000))
        before = store_files()
        start = time.monotonic()
        proc = subprocess.Popen(_cli(ws, "create", "-m", f"round {round_ + 1}"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            proc.wait(None if last is None else rng.uniform(min(startup, last / 2), last))
            last = time.monotonic() - start
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            killed += proc.wait() == -signal.SIGKILL
            mid_write += bool(store_files() - before)  # it died with a pack half written
        assert verify(ws) == [], f"round {round_}"
        snapshots = list_snapshots(ws)
        assert all(s["message"].startswith("round ") for s in snapshots)
        completed = len(snapshots)
        round_ += 1
    assert killed >= 3, "the test did not interrupt enough creates"
    assert mid_write, "no create was killed while it wrote"
    assert verify(ws) == []
    gc(ws)  # removes what the killed runs left behind
    assert verify(ws) == []
    assert create(ws, "after the crashes")["id"]
    assert len(list_snapshots(ws)) == completed + 1


def test_a_create_killed_between_pack_and_index_does_not_hide_blobs(tmp_path: Path) -> None:
    """The kill point CI once hit: pack renamed, its index still under its temp name. The next
    create must store the blob again, not find it in the temp index (whose pack is garbage)."""
    ws = make_workspace(tmp_path / "ws")
    create(ws, "first")
    (ws / "new.bin").write_bytes(os.urandom(50_000))
    store = SnapshotStore(ws)
    pack = store.new_pack()
    digest = hashlib.sha256((ws / "new.bin").read_bytes()).hexdigest()
    pack.add(digest, zstandard.ZstdCompressor().compress((ws / "new.bin").read_bytes()))
    pack_id = pack.commit()
    assert pack_id is not None
    folder = store.packs.folder  # undo the index's rename: the state a kill there leaves
    (folder / f"{pack_id}.idx").rename(folder / f".tmp-{pack_id}.idx")
    create(ws, "after the crash")
    assert verify(ws) == []
    gc(ws)
    assert verify(ws) == []
    assert not list(folder.glob(".tmp-*"))


def test_an_index_whose_pack_was_lost_is_not_trusted(tmp_path: Path) -> None:
    """A power loss can keep a pack index's rename and lose the pack's: the next create stores
    the blob again instead of referring to a pack that is not there, and gc drops the index."""
    ws = make_workspace(tmp_path / "ws")
    create(ws, "first")
    (ws / "new.bin").write_bytes(os.urandom(50_000))
    store = SnapshotStore(ws)
    pack = store.new_pack()
    data = (ws / "new.bin").read_bytes()
    pack.add(hashlib.sha256(data).hexdigest(), zstandard.ZstdCompressor().compress(data))
    pack_id = pack.commit()
    folder = store.packs.folder
    (folder / f"{pack_id}.pack").unlink()
    create(ws, "after the power loss")
    assert verify(ws) == []
    gc(ws)
    assert not (folder / f"{pack_id}.idx").exists()
    assert verify(ws) == []


def test_file_size_limit_gives_a_clear_error_and_keeps_earlier_snapshots(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    first = create(ws, "before the quota")["id"]
    (ws / "big.bin").write_bytes(os.urandom(3_000_000))

    def small_quota() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))

    result = subprocess.run(_cli(ws, "create", "-m", "too big"), capture_output=True, text=True,
                            preexec_fn=small_quota)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "no room to write the snapshot" in result.stderr
    assert "Traceback" not in result.stderr
    assert [s["id"] for s in list_snapshots(ws)] == [first]
    assert verify(ws) == []


def test_gc_removes_what_a_kill_during_pack_commit_left(tmp_path: Path) -> None:
    """Killed between writing a pack's temp index and renaming it: a temp pack and a temp
    index with the same id are left; gc removes both."""
    ws = make_workspace(tmp_path / "ws")
    create(ws, "first")
    packs = ws / ".cosim" / "snapshots" / "packs"
    (packs / ".tmp-deadbeef.pack").write_bytes(b"partial pack")
    (packs / ".tmp-deadbeef.idx").write_bytes(b"{}")
    gc(ws)
    assert not list(packs.glob(".tmp-*"))
    assert verify(ws) == []
