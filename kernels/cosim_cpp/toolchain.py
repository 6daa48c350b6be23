"""Which compilers and debuggers exist, what to install when one is missing, and MuJoCo's flags."""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

# Debian package that provides each tool, for the message a user sees when it is missing.
APT_PACKAGES = {
    "g++": "g++",
    "clang++": "clang",
    "gdb": "gdb",
    "lldb": "lldb",
    "ld.gold": "binutils",
}
COMPILERS = ("g++", "clang++")


class ToolMissing(RuntimeError):
    """A compiler or debugger that is not installed; the message says what to install."""

    def __init__(self, tool: str) -> None:
        package = APT_PACKAGES.get(tool, tool)
        super().__init__(
            f"{tool} is not installed on this server; install the Debian package {package!r} "
            f"(apt-get install {package}) or pick another tool"
        )
        self.tool = tool


def find_tool(name: str) -> str:
    """Absolute path of ``name`` on PATH, or ``ToolMissing`` naming the package to install."""
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(name)
    return path


@functools.lru_cache(maxsize=16)
def _tool_identity(path: str, mtime_ns: int, size: int) -> str:
    return f"{os.path.realpath(path)}:{mtime_ns}:{size}"


def tool_identity(path: str) -> str:
    """What the object cache keys on for a compiler: its real file and that file's stamp, so an
    upgraded compiler never reuses objects built by the old one (cheaper than ``--version``)."""
    st = os.stat(os.path.realpath(path))
    return _tool_identity(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=1)
def gold_linker() -> bool:
    """gold links small programs about twice as fast as the default bfd linker."""
    return shutil.which("ld.gold") is not None


@dataclass(frozen=True)
class MujocoFlags:
    include_dir: Path
    library: Path

    @property
    def compile(self) -> list[str]:
        # -isystem: MuJoCo's headers stay out of the dependency lists and warnings.
        return ["-isystem", str(self.include_dir)]

    @property
    def link(self) -> list[str]:
        return [str(self.library), f"-Wl,-rpath,{self.library.parent}"]


@functools.lru_cache(maxsize=1)
def mujoco_flags() -> MujocoFlags:
    """The C API shipped inside the ``mujoco`` wheel: ``include/`` and ``libmujoco.so.*``."""
    import importlib.util

    spec = importlib.util.find_spec("mujoco")
    if spec is None or not spec.submodule_search_locations:
        raise ToolMissing("mujoco (Python package)")
    package = Path(next(iter(spec.submodule_search_locations)))
    libraries = sorted(package.glob("libmujoco.so*"))
    include = package / "include"
    if not libraries or not (include / "mujoco" / "mujoco.h").is_file():
        raise RuntimeError(f"the mujoco package at {package} ships no C headers or libmujoco")
    return MujocoFlags(include_dir=include, library=libraries[-1])
