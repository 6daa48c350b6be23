"""The admin's datasets in a workspace: recorded by reference (name, source, size, listing
hash), never copied, never restored over, never deleted by a restore.

The spawner names them in ``$COSIM_DATASETS`` ({name: source folder}) and shows them under
``~/datasets/<name>`` (``$COSIM_DATASETS_DIR`` moves that folder).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cosim_protocol import env as env_names


def declared() -> dict[str, str]:
    """{name: source} from the environment; nothing when unset or unreadable."""
    try:
        value = json.loads(os.environ.get(env_names.DATASETS) or "{}")
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def datasets_dir() -> Path:
    return Path(os.environ.get(env_names.DATASETS_DIR) or Path.home() / "datasets")


def dataset_paths(workspace: Path) -> dict[str, tuple[str, str]]:
    """{path relative to the workspace: (name, source)} for the declared datasets inside it."""
    root = workspace.resolve()
    try:
        rel_dir = datasets_dir().resolve().relative_to(root)
    except ValueError:
        return {}  # the datasets folder is not in this workspace
    prefix = f"{rel_dir.as_posix()}/" if rel_dir.parts else ""
    return {f"{prefix}{name}": (name, source) for name, source in declared().items()}


def reference(workspace: Path, rel: str, name: str, source: str) -> dict[str, Any]:
    """What a snapshot keeps of one dataset: where it came from and a fingerprint of its files
    (relative path, size and mtime of each, hashed; contents are not read)."""
    folder = workspace / rel
    listing = hashlib.sha256()
    files = size = 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames.sort()
        for filename in sorted(filenames):
            path = os.path.join(dirpath, filename)
            try:
                st = os.stat(path)
            except OSError:
                continue
            files += 1
            size += st.st_size
            line = f"{os.path.relpath(path, folder)}\0{st.st_size}\0{st.st_mtime_ns}\n"
            listing.update(line.encode())
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    return {"name": name, "path": rel, "source": source, "files": files, "size": size,
            "listing_sha256": listing.hexdigest(), "read_only": read_only}  # fmt: skip
