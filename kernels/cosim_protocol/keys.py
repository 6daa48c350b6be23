"""Every Redis key, channel and ACL pattern CoSim uses (one Redis serves a whole cluster).

Per-user names, all under ``cosim:<user>:`` (``<user>`` from ``namespace_name``)::

    sims                 ZSET    sim id -> start time (live sims)
    sim:<id>:meta        STRING  JSON {"sim_id", "engine", "title", "scene", "started", "ended",
                                 "bodies", "pid"}
    sim:<id>:frame       STRING  latest frame bytes (late joiners)
    sim:<id>:frames      CHANNEL frame bytes, and ``viewer.END_MESSAGE`` when the sim ends
    sim:<id>:control     CHANNEL JSON {"cmd": "stop"}
    scene:<hash>         STRING  scene bytes
    build:<id>           STRING  JSON status of a C++ build (cosim_server.build)
    job:<id>             STRING  JSON job state mirror (cosim.jobs.state)
    job:<id>:metrics     STREAM  training metrics

Hub-wide names (written by the hub and its services only)::

    cosim:hub:blocked    SET     blocked user names (cosim_hub.revocation)
    cosim:hub:revoked    HASH    user name -> epoch of the last forced log-out
    cosim:costguard:*    the cost guard's ledger (layout in cosim_hub.costguard.ledger)

A user server's Redis ACL (cosim_hub.redis_acl) allows ``user_pattern(user)`` for keys and
channels, nothing else (not the cost guard's ledger: the Lab banner asks the cost-guard service).
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass

from .env import HUB_USER

SCHEMA_VERSION = 1

# Live keys expire unless the sim refreshes them, so a crashed kernel's sim disappears.
LIVE_TTL_S = 30
ENDED_TTL_S = 3600
SCENE_TTL_S = 7 * 24 * 3600

BLOCKED_KEY = "cosim:hub:blocked"
REVOKED_KEY = "cosim:hub:revoked"
LEDGER_PREFIX = "cosim:costguard"


def namespace_name(user: str) -> str:
    """``user`` as the user part of Redis names: ``%`` and ``:`` (the separator) percent-encoded,
    so one user's names never start with another's (per-user Redis ACLs grant ``cosim:<user>:*``,
    which must not reach user ``<user>:x``)."""
    return user.replace("%", "%25").replace(":", "%3A")


def namespace_user() -> str:
    """The user part of Redis names: the hub user where there is one, else the Unix user."""
    return namespace_name(os.environ.get(HUB_USER) or getpass.getuser())


def glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis glob pattern (``*``, ``?``, ``[``, ``]``, ``\\``)."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def user_pattern(hub_name: str) -> str:
    """The Redis glob matching exactly the keys and channels of hub user ``hub_name``."""
    return f"cosim:{glob_escape(namespace_name(hub_name))}:*"


@dataclass(frozen=True)
class Keys:
    """The names of one user (``user`` already passed through ``namespace_name``)."""

    user: str

    @property
    def sims(self) -> str:
        return f"cosim:{self.user}:sims"

    def meta(self, sim_id: str) -> str:
        return f"cosim:{self.user}:sim:{sim_id}:meta"

    def frame(self, sim_id: str) -> str:
        return f"cosim:{self.user}:sim:{sim_id}:frame"

    def frames(self, sim_id: str) -> str:
        return f"cosim:{self.user}:sim:{sim_id}:frames"

    def control(self, sim_id: str) -> str:
        return f"cosim:{self.user}:sim:{sim_id}:control"

    def scene(self, scene_hash: str) -> str:
        return f"cosim:{self.user}:scene:{scene_hash}"

    def build(self, build_id: str) -> str:
        return f"cosim:{self.user}:build:{build_id}"

    def job(self, job_id: str) -> str:
        return f"cosim:{self.user}:job:{job_id}"

    def job_metrics(self, job_id: str) -> str:
        return f"cosim:{self.user}:job:{job_id}:metrics"
