"""What changed between two snapshots, or between a snapshot and the working tree."""

from __future__ import annotations

import difflib
import io
import os
from typing import Any

from .ops import _scan, environment_of
from .store import SnapshotStore

TEXT_DIFF_LIMIT = 256 * 1024


def _text(store: SnapshotStore, entry: dict[str, Any] | None, path: str | None) -> list[str] | None:
    """Lines of a file from the store (``entry``) or the workspace (``path``); None if binary."""
    if entry is not None:
        if entry["size"] > TEXT_DIFF_LIMIT:
            return None
        buf = io.BytesIO()
        store.extract_blob(entry["sha256"], entry["size"], buf)
        raw = buf.getvalue()
    elif path is not None:
        full = store.workspace / path
        if full.stat().st_size > TEXT_DIFF_LIMIT:
            return None
        raw = full.read_bytes()
    else:
        return []
    if b"\x00" in raw:
        return None
    try:
        return raw.decode().splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def _side(store: SnapshotStore, ref: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(label, files by path incl. data refs, environment) of a snapshot or the working tree."""
    if ref == "working":
        scan = _scan(store, 1 << 62)
        from .envlock import environment_lock

        return "working tree", {f["path"]: f for f in scan["files"]}, environment_lock()
    manifest = store.read_manifest(store.resolve(ref))
    files = {f["path"]: f for f in manifest["files"] + manifest.get("data_refs", [])}
    return manifest["id"], files, environment_of(store, manifest)


def _package_diff(old: dict[str, str], new: dict[str, str]) -> dict[str, Any]:
    return {
        "added": {k: new[k] for k in sorted(new.keys() - old.keys())},
        "removed": {k: old[k] for k in sorted(old.keys() - new.keys())},
        "changed": {
            k: [old[k], new[k]] for k in sorted(old.keys() & new.keys()) if old[k] != new[k]
        },
    }


def diff(workspace: str | os.PathLike[str], a: str, b: str = "working") -> dict[str, Any]:
    store = SnapshotStore(workspace)
    label_a, files_a, env_a = _side(store, a)
    label_b, files_b, env_b = _side(store, b)
    added = sorted(files_b.keys() - files_a.keys())
    removed = sorted(files_a.keys() - files_b.keys())
    changed = sorted(
        p for p in files_a.keys() & files_b.keys() if files_a[p]["sha256"] != files_b[p]["sha256"]
    )
    patches = {}
    for path in changed:
        old = _text(store, files_a[path], None)
        new = _text(
            store, files_b[path] if b != "working" else None, path if b == "working" else None
        )
        if old is None or new is None:
            patches[path] = "(binary or large file changed)"
        else:
            patches[path] = "".join(
                difflib.unified_diff(old, new, f"{label_a}/{path}", f"{label_b}/{path}")
            )
    return {
        "from": label_a, "to": label_b, "added": added, "removed": removed, "changed": changed,
        "patches": patches,
        "python_packages": _package_diff(env_a.get("python_packages", {}),
                                         env_b.get("python_packages", {})),
        "python": [env_a.get("python"), env_b.get("python")],
    }  # fmt: skip
