"""Snapshots keep the admin's datasets (``$COSIM_DATASETS`` under ``~/datasets``) as references:
name, source, file count, size and a listing hash; never their bytes. Restore leaves them alone.
(Read-only mounts themselves are tested through the hub: tests/hub/test_datasets_stack.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cosim.snapshots import create, restore


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    data = home / "datasets" / "seq"
    data.mkdir(parents=True)
    (data / "rgb.txt").write_text("0.0 rgb/0.png\n")
    (data / "big.bin").write_bytes(b"\0" * 200_000)
    (home / "notes.py").write_text("print('mine')\n")
    monkeypatch.setenv("COSIM_DATASETS", json.dumps({"seq": "/srv/datasets/seq"}))
    monkeypatch.setenv("COSIM_DATASETS_DIR", str(home / "datasets"))
    return home


def test_a_dataset_is_a_reference_not_a_copy(workspace: Path) -> None:
    manifest = create(workspace, "one")
    paths = [f["path"] for f in manifest["files"] + manifest["data_refs"]]
    assert paths == ["notes.py"]
    (ref,) = manifest["datasets"]
    assert ref["name"] == "seq" and ref["path"] == "datasets/seq"
    assert ref["source"] == "/srv/datasets/seq"
    assert ref["files"] == 2 and ref["size"] == 200_000 + len("0.0 rgb/0.png\n")
    assert manifest["stored_bytes"] < 100_000  # the 200 kB file was not stored

    again = create(workspace, "two")
    assert again["datasets"][0]["listing_sha256"] == ref["listing_sha256"]
    (workspace / "datasets" / "seq" / "extra.txt").write_text("new\n")
    changed = create(workspace, "three")
    assert changed["datasets"][0]["listing_sha256"] != ref["listing_sha256"]


def test_restore_leaves_datasets_alone(workspace: Path) -> None:
    manifest = create(workspace, "before")
    (workspace / "datasets" / "seq" / "later.txt").write_text("added after\n")
    (workspace / "notes.py").write_text("changed\n")
    restore(workspace, manifest["id"], force=True)
    assert (workspace / "notes.py").read_text() == "print('mine')\n"
    assert (workspace / "datasets" / "seq" / "later.txt").is_file()  # not the snapshot's to undo
    assert (workspace / "datasets" / "seq" / "big.bin").stat().st_size == 200_000


def test_without_the_declaration_a_folder_is_ordinary_files(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COSIM_DATASETS")
    manifest = create(workspace, "plain")
    assert manifest["datasets"] == []
    assert "datasets/seq/big.bin" in [f["path"] for f in manifest["files"]]
