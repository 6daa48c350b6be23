"""A small workspace on disk for snapshot tests."""

from __future__ import annotations

import os
from pathlib import Path


def make_workspace(root: Path) -> Path:
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "empty" / "nested").mkdir(parents=True)
    (root / "src" / "main.py").write_text("print('hello')\n")
    (root / "src" / "pkg" / "__init__.py").write_text("")
    (root / "run.sh").write_text("#!/bin/sh\necho run\n")
    os.chmod(root / "run.sh", 0o755)
    (root / "private.txt").write_text("secret")
    os.chmod(root / "private.txt", 0o600)
    (root / "model.bin").write_bytes(os.urandom(20_000))
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "x.pyc").write_bytes(b"ignored")
    (root / ".cosimignore").write_text("*.log\n")
    (root / "train.log").write_text("ignored too")
    (root / "sim-control.json").write_text('{"state": "paused", "seed": 1}')
    return root


def tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """path -> (mode, bytes or None for dirs), leaving out .cosim and ignored files."""
    out: dict[str, tuple[int, bytes | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = [d for d in dirnames if d not in (".cosim", "__pycache__")]
        for d in dirnames:
            p = Path(dirpath) / d
            out[str(rel_dir / d)] = (p.stat().st_mode & 0o777, None)
        for f in filenames:
            if f.endswith(".log"):
                continue
            p = Path(dirpath) / f
            out[str(rel_dir / f)] = (p.stat().st_mode & 0o777, p.read_bytes())
    return out
