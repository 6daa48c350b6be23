"""Snapshots on real files: exact round trips, dedup, diff, data references, safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from snapshot_workspace import make_workspace, tree

from cosim.snapshots import (
    SnapshotError,
    SnapshotStore,
    create,
    diff,
    gc,
    list_snapshots,
    restore,
    show,
    verify,
)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


def _blobs(ws: Path) -> set[str]:
    """Every stored blob's digest: blob files and blobs in packs."""
    store = SnapshotStore(ws)
    packed = {d for entries in store.packs.indexes().values() for d in entries}
    return packed | {p.name for p in store.blobs.rglob("*") if p.is_file()}


def test_round_trip_is_byte_exact_with_modes_and_empty_dirs(ws: Path, tmp_path: Path) -> None:
    before = tree(ws)
    manifest = create(ws, "first")
    assert {f["path"] for f in manifest["files"]} >= {"src/main.py", "run.sh", "private.txt"}
    assert not any("__pycache__" in f["path"] or f["path"].endswith(".log")
                   for f in manifest["files"])  # fmt: skip
    result = restore(ws, manifest["id"], target=tmp_path / "copy")
    assert tree(tmp_path / "copy") == before
    assert result["safety_snapshot"] is None


def test_second_identical_snapshot_adds_no_blobs(ws: Path) -> None:
    create(ws, "one")
    blobs = _blobs(ws)
    second = create(ws, "two")
    assert _blobs(ws) == blobs
    assert second["stored_bytes"] == 0
    (ws / "src" / "main.py").write_text("print('changed')\n")
    third = create(ws, "three")
    assert len(_blobs(ws) - blobs) == 1 and third["stored_bytes"] > 0


def test_diff_against_working_tree_and_between_snapshots(ws: Path) -> None:
    first = create(ws, "one")["id"]
    (ws / "src" / "main.py").write_text("print('hello')\nprint('more')\n")
    (ws / "new.txt").write_text("n")
    (ws / "private.txt").unlink()
    result = diff(ws, first)
    assert result["added"] == ["new.txt"]
    assert result["removed"] == ["private.txt"]
    assert result["changed"] == ["src/main.py"]
    assert "+print('more')" in result["patches"]["src/main.py"]
    second = create(ws, "two")["id"]
    between = diff(ws, first, second)
    assert between["changed"] == ["src/main.py"] and between["added"] == ["new.txt"]
    assert between["python_packages"] == {"added": {}, "removed": {}, "changed": {}}


def test_environment_lock_pins_packages(ws: Path) -> None:
    snapshot_id = create(ws)["id"]
    from cosim.snapshots.ops import environment_of

    store = SnapshotStore(ws)
    env = environment_of(store, store.read_manifest(snapshot_id))
    assert env["python"] == sys.version.split()[0]
    assert "mujoco" in env["python_packages"] and "jupyterlab" in env["python_packages"]
    if Path("/usr/bin/dpkg-query").exists():
        assert "bash" in env["debian_packages"]


def test_data_references_are_not_copied_and_are_checked(ws: Path, tmp_path: Path) -> None:
    (ws / "dataset.bin").write_bytes(b"x" * 5000)
    manifest = create(ws, data_threshold=4096)  # model.bin (20 kB) is data too
    assert [r["path"] for r in manifest["data_refs"]] == ["dataset.bin", "model.bin"]
    assert "dataset.bin" not in {f["path"] for f in manifest["files"]}
    (ws / "dataset.bin").write_bytes(b"y" * 5000)
    report = restore(ws, manifest["id"], force=True)["data"]
    assert report == [{**manifest["data_refs"][0], "status": "changed"}]  # model.bin intact
    (ws / "dataset.bin").unlink()
    report = restore(ws, manifest["id"], force=True)["data"]
    assert report[0]["status"] == "missing"


def test_in_place_restore_needs_force_and_keeps_a_safety_snapshot(ws: Path) -> None:
    first = create(ws, "one")["id"]
    (ws / "src" / "main.py").write_text("print('work in progress')\n")
    (ws / "scratch.py").write_text("x = 1\n")
    with pytest.raises(SnapshotError, match="--force"):
        restore(ws, first)
    assert (ws / "scratch.py").exists()  # nothing touched
    result = restore(ws, first, force=True)
    assert (ws / "src" / "main.py").read_text() == "print('hello')\n"
    assert not (ws / "scratch.py").exists()
    safety = show(ws, result["safety_snapshot"])
    assert safety["auto"] and "scratch.py" in {f["path"] for f in safety["files"]}
    restore(ws, safety["id"], force=True)
    assert (ws / "scratch.py").read_text() == "x = 1\n"


