"""Local GPU allocation: which server holds which GPU, as the hub keeps it in Redis.

One hash for the whole installation (GPUs belong to the machine, not to a user)::

    cosim:hub:gpus:assigned   HASH  gpu id -> JSON Assignment
    cosim:hub:gpus:readings   STRING JSON {gpu id: {"utilization": %, "memory_used_mb": int,
                                           "at": unix time}} (the last NVML reading)

A GPU id is the index CUDA and NVML give the device on this machine ("0", "1", ...).
Environment a user server gets: ``CUDA_VISIBLE_DEVICES`` and ``NVIDIA_VISIBLE_DEVICES`` (the ids,
comma separated; empty / "void" for none) and ``MUJOCO_EGL_DEVICE_ID`` (the first id).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

SCHEMA_VERSION = 1

ASSIGNED_KEY = "cosim:hub:gpus:assigned"
READINGS_KEY = "cosim:hub:gpus:readings"

# The hub hands c.CoSimGpus to its cost-guard service as JSON in this variable.
SETTINGS_ENV = "COSIM_GPU_SETTINGS"

CUDA_ENV = "CUDA_VISIBLE_DEVICES"
NVIDIA_ENV = "NVIDIA_VISIBLE_DEVICES"
EGL_ENV = "MUJOCO_EGL_DEVICE_ID"
NO_NVIDIA_DEVICES = "void"  # the NVIDIA container runtime's "no GPU"


@dataclass(frozen=True)
class Assignment:
    """One GPU held by one server."""

    server: str  # "<user>/<server name>" ("" for the default server)
    user: str
    since: float
    # When the server's profile ends it at the latest (max_runtime), or None: no limit.
    until: float | None = None
    v: int = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Assignment:
        data = json.loads(raw)
        if data.get("v", 1) > SCHEMA_VERSION:
            raise ValueError(f"GPU assignment schema {data['v']} is newer than {SCHEMA_VERSION}")
        return cls(data["server"], data["user"], float(data["since"]), data.get("until"))


def device_environment(gpu_ids: list[str]) -> dict[str, str]:
    """The variables that give a process exactly these GPUs (none for an empty list)."""
    if not gpu_ids:
        return {CUDA_ENV: "", NVIDIA_ENV: NO_NVIDIA_DEVICES}
    ids = ",".join(gpu_ids)
    # CUDA numbers devices fastest-first unless told otherwise; NVML and EGL use bus order.
    return {CUDA_ENV: ids, NVIDIA_ENV: ids, EGL_ENV: gpu_ids[0], "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
