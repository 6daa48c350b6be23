"""Files that run code when someone merely starts a shell, IPython or Jupyter in a folder.

A snapshot (above all one imported from someone else's archive) may carry them; restoring one
into a home folder would run its code as whoever restores it, at their next login or kernel
start. Restore leaves them out unless asked for them explicitly (``--allow-startup-files`` /
``"allow_startup_files": true``), and never deletes the restorer's own.
"""

from __future__ import annotations

import functools
import re
from fnmatch import translate
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


# Every pattern against every tail of the path that starts at a "/" (fnmatch's "*" also matches
# "/": "dir/*" covers everything below dir), as one regex: trying the patterns one by one for
# each tail cost a restore of 10k files about a second.
@functools.cache
def _startup_re() -> re.Pattern[str]:  # compiled when first needed: not every run restores
    return re.compile(
        "(?s:.*/)?(?:" + "|".join(translate(pattern) for pattern in STARTUP_PATTERNS) + ")"
    )


# Spellings that PurePosixPath would normalise ("a//b", "./a", "a/."): rare, done the slow way.
_UNUSUAL_RE = re.compile(r"//|(?:^|/)\.(?:/|$)|/$")


def is_startup_file(path: str) -> bool:
    """Would ``path`` (relative, POSIX) run code at a shell, Python, IPython or Jupyter start?"""
    if _UNUSUAL_RE.search(path):
        path = "/".join(PurePosixPath(path).parts)
    return _startup_re().match(path) is not None
