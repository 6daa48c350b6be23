"""Server profiles as data, and the pure functions that turn them into spawner settings.

A profile (CPU, GPU small, GPU large, ...) is one entry of a TOML file (the packaged default is
``profiles.toml`` next to this module; ``c.CoSimHub.profiles_file`` points at another). From the
same list come KubeSpawner's ``profile_list`` (:func:`kubespawner_profile_list`), the local
spawner's process limits (:func:`local_limits`), the spawn form and the cost guard's prices.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosim_protocol.gpus import device_environment

DEFAULT_PROFILES = Path(__file__).with_name("profiles.toml")
EVERYONE = "*"
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)$")
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


class ProfileError(ValueError):
    """A profile file or entry is invalid; the message names the profile and the key."""


def parse_bytes(text: str) -> int:
    """``"4G"`` -> 4 GiB in bytes (units K, M, G, T are powers of 1024)."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"not a memory size: {text!r} (use e.g. 512M or 4G)")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True)
class Profile:
    """One server profile. Sizes as strings ("4G"), CPU in cores, time in seconds."""

    name: str
    display_name: str
    description: str = ""
    cpu_request: float = 0.5
    cpu_limit: float = 2.0
    mem_request: str = "1G"
    mem_limit: str = "4G"
    gpus: int = 0
    gpu_resource: str = "nvidia.com/gpu"
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    price_per_hour: float = 0.0
    groups: tuple[str, ...] = (EVERYONE,)
    idle_timeout: int = 0
    max_runtime: int = 0
    # GPU servers: seconds with their GPUs below c.CoSimGpus.idle_utilization and no kernel or
    # job activity before the cost guard stops them (0 = never).
    gpu_idle_timeout: int = 0
    default: bool = False

    @property
    def is_gpu(self) -> bool:
        return self.gpus > 0

    @property
    def mem_limit_bytes(self) -> int:
        return parse_bytes(self.mem_limit)

    @property
    def mem_request_bytes(self) -> int:
        return parse_bytes(self.mem_request)

    def allows(self, user_groups: set[str] | list[str] | tuple[str, ...]) -> bool:
        """May a member of ``user_groups`` use this profile?"""
        return EVERYONE in self.groups or bool(set(self.groups) & set(user_groups))

    def billing_group(self, user_groups: set[str] | list[str] | tuple[str, ...]) -> str:
        """The one group a server of this profile is accounted to: the first (sorted) of the
        user's groups that the profile names, else the user's first group, else "default"."""
        named = sorted(set(self.groups) & set(user_groups))
        if named:
            return named[0]
        return sorted(user_groups)[0] if user_groups else "default"

    def price_label(self) -> str:
        return f"${self.price_per_hour:.2f}/h" if self.price_per_hour else "free"


def profile_from_dict(raw: dict[str, Any]) -> Profile:
    """Check one profile entry and build it; raises ProfileError naming the bad key."""
    name = raw.get("name")
    where = f"profile {name!r}" if name else "a profile without a name"
    if not isinstance(name, str) or not _NAME.match(name):
        raise ProfileError(f"{where}: 'name' must be 1-40 of a-z, 0-9, '-'")
    known = set(Profile.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ProfileError(f"{where}: unknown keys {unknown}")
    values = dict(raw)
    values.setdefault("display_name", name)
    try:
        for key in ("cpu_request", "cpu_limit", "price_per_hour"):
            if key in values:
                values[key] = float(values[key])
        for key in ("gpus", "idle_timeout", "max_runtime", "gpu_idle_timeout"):
            value = values.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"'{key}' must be a whole number")
        for key in ("mem_request", "mem_limit"):
            if key in values:
                values[key] = str(values[key])
                parse_bytes(values[key])
        if "groups" in values:
            groups = values["groups"]
            if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
                raise ValueError("'groups' must be a list of group names")
            values["groups"] = tuple(groups)
        if not isinstance(values.get("node_selector", {}), dict):
            raise ValueError("'node_selector' must be a table of labels")
        if not isinstance(values.get("tolerations", []), list):
            raise ValueError("'tolerations' must be a list of tables")
    except (TypeError, ValueError) as err:
        raise ProfileError(f"{where}: {err}") from None
    profile = Profile(**values)
    checks = [
        (profile.cpu_request <= 0 or profile.cpu_limit < profile.cpu_request,
         "needs 0 < cpu_request <= cpu_limit"),
        (profile.mem_request_bytes > profile.mem_limit_bytes, "needs mem_request <= mem_limit"),
        (profile.gpus < 0, "gpus must be >= 0"),
        (profile.price_per_hour < 0, "price_per_hour must be >= 0"),
        (min(profile.idle_timeout, profile.max_runtime, profile.gpu_idle_timeout) < 0,
         "timeouts must be >= 0"),
        (not profile.groups, "groups must name at least one group (or '*')"),
    ]  # fmt: skip
    for bad, message in checks:
        if bad:
            raise ProfileError(f"{where}: {message}")
    return profile


