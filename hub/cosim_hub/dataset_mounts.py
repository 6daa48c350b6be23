"""The admin's datasets, read-only under ``~/datasets/<name>`` in every local user server.

Mixed into CoSimLocalSpawner. As root (system-users isolation) each user server starts in a mount
namespace of its own: the spawn's preexec (still root) unshares the mount namespace, makes every
mount private (nothing propagates back to the host) and bind-mounts each dataset read-only, nosuid
and nodev onto ``<home>/datasets/<name>``. Kernels, terminals and jobs inherit the namespace, so a
write anywhere under it fails with EROFS ("Read-only file system") whatever the files' modes are.
Without root ('shared' isolation) there are no mounts: ``~/datasets/<name>`` is a symlink and
read-only only as far as the folder's permissions make it (the hub log says so).

The mount points are opened component by component without following links and mounted through
``/proc/self/fd``: a user who swaps ``~/datasets`` for a link cannot make root mount elsewhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traitlets import Dict, TraitError, Unicode, validate
from traitlets.config import Configurable

from cosim_protocol import env as env_names

DATASETS_FOLDER = "datasets"  # under the user's home
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

# <sys/mount.h> and <sched.h>
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV = 0x1, 0x2, 0x4
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000


def check_datasets(value: dict[str, Any], owner: str = "datasets") -> dict[str, str]:
    """Names that are plain folder names, sources that are absolute paths; else a TraitError."""
    checked: dict[str, str] = {}
    for name, source in value.items():
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise TraitError(
                f"{owner}: dataset name {name!r} must be 1-64 letters, digits, '.', '_' or '-' "
                "and start with a letter or digit"
            )
        if not isinstance(source, str) or not os.path.isabs(source):
            raise TraitError(f"{owner}[{name!r}]: {source!r} must be an absolute path")
        checked[name] = os.path.normpath(source)
    return checked


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
    libc.unshare.argtypes = [ctypes.c_int]
    return libc


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _open_mount_point(home: str, name: str) -> int:
    """An O_PATH descriptor of <home>/datasets/<name>, with no link followed on the way."""
    flags = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW
    fd = os.open(home, flags)
    try:
        for part in (DATASETS_FOLDER, name):
            child = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def mount_read_only(home: str, datasets: dict[str, str]) -> Callable[[], None]:
    """The preexec step (run as root in the child, before it drops privileges) that puts the
    process in its own mount namespace with each dataset bind-mounted read-only."""
    libc = _libc()  # loaded here, in the parent: no dlopen between fork and exec

    def enter() -> None:
        _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
        for name, source in datasets.items():
            fd = _open_mount_point(home, name)
            try:
                target = f"/proc/self/fd/{fd}".encode()
                _check(libc.mount(source.encode(), target, None, MS_BIND, None), f"bind {name}")
            finally:
                os.close(fd)
            # The old descriptor names the covered folder; the remount needs the new mount's root.
            fd = _open_mount_point(home, name)
            try:
                target = f"/proc/self/fd/{fd}".encode()
                flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
                _check(libc.mount(None, target, None, flags, None), f"read-only {name}")
            finally:
                os.close(fd)

    return enter


class DatasetMountsMixin(Configurable):
    """Admin-declared datasets, read-only in every user server under ``~/datasets/<name>``."""

    if TYPE_CHECKING:

        @property
        def system_users(self) -> bool: ...

        @property
        def home(self) -> Path: ...

    log: Any
    shown_datasets: dict[str, str] = {}

    datasets = Dict(
        value_trait=Unicode(),
        help="""Datasets every user server sees read-only under ~/datasets/<name>, as
        {name: absolute folder on this machine}, e.g. {"tum-fr1-xyz": "/srv/datasets/fr1_xyz"}.
        `cosim_hub.configure` copies c.CoSimHub.datasets here. As root each server gets a
        read-only bind mount in a mount namespace of its own (writes fail with 'Read-only file
        system'); without root a symlink, read-only only as far as the folder's permissions go.
        A folder missing at spawn time is left out and the hub log says so.""",
    ).tag(config=True)

    @validate("datasets")
    def _check_datasets(self, proposal: Any) -> dict[str, str]:
        return check_datasets(dict(proposal["value"]), "CoSimLocalSpawner.datasets")

    def present_datasets(self) -> dict[str, str]:
        """The declared datasets whose folder exists now."""
        present = {}
        for name, source in sorted(self.datasets.items()):
            if os.path.isdir(source):
                present[name] = source
            else:
                self.log.warning("Dataset %s: %s is not a folder; not shown to users", name, source)
        return present

    def prepare_dataset_mounts(self) -> dict[str, str]:
        """Create ``~/datasets/<name>`` (mount points as root, links without) before the spawn;
        remembers and returns the datasets this spawn shows."""
        datasets = self.shown_datasets = self.present_datasets()
        if not datasets:
            return {}
        folder = self.home / DATASETS_FOLDER
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            folder.unlink()  # the user's own link or file in the admin's place: replaced
        folder.mkdir(mode=0o755, exist_ok=True)
        if self.system_users:
            # Root's folder: the user cannot add, remove or replace the mount points in it.
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                os.fchown(fd, 0, 0)
                os.fchmod(fd, 0o755)
                for name in datasets:
                    # An existing folder is the mount point; anything else fails at the mount.
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(name, 0o755, dir_fd=fd)
            finally:
                os.close(fd)
        else:
            self.log.warning(
                "Datasets for %s are symlinks (the hub is not root): read-only only as far as "
                "their folders' permissions go",
                self.home.name,
            )
            for name, source in datasets.items():
                link = folder / name
                if link.is_symlink():
                    link.unlink()
                elif link.exists():
                    self.log.warning("%s is not CoSim's: dataset %s not linked", link, name)
                    continue
                link.symlink_to(source, target_is_directory=True)
        return datasets

    def datasets_fn(self) -> Callable[[], None]:
        """The preexec step for this spawn's datasets (nothing to do without root or datasets)."""
        if not self.shown_datasets or not self.system_users:
            return lambda: None
        return mount_read_only(str(self.home), self.shown_datasets)

    def datasets_env(self) -> dict[str, str]:
        if not self.shown_datasets:
            return {}
        return {env_names.DATASETS: json.dumps(self.shown_datasets, sort_keys=True)}
