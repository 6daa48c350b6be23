"""A snapshot archive from someone else must not plant code that runs at the next login or kernel
start (issue 17): startup and config files are left out of a restore unless asked for."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import zstandard
from snapshot_workspace import make_workspace

from cosim.snapshots import create, export, import_archive, restore

PLANTED = {
    ".ipython/profile_default/startup/x.py": "open({marker!r}, 'w').write('ran')\n",
    ".bashrc": "touch {marker}\n",
    ".jupyter/jupyter_server_config.py": "open({marker!r}, 'w').write('ran')\n",
    ".config/ipython/profile_default/ipython_config.py": "open({marker!r}, 'w').write('ran')\n",
}


def _ipython_starts_in(home: Path) -> None:
    """Start IPython as a user whose home is ``home`` (it runs profile startup files)."""
    env = {**os.environ, "HOME": str(home), "IPYTHONDIR": str(home / ".ipython")}
    subprocess.run(
        [sys.executable, "-m", "IPython", "--quick", "-c", "pass"],
        env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "IPython", "-c", "pass"],
        env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def _archive_with_startup_files(tmp_path: Path, marker: Path) -> Path:
    """An archive as an attacker would make it: a genuine export with files planted in its
    manifest (CoSim's own snapshots leave ``.ipython/`` out, a hand-made archive need not)."""
    source = make_workspace(tmp_path / "mallory")
    snapshot_id = create(source, "looks harmless")["id"]
    genuine = Path(export(source, snapshot_id, tmp_path / "genuine.tar"))
    with tarfile.open(genuine) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    manifest = json.loads(members.pop("manifest.json"))
    for rel, code in PLANTED.items():
        data = code.format(marker=str(marker)).encode()
        digest = hashlib.sha256(data).hexdigest()
        members[f"blobs/{digest}"] = zstandard.ZstdCompressor().compress(data)
        manifest["files"].append({"path": rel, "mode": 0o644, "size": len(data), "sha256": digest})
    path = tmp_path / "shared.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode()), *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_restore_leaves_startup_files_out(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    archive = _archive_with_startup_files(tmp_path, marker)
    victim = make_workspace(tmp_path / "victim")
    (victim / ".bashrc").write_text("# victim's own\n")
    create(victim, "before import")
    imported = import_archive(victim, archive)

    # Into a new folder: the snapshot's files arrive, its startup files do not.
    result = restore(victim, imported["id"], target=tmp_path / "restored")
    restored = tmp_path / "restored"
    assert (restored / "src" / "main.py").read_text() == "print('hello')\n"
    assert sorted(result["skipped_startup_files"]) == sorted(PLANTED)
    for rel in PLANTED:
        assert not (restored / rel).exists(), rel
    _ipython_starts_in(restored)
    assert not marker.exists()

    # In place: the same, and the victim's own .bashrc stays as it was.
    result = restore(victim, imported["id"], force=True)
    assert sorted(result["skipped_startup_files"]) == sorted(PLANTED)
    assert (victim / ".bashrc").read_text() == "# victim's own\n"
    assert not (victim / ".ipython").exists() or not any((victim / ".ipython").rglob("*.py"))
    _ipython_starts_in(victim)
    assert not marker.exists()


def test_startup_files_restore_only_when_asked(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    archive = _archive_with_startup_files(tmp_path, marker)
    victim = make_workspace(tmp_path / "victim")
    imported = import_archive(victim, archive)
    result = restore(victim, imported["id"], target=tmp_path / "asked", allow_startup_files=True)
    assert result["skipped_startup_files"] == []
    assert (tmp_path / "asked" / ".ipython/profile_default/startup/x.py").is_file()
    _ipython_starts_in(tmp_path / "asked")  # what the default protects against
    assert marker.read_text() == "ran"


def test_startup_file_matching_at_any_depth_and_spelling() -> None:
    # One regex over every "/"-started tail: each pattern at any depth, "dir/*" below dir, and
    # paths PurePosixPath would normalise; near misses stay restorable.
    from cosim.snapshots.startup_files import is_startup_file

    for path in [".bashrc", "home/u/.bashrc", ".ssh/authorized_keys", "a/.ssh/k/deep",
                 "lib/site-packages/evil.pth", "x/.config/ipython/profile/startup/s.py",
                 "a//.profile", "./.zshrc", "a/./.jupyter/c.py", "sitecustomize.py",
                 "p/.local/share/jupyter/kernels/k/kernel.json"]:  # fmt: skip
        assert is_startup_file(path), path
    for path in ["x.bashrc", ".bashrc.bak", "src/ssh/k", "a/b.pthx", "my.jupyter/c.py", ".ipython/",
                 ".config/gitx/c", "notes/.ipython", "sitecustomize.pyc", "a/.sshx/k"]:  # fmt: skip
        assert not is_startup_file(path), path
