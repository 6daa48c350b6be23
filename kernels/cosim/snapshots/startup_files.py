"""Files that run code when someone merely starts a shell, IPython or Jupyter in a folder.

A snapshot (above all one imported from someone else's archive) may carry them; restoring one
into a home folder would run its code as whoever restores it, at their next login or kernel
start. Restore leaves them out unless asked for them explicitly (``--allow-startup-files`` /
``"allow_startup_files": true``), and never deletes the restorer's own.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import PurePosixPath

# Matched against each path relative to the workspace, at any depth (a workspace may be a
# home folder or a folder in one; a project may hold a home-like tree).
STARTUP_PATTERNS = (
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    ".inputrc",
    ".pythonrc",
    ".pythonrc.py",
    ".pam_environment",
    ".ssh/*",
    ".gitconfig",
    ".config/git/*",
    ".ipython/*",
    ".config/ipython/*",
    ".jupyter/*",
    ".config/jupyter/*",
    ".local/share/jupyter/kernels/*",
    ".local/etc/jupyter/*",
    ".config/autostart/*",
    ".config/fish/*",
    "*.pth",  # site-packages hooks run at every Python start
    "sitecustomize.py",
    "usercustomize.py",
)


def is_startup_file(path: str) -> bool:
    """Would ``path`` (relative, POSIX) run code at a shell, Python, IPython or Jupyter start?"""
    parts = PurePosixPath(path).parts
    for start in range(len(parts)):
        tail = "/".join(parts[start:])
        # fnmatch's "*" also matches "/": "dir/*" covers everything below dir.
        if any(fnmatchcase(tail, pattern) for pattern in STARTUP_PATTERNS):
            return True
    return False
