"""``cosim.snapshot("message")`` for notebooks."""

from __future__ import annotations

import os
from typing import Any

from .ops import create


def snapshot(message: str = "", *, workspace: str | None = None, **options: Any) -> dict[str, Any]:
    """Snapshot the workspace (default: $COSIM_WORKSPACE, else the server's root, else the
    current folder) and return a summary of it."""
    root = workspace or os.environ.get("COSIM_WORKSPACE") or os.getcwd()
    manifest = create(root, message, **options)
    return {"id": manifest["id"], "message": message, "files": len(manifest["files"]),
            "stored_bytes": manifest["stored_bytes"]}  # fmt: skip