def load_profiles(path: str | Path | None = None) -> list[Profile]:
    """Profiles from a TOML file (``[[profile]]`` tables); None = CoSim's packaged defaults."""
    source = Path(path) if path else DEFAULT_PROFILES
    try:
        data = tomllib.loads(source.read_text())
    except OSError as err:
        raise ProfileError(f"cannot read profiles file {source}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(f"profiles file {source} is not valid TOML: {err}") from None
    entries = data.get("profile")
    if not isinstance(entries, list) or not entries:
        raise ProfileError(f"profiles file {source} has no [[profile]] tables")
    profiles = [profile_from_dict(entry) for entry in entries]
    names = [p.name for p in profiles]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ProfileError(f"profiles file {source}: duplicate names {duplicates}")
    if sum(p.default for p in profiles) > 1:
        raise ProfileError(f"profiles file {source}: more than one default profile")
    return profiles


def default_profile(profiles: list[Profile]) -> Profile:
    return next((p for p in profiles if p.default), profiles[0])


def profiles_for(profiles: list[Profile], user_groups: set[str] | list[str]) -> list[Profile]:
    """The profiles a member of ``user_groups`` may use, in file order."""
    return [p for p in profiles if p.allows(user_groups)]


def find_profile(profiles: list[Profile], name: str | None) -> Profile | None:
    """The profile called ``name``; None/empty means the default one."""
    if not name:
        return default_profile(profiles)
    return next((p for p in profiles if p.name == name), None)


# ---- Kubernetes ----------------------------------------------------------------------------


def _cpu(value: float) -> str:
    """Kubernetes CPU quantity: whole cores as "2", fractions in millicores ("500m")."""
    return str(int(value)) if float(value).is_integer() else f"{round(value * 1000)}m"


def kubespawner_override(profile: Profile) -> dict[str, Any]:
    """The KubeSpawner settings that one profile sets (requests/limits, GPUs, node pool)."""
    override: dict[str, Any] = {
        "cpu_guarantee": profile.cpu_request,
        "cpu_limit": profile.cpu_limit,
        "mem_guarantee": profile.mem_request,
        "mem_limit": profile.mem_limit,
        "environment": {"COSIM_PROFILE": profile.name, "COSIM_GPUS": str(profile.gpus)},
        "extra_labels": {"cosim.dev/profile": profile.name},
    }
    if not profile.gpus:
        # A CPU pod scheduled on a GPU node must not see that node's GPUs.
        override["environment"].update(device_environment([]))
    else:
        # The device plugin sets NVIDIA_VISIBLE_DEVICES; MuJoCo renders with EGL on that GPU.
        override["environment"].update({"MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"})
    if profile.gpus:
        count = str(profile.gpus)
        override["extra_resource_guarantees"] = {profile.gpu_resource: count}
        override["extra_resource_limits"] = {profile.gpu_resource: count}
    if profile.node_selector:
        override["node_selector"] = dict(profile.node_selector)
    if profile.tolerations:
        override["tolerations"] = [dict(t) for t in profile.tolerations]
    return override


def kubespawner_profile_list(profiles: list[Profile]) -> list[dict[str, Any]]:
    """KubeSpawner's ``profile_list``: one entry per profile, with ``kubespawner_override``."""
    return [
        {
            "slug": p.name,
            "display_name": f"{p.display_name} — {p.price_label()}",
            "description": p.description,
            "default": p.default,
            "kubespawner_override": kubespawner_override(p),
        }
        for p in profiles
    ]


def pod_resources(profile: Profile) -> dict[str, dict[str, str]]:
    """The container ``resources`` a pod of this profile asks for (what tests check)."""
    requests = {"cpu": _cpu(profile.cpu_request), "memory": profile.mem_request}
    limits = {"cpu": _cpu(profile.cpu_limit), "memory": profile.mem_limit}
    if profile.gpus:
        requests[profile.gpu_resource] = limits[profile.gpu_resource] = str(profile.gpus)
    return {"requests": requests, "limits": limits}


# ---- local processes -----------------------------------------------------------------------


@dataclass(frozen=True)
class LocalLimits:
    """What a local user server of a profile gets: CPUs to run on, a data-size rlimit, env."""

    cpus: tuple[int, ...]
    data_bytes: int
    environment: dict[str, str]


def local_limits(profile: Profile, available_cpus: set[int] | None = None) -> LocalLimits:
    """Map a profile onto this machine: ceil(cpu_limit) of the CPUs we may use (all of them if
    the profile asks for more), RLIMIT_DATA = mem_limit, and the profile in the environment.

    The GPUs themselves are handed over by the spawner (its own devices, see gpus.py).
    """
    pool = sorted(available_cpus if available_cpus is not None else os.sched_getaffinity(0))
    count = max(1, min(len(pool), math.ceil(profile.cpu_limit)))
    env = {
        "COSIM_PROFILE": profile.name,
        "COSIM_GPUS": str(profile.gpus),
        "CPU_LIMIT": _cpu(profile.cpu_limit),
        "MEM_LIMIT": str(profile.mem_limit_bytes),
    }
    return LocalLimits(tuple(pool[:count]), profile.mem_limit_bytes, env)
