"""Importing snapshot archives from elsewhere: a corpus of malicious archives, each refused with
a clear message, with nothing written outside the store and no snapshot added."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from snapshot_workspace import make_workspace

from cosim.snapshots import SnapshotError, create, export, import_archive, list_snapshots, restore


@pytest.fixture
def good(tmp_path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A genuine exported snapshot, unpacked: (manifest, {member name: bytes})."""
    ws = make_workspace(tmp_path / "source")
    snapshot_id = create(ws, "genuine")["id"]
    path = Path(export(ws, snapshot_id, tmp_path / "genuine.tar"))
    with tarfile.open(path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    return json.loads(members.pop("manifest.json")), members


def _pack(path: Path, manifest: dict[str, Any] | None, blobs: dict[str, bytes],
          extra: Callable[[tarfile.TarFile], None] | None = None) -> Path:  # fmt: skip
    with tarfile.open(path, "w") as tar:
        if manifest is not None:
            data = json.dumps(manifest).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, data in blobs.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra:
            extra(tar)
    return path


def _with_file(manifest: dict[str, Any], blobs: dict[str, bytes], path: str,
               content: bytes = b"pwned\n") -> None:  # fmt: skip
    digest = hashlib.sha256(content).hexdigest()
    blobs[f"blobs/{digest}"] = zstandard.ZstdCompressor().compress(content)
    manifest["files"].append({"path": path, "mode": 0o644, "size": len(content), "sha256": digest})


def _special(kind: bytes, name: str, linkname: str = "") -> Callable[[tarfile.TarFile], None]:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        tar.addfile(info)

    return add


def _case_traversal(m: dict[str, Any], b: dict[str, bytes]) -> Any:
    _with_file(m, b, "../escaped.txt")


def _case_absolute(m: dict[str, Any], b: dict[str, bytes]) -> Any:
    _with_file(m, b, "/tmp/cosim-absolute-escape.txt")


def _case_into_store(m: dict[str, Any], b: dict[str, bytes]) -> Any:
    _with_file(m, b, ".cosim/snapshots/index.json")


def _case_duplicate_path(m: dict[str, Any], b: dict[str, bytes]) -> Any:
    _with_file(m, b, "src/main.py")


def _case_hash_mismatch(m: dict[str, Any], b: dict[str, bytes]) -> Any:
    entry = m["files"][0]
    b[f"blobs/{entry['sha256']}"] = zstandard.ZstdCompressor().compress(b"not the content")
    entry["size"] = len(b"not the content")


def _case_bomb(m: dict[str, Any], b: dict[str, bytes]) -> Any:
    huge = b"\0" * (64 * 1024 * 1024)
    digest = hashlib.sha256(b"tiny").hexdigest()
    b[f"blobs/{digest}"] = zstandard.ZstdCompressor(level=19).compress(huge)
    m["files"].append({"path": "bomb.bin", "mode": 0o644, "size": 4, "sha256": digest})


def _case_setuid(m: dict[str, Any], b: dict[str, bytes]) -> Any:
    m["files"][0]["mode"] = 0o4755


def _case_bad_id(m: dict[str, Any], b: dict[str, bytes]) -> Any:
    m["id"] = "../../etc/passwd"


CASES = {
    "path traversal": (_case_traversal, None, "unsafe path"),
    "absolute path": (_case_absolute, None, "unsafe path"),
    "write into the store": (_case_into_store, None, "may not write into .cosim"),
    "duplicate path": (_case_duplicate_path, None, "duplicate path"),
    "hash mismatch": (_case_hash_mismatch, None, "corrupt"),
    "decompression bomb": (_case_bomb, None, "decompresses past its size"),
    "setuid mode": (_case_setuid, None, "unsupported mode"),
    "bad snapshot id": (_case_bad_id, None, "not a snapshot id"),
    "symlink entry": (None, _special(tarfile.SYMTYPE, "blobs/" + "a" * 64, "/etc/passwd"),
                      "not a regular file"),
    "hard link entry": (None, _special(tarfile.LNKTYPE, "blobs/" + "b" * 64, "manifest.json"),
                        "not a regular file"),
    "device entry": (None, _special(tarfile.CHRTYPE, "blobs/" + "c" * 64), "not a regular file"),
    "fifo entry": (None, _special(tarfile.FIFOTYPE, "blobs/" + "d" * 64), "not a regular file"),
    "escaping member name": (None, _special(tarfile.REGTYPE, "../../escaped"), "unexpected entry"),
    "duplicate member": (None, _special(tarfile.REGTYPE, "manifest.json"), "twice"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_malicious_archive_is_refused(case: str, good: Any, tmp_path: Path) -> None:
    manifest, blobs = good
    mutate, extra, needle = CASES[case]
    if mutate:
        mutate(manifest, blobs)
    archive = _pack(tmp_path / "evil.tar", manifest, blobs, extra)
    target = make_workspace(tmp_path / "target")
    outside = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SnapshotError, match=needle):
        import_archive(target, archive)
    assert list_snapshots(target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == outside
    assert not Path("/tmp/cosim-absolute-escape.txt").exists()


def test_truncated_archive_is_refused(good: Any, tmp_path: Path) -> None:
    manifest, blobs = good
    archive = _pack(tmp_path / "full.tar", manifest, blobs)
    cut = tmp_path / "cut.tar"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    target = make_workspace(tmp_path / "target")
    with pytest.raises(SnapshotError, match=r"truncated|damaged|lacks|not a CoSim"):
        import_archive(target, cut)
    assert list_snapshots(target) == []


def test_not_an_archive(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tar file at all" * 20)
    with pytest.raises(SnapshotError, match=r"not a CoSim snapshot archive|no manifest"):
        import_archive(make_workspace(tmp_path / "t"), junk)


def test_genuine_archive_imports_and_restores_exactly(good: Any, tmp_path: Path) -> None:
    manifest, blobs = good
    archive = _pack(tmp_path / "ok.tar", manifest, blobs)
    target = make_workspace(tmp_path / "target")
    imported = import_archive(target, archive)
    restore(target, imported["id"], target=tmp_path / "restored")
    assert (tmp_path / "restored" / "src" / "main.py").read_text() == "print('hello')\n"
    with pytest.raises(SnapshotError, match="already here"):
        import_archive(target, archive)
