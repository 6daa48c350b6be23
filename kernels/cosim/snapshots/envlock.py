"""The environment a snapshot was taken in: exact Python packages, Python, platform, apt, conda."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from importlib import metadata
from typing import Any


def python_packages() -> dict[str, str]:
    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name.lower().replace("_", "-")] = dist.version
    return dict(sorted(packages.items()))


def _run(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def debian_packages() -> dict[str, str]:
    if shutil.which("dpkg-query") is None:
        return {}
    out = _run(["dpkg-query", "-W", "-f", "${Package}\\t${Version}\\n"])
    return dict(sorted(line.split("\t", 1) for line in out.splitlines() if "\t" in line))


def conda_packages() -> dict[str, str]:
    if shutil.which("conda") is None:
        return {}
    out = _run(["conda", "list", "--export"])
    pairs = (line.split("=")[:2] for line in out.splitlines() if line and not line.startswith("#"))
    return dict(sorted((p[0], p[1]) for p in pairs if len(p) == 2))


def environment_lock() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python_packages": python_packages(),
        "debian_packages": debian_packages(),
        "conda_packages": conda_packages(),
    }


def requirements_txt(lock: dict[str, Any]) -> str:
    """A pip requirements file that pins the snapshot's Python packages."""
    lines = [f"# Python {lock.get('python')} on {lock.get('platform')}"]
    lines += [f"{name}=={version}" for name, version in lock.get("python_packages", {}).items()]
    return "\n".join(lines) + "\n"