def test_restore_to_existing_folder_is_refused(ws: Path, tmp_path: Path) -> None:
    snapshot_id = create(ws)["id"]
    (tmp_path / "taken").mkdir()
    with pytest.raises(SnapshotError, match="already exists"):
        restore(ws, snapshot_id, target=tmp_path / "taken")


def test_corrupt_blob_is_detected_and_never_restored(ws: Path, tmp_path: Path) -> None:
    manifest = create(ws)
    entry = next(f for f in manifest["files"] if f["path"] == "src/main.py")
    store = SnapshotStore(ws)
    (pack,) = store.packs.folder.glob("*.pack")  # small files live in a pack: flip its bytes
    data = bytearray(pack.read_bytes())
    offset, length = json.loads(pack.with_suffix(".idx").read_text())[entry["sha256"]]
    data[offset + length // 2] ^= 0xFF
    pack.write_bytes(bytes(data))
    assert any("src/main.py" in p for p in verify(ws))
    with pytest.raises(SnapshotError, match="corrupt"):
        restore(ws, manifest["id"], target=tmp_path / "copy")
    assert not (tmp_path / "copy").exists()
    assert not list(tmp_path.glob(".cosim-restore-*"))


def test_packed_blob_that_decompresses_past_its_size_is_refused(ws: Path, tmp_path: Path) -> None:
    import zstandard

    manifest = create(ws)
    entry = next(f for f in manifest["files"] if f["path"] == "src/main.py")
    folder = SnapshotStore(ws).packs.folder
    (pack,) = folder.glob("*.pack")
    index = json.loads(pack.with_suffix(".idx").read_text())
    bomb = zstandard.ZstdCompressor().compress(bytes(50 * 2**20))  # 50 MB of zeros, ~2 kB
    index[entry["sha256"]] = [pack.stat().st_size, len(bomb)]
    with open(pack, "ab") as f:
        f.write(bomb)
    pack.with_suffix(".idx").write_text(json.dumps(index))
    with pytest.raises(SnapshotError, match="past its size"):
        restore(ws, manifest["id"], target=tmp_path / "copy")
    assert not (tmp_path / "copy").exists()


def test_concurrent_creates_both_succeed(ws: Path) -> None:
    errors: list[BaseException] = []

    def take(i: int) -> None:
        try:
            create(ws, f"parallel {i}")
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(s["message"] for s in list_snapshots(ws)) == ["parallel 0", "parallel 1"]


def test_gc_removes_only_unreferenced_blobs(ws: Path) -> None:
    create(ws)
    store = SnapshotStore(ws)
    orphan = store.blob_path("f" * 64)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"junk")
    assert gc(ws)["removed_blobs"] == 1
    assert verify(ws) == []


def test_gc_rewrites_packs_without_the_dead_blobs(ws: Path) -> None:
    first = create(ws, "first")["id"]
    (ws / "scratch.txt").write_text("only in the first snapshot\n")
    second = create(ws, "second")
    scratch = next(f for f in second["files"] if f["path"] == "scratch.txt")
    (SnapshotStore(ws).manifests / f"{second['id']}.json").unlink()  # as if deleted
    packs_dir = SnapshotStore(ws).packs.folder
    (packs_dir / "deadbeef.pack").write_bytes(b"left by a crashed create")  # no index: garbage
    assert gc(ws)["removed_blobs"] == 1
    store = SnapshotStore(ws)
    assert not store.has_blob(scratch["sha256"])
    assert not (packs_dir / "deadbeef.pack").exists()
    assert verify(ws) == []
    restored = restore(ws, first, target=ws.parent / "copy")
    expected = tree(ws)
    del expected["scratch.txt"]
    assert tree(Path(restored["target"])) == expected


def test_symlinks_are_skipped_and_listed(ws: Path) -> None:
    os.symlink("/etc/passwd", ws / "link")
    manifest = create(ws)
    assert {"path": "link", "reason": "symlink"} in manifest["skipped"]


