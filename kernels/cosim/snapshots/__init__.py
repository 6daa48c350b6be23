"""Workspace snapshots: source, environment lockfile, data references and job artifacts,
deduplicated in ``.cosim/snapshots``, diffable, restorable byte for byte.

``cosim.snapshot("message")`` in a notebook, ``cosim snapshot ...`` in a terminal and
``/cosim/api/snapshots`` from Lab all call these functions.
"""

from .archive import export, import_archive
from .diff import diff
from .ops import create, gc, list_snapshots, restore, show, verify, write_requirements
from .store import SnapshotError, SnapshotStore

__all__ = [
    "SnapshotError", "SnapshotStore", "create", "diff", "export", "gc", "import_archive",
    "list_snapshots", "restore", "show", "verify", "write_requirements",
]  # fmt: skip
