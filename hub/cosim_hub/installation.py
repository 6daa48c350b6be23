"""The installation id: a short random name written once into the state dir at first start.

It makes one installation's Unix accounts recognisable as its own (their names carry it and their
comment field records it), so a second installation on the same machine, with another state dir,
never reuses or collides with them.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

INSTALLATION_FILE = "installation-id"
_ID = re.compile(r"^[a-z0-9]{6}$")


def installation_id(hub_dir: Path) -> str:
    """The id stored in ``hub_dir``, created on first call (6 lowercase hex digits)."""
    path = Path(hub_dir) / INSTALLATION_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        value = path.read_text().strip()
        if not _ID.match(value):
            raise ValueError(
                f"{path} holds {value!r}, not an installation id; restore it or delete it "
                "(a new id gives every user a new Unix account)"
            ) from None
        return value
    value = secrets.token_hex(3)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def account_prefix(install_id: str) -> str:
    """Prefix of this installation's Unix account names: ``cosim-<id>-``."""
    return f"cosim-{install_id}-"


def account_comment(install_id: str, hub_name: str) -> str:
    """The comment (GECOS) field of an account this installation created."""
    return f"CoSim {install_id} user {hub_name}"


def created_by(install_id: str, gecos: str) -> bool:
    """Whether an account's comment field says this installation created it."""
    return bool(install_id) and gecos.startswith(f"CoSim {install_id} user ")
