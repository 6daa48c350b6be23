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


def _create_cmd(ws: Path, message: str) -> list[str]:
    return [sys.executable, "-m", "cosim_cli", "snapshot", "--workspace", str(ws), "create",
            "-m", message]  # fmt: skip


def test_kill_9_during_create_never_leaves_a_broken_snapshot(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    for i in range(40):  # enough files that a create takes a while
        (ws / f"file{i}.bin").write_bytes(os.urandom(64_000))
    start = time.monotonic()
    subprocess.run(_create_cmd(ws, "round timing"), check=True, capture_output=True)
    full = time.monotonic() - start  # kill anywhere from start-up to just after the end
    rng = random.Random(7)
    completed = killed = 0
    round_ = 0
    # Until enough runs died mid-way: how long a create takes moves with the machine's load.
    while killed < 6 and round_ < 40:
        (ws / f"file{round_ % 40}.bin").write_bytes(os.urandom(64_000))  # something new each time
        proc = subprocess.Popen(_create_cmd(ws, f"round {round_}"), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rng.uniform(0.3 * full, 1.1 * full))
        proc.send_signal(signal.SIGKILL)
        killed += proc.wait() == -signal.SIGKILL
        assert verify(ws) == [], f"round {round_}"
        snapshots = list_snapshots(ws)
        assert all(s["message"].startswith("round ") for s in snapshots)
        completed = len(snapshots)
        round_ += 1
    assert killed >= 3, "the test did not interrupt enough creates"
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

    result = subprocess.run(_create_cmd(ws, "too big"), capture_output=True, text=True,
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