def test_home_folder_machine_state_is_left_out(ws: Path) -> None:
    # A user's home is the workspace: the live server's runtime files and databases must neither
    # be captured nor overwritten by a restore; a project folder named like them still is.
    for rel in (".local/share/jupyter/file_id_manager.db", ".ipython/profile_default/h.sqlite",
                ".cache/pip/x", "proj/.local/keep.txt"):  # fmt: skip
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text("x")
    paths = {f["path"] for f in create(ws)["files"]}
    assert "proj/.local/keep.txt" in paths
    assert not {p for p in paths if p.startswith((".local/", ".ipython/", ".cache/"))}


@pytest.mark.parametrize("extra", ["*.log\nbuild/\n/data/raw/\n", "*.log\n!keep.log\n"])
def test_fast_ignore_matcher_agrees_with_pathspec(tmp_path: Path, extra: str) -> None:
    from cosim.snapshots.walk import ignore_matcher, ignore_spec

    (tmp_path / ".cosimignore").write_text(extra)
    spec = ignore_spec(tmp_path)
    fast = ignore_matcher(spec)
    paths = ["a.log", "keep.log", "x/keep.log", "build/", "src/build/", "data/raw/", "x/data/raw/",
             ".local/", "proj/.local/", "m.pyc", "a/b/__pycache__/", ".cosim/", "src/main.py",
             "node_modules/", "deep/x/node_modules/", ".git/", "README.md"]  # fmt: skip
    assert [fast(p) for p in paths] == [spec.match_file(p) for p in paths]


def test_cli_round_trip(ws: Path, tmp_path: Path) -> None:
    def cosim(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cosim_cli", "snapshot", "--workspace",
                               str(ws), *args], capture_output=True, text=True)  # fmt: skip

    assert cosim("create", "-m", "from cli").returncode == 0
    listed = cosim("list")
    assert "from cli" in listed.stdout
    (ws / "src" / "main.py").write_text("print('edited')\n")
    shown = cosim("diff", "latest")
    assert "~ src/main.py" in shown.stdout and "+print('edited')" in shown.stdout
    refused = cosim("restore", "latest")
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert cosim("export", "latest", str(tmp_path / "s.tar")).returncode == 0
    other = make_workspace(tmp_path / "other")
    imported = subprocess.run([sys.executable, "-m", "cosim_cli", "snapshot", "--workspace",
                               str(other), "import", str(tmp_path / "s.tar")],
                              capture_output=True, text=True)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert cosim("verify").returncode == 0
    req = tmp_path / "requirements.txt"
    assert cosim("show", "latest", "--requirements", str(req)).returncode == 0
    assert "mujoco==" in req.read_text()
    assert cosim("show", "nope").returncode == 2


def test_a_former_data_reference_gets_its_blob(ws: Path, tmp_path: Path) -> None:
    """Raising the threshold turns an unchanged data file into a stored file: its content must
    be stored, although the index already knows its hash."""
    create(ws, data_threshold=1000)  # model.bin (20 kB) is only referenced
    manifest = create(ws)  # default threshold: model.bin is a file now
    assert "model.bin" in {f["path"] for f in manifest["files"]}
    assert verify(ws) == []
    restore(ws, manifest["id"], target=tmp_path / "copy")
    assert (tmp_path / "copy" / "model.bin").read_bytes() == (ws / "model.bin").read_bytes()


def test_cli_snapshot_start_up_imports_only_what_snapshots_use() -> None:
    # `cosim snapshot ...` once imported every subcommand's module (the hub's traitlets, the
    # jobs' psutil, importlib.metadata for --version): 170 ms of CPU before a ~120 ms snapshot.
    code = (
        "import sys, cosim_cli; cosim_cli.build_parser('snapshot');"
        "print(' '.join(m for m in sys.modules if m.startswith(('cosim', 'pathspec'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()  # fmt: skip
    assert "cosim.snapshots.cli" in loaded
    assert not [m for m in loaded if m.startswith(("cosim_hub", "cosim.jobs", "cosim.slam"))]
    assert "pathspec" not in loaded  # only when a folder is listed
    everything = subprocess.run([sys.executable, "-m", "cosim_cli", "--version"],
                                capture_output=True, text=True)  # fmt: skip
    assert everything.returncode == 0 and everything.stdout.startswith("cosim ")
