"""Which files a snapshot holds: everything not ignored (``.cosimignore``, gitignore syntax)."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .statindex import DIR, FILE, REFERENCE, SKIP_REASONS, scan_tree

if TYPE_CHECKING:  # imported where a folder is listed: an incremental snapshot rarely needs it
    import pathspec

# Jupyter's and Lab's own state: the RTC database and session list, Lab workspaces, checkpoints.
# The running server holds these open; a snapshot of them buries the real change in JSON noise and
# restoring them swaps a live database under the server. Never stored, never restored.
JUPYTER_STATE = [
    ".jupyter_ystore.db",
    ".jupyter_ystore.db-journal",
    "/.jupyter/",
    ".ipynb_checkpoints/",
    "*.jupyterlab-workspace",
]

DEFAULT_IGNORES = [
    *JUPYTER_STATE,
    ".cosim/",
    ".git/",
    "__pycache__/",
    "*.pyc",
    "node_modules/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".venv/",
    # Per-machine state in a home-folder workspace: the running server's runtime files, file-id
    # and RTC databases, shell and tool caches. Restoring these under a live server breaks it.
    "/.local/",
    "/.cache/",
    "/.ipython/",
    "/.npm/",
    "/.virtual_documents/",
]


class Entry(NamedTuple):  # a tuple: a frozen dataclass cost more than the stat on 10k files
    path: str  # relative, "/"-separated
    kind: str  # "file" | "dir" | "skipped" | "reference" (a dataset: recorded, never entered)
    mode: int
    size: int = 0
    mtime_ns: int = 0
    inode: int = 0
    reason: str = ""


def ignore_lines(workspace: Path) -> list[str]:
    """The ignore rules in force: the defaults, then the workspace's ``.cosimignore``."""
    lines = list(DEFAULT_IGNORES)
    custom = workspace / ".cosimignore"
    if custom.is_file():
        lines += custom.read_text(errors="replace").splitlines()
    return lines


def ignore_spec(workspace: Path) -> pathspec.PathSpec:
    return ignore_spec_of(ignore_lines(workspace))


def ignore_spec_of(lines: list[str]) -> pathspec.PathSpec:
    import pathspec

    return pathspec.PathSpec.from_lines("gitwildmatch", lines)


def jupyter_state_matcher() -> Callable[[str], bool]:
    """True for a path (file, or dir with a trailing "/") that is Jupyter's own state."""
    match = ignore_matcher(ignore_spec_of(JUPYTER_STATE))
    return lambda path: any(match(p) for p in _self_and_parents(path))


def _self_and_parents(path: str) -> Iterator[str]:
    yield path
    parts = path.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i]) + "/"


def ignore_matcher(spec: pathspec.PathSpec) -> Callable[[str], bool]:
    """spec.match_file, as one regex when no pattern negates ("!..."): pathspec tries each
    pattern in turn, which was half the cost of an incremental snapshot of 10k files."""
    patterns = [p for p in spec.patterns if p.include is not None]
    if any(not p.include for p in patterns) or not all(hasattr(p, "regex") for p in patterns):
        return spec.match_file
    if not patterns:
        return lambda path: False
    named_group = re.compile(r"\(\?P<\w+>")  # the same name in each pattern would clash
    parts = [named_group.sub("(?:", p.regex.pattern) for p in patterns]
    combined = re.compile("|".join(f"(?:{part})" for part in parts))
    return lambda path: combined.match(path) is not None


def walk(workspace: Path, references: Collection[str] = ()) -> Iterator[Entry]:
    """Files and directories of the workspace, sorted, ignored ones left out. Links, devices and
    sockets are reported as skipped: a snapshot holds only regular files and directories.
    Paths in ``references`` (datasets) are reported as such and never entered."""
    tree = scan_tree(workspace, lambda: ignore_matcher(ignore_spec(workspace)), references)
    for kind, path, st, _ in tree.entries:
        mode = stat.S_IMODE(st.st_mode)
        if kind == FILE:
            yield Entry(path, "file", mode, st.st_size, st.st_mtime_ns, st.st_ino)
        elif kind == DIR:
            yield Entry(path, "dir", mode)
        elif kind == REFERENCE:
            yield Entry(path, "reference", mode)
        else:
            yield Entry(path, "skipped", 0, reason=SKIP_REASONS[kind])
