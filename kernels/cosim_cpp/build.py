"""The C++ compiler driver: parallel compiles through the object cache, link, compile DB.

``await build(request)`` compiles each source that changed (judged by content, see ``cache``),
reuses the rest, links only when an object changed, and writes ``compile_commands.json`` at the
project root for clangd and editors. Everything it keeps lives in ``<root>/.cosim/build/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from traitlets import Bool, Int, List, Unicode
from traitlets.config import Configurable

from cosim.snapshots.store import atomic_write

from .cache import FileHashes, ObjectCache, parse_depfile, stable_hash
from .diagnostics import Diagnostic, parse_diagnostics
from .toolchain import COMPILERS, find_tool, gold_linker, mujoco_flags, tool_identity

PCH_KEEP = 3  # flag sets whose precompiled header a project keeps
SOURCE_SUFFIXES = (".cpp", ".cc", ".cxx", ".c++")
BUILD_DIR = Path(".cosim") / "build"
# Standard headers most cells use; parsing them dominates a small program's compile time.
PCH_HEADERS = ["iostream", "string", "vector", "array", "cmath", "algorithm", "memory", "cstdio",
               "cstdlib", "cstring", "chrono"]  # fmt: skip


class CoSimCppBuild(Configurable):
    """How the C++ kernel and the build endpoint compile."""

    compiler = Unicode(
        "g++", help="Default compiler: g++ or clang++ (``%compiler`` changes it per session)."
    ).tag(config=True)
    flags = List(
        Unicode(),
        ["-std=c++20", "-g", "-Wall"],
        help="Default compile flags (``%flags`` replaces them for a kernel session).",
    ).tag(config=True)
    jobs = Int(
        0, help="Compiles run in parallel; 0 means one per CPU core the server may use."
    ).tag(config=True)
    precompiled_header = Bool(
        True,
        help=f"""Precompile common standard headers ({", ".join(PCH_HEADERS)}) once per compiler
        and flag set and include them in every file: it halves a small program's compile time.
        Those headers are then visible in every file without an #include.""",
    ).tag(config=True)
    link_flags = List(Unicode(), [], help="Extra flags for every link (e.g. -lpthread).").tag(
        config=True
    )

    def default_jobs(self) -> int:
        return self.jobs or max(1, len(os.sched_getaffinity(0)))


@dataclass
class BuildRequest:
    root: Path
    sources: Sequence[Path]
    output_name: str = "app"
    compiler: str = "g++"
    flags: Sequence[str] = ("-std=c++20", "-g", "-Wall")
    link_flags: Sequence[str] = ()
    mujoco: bool = False
    include_dirs: Sequence[Path] | None = None  # default: root, root/src, root/include
    rename: dict[str, str] = field(default_factory=dict)  # paths -> names shown to users
    precompiled_header: bool = True
    jobs: int = 2


@dataclass
class BuildResult:
    ok: bool
    binary: Path | None
    diagnostics: list[Diagnostic]
    output: str
    compiled: list[str]
    cached: list[str]
    linked: bool
    seconds: float
    error: str | None = None  # a problem before any compiling (no sources, missing compiler)
    # When each compile ran, seconds from the build's start: (start, end) per compiled file.
    timings: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "binary": str(self.binary) if self.binary else None,
            "diagnostics": [d.to_json() for d in self.diagnostics],
            "output": self.output,
            "compiled": self.compiled,
            "cached": self.cached,
            "linked": self.linked,
            "seconds": round(self.seconds, 4),
            "error": self.error,
        }


class BuildError(Exception):
    """A build that cannot start; the message says why (no sources, unknown compiler, ...)."""


# Flags that name output files: the driver chooses where objects and binaries go.
_OUTPUT_FLAGS = ("-o", "-MF", "-MD", "-MMD", "-MT", "-MQ", "-save-temps", "--output")


def check_flags(flags: Sequence[str]) -> list[str]:
    """``flags`` as a list of strings, or ``BuildError`` for flags that choose output files."""
    if isinstance(flags, str) or not all(isinstance(f, str) and f for f in flags):
        raise BuildError("flags must be a list of non-empty strings")
    for flag in flags:
        if flag.startswith(_OUTPUT_FLAGS) or "\x00" in flag:
            raise BuildError(f"flag {flag!r} is not allowed: CoSim chooses the output files")
    return list(flags)


def find_sources(folder: Path) -> list[Path]:
    """C++ sources under ``folder``, skipping hidden folders (``.cosim``, ``.git``)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / n for n in sorted(filenames) if n.endswith(SOURCE_SUFFIXES))
    return found


def _prune_pch(folder: Path, keep: int) -> None:
    """Keep the ``keep`` most recently used precompiled headers (each is tens of MB)."""
    entries = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        shutil.rmtree(old, ignore_errors=True)


async def _run(argv: list[str], cwd: Path) -> tuple[int, str]:
    """Run a compiler in its own process group; on cancellation (interrupt, closed request)
    the whole group dies: the driver and the cc1plus/as/ld it started."""
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, _ = await proc.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace")


class _Driver:
    def __init__(self, request: BuildRequest) -> None:
        if request.compiler not in COMPILERS:
            raise BuildError(f"unknown compiler {request.compiler!r}; use g++ or clang++")
        self.req = request
        self.root = request.root.resolve()
        self.build_dir = self.root / BUILD_DIR
        self.cache = ObjectCache(self.build_dir / "obj")
        self.hashes = FileHashes()
        self.compiler = find_tool(request.compiler)
        self.identity = tool_identity(self.compiler)
        includes = request.include_dirs
        if includes is None:
            includes = [p for p in (self.root, self.root / "src", self.root / "include")
                        if p.is_dir()]  # fmt: skip
        self.compile_args = [*check_flags(request.flags), *(f"-I{p}" for p in includes)]
        self.link_args = list(request.link_flags)
        if request.mujoco:
            mj = mujoco_flags()
            self.compile_args += mj.compile
            self.link_args += mj.link
        self.outputs: list[str] = []
        self.timings: dict[str, tuple[float, float]] = {}
        self.start = time.perf_counter()

    def rename(self, text: str) -> str:
        for path, name in self.req.rename.items():
            text = text.replace(path, name)
        return text.replace(f"{self.root}/", "")  # project paths as users see them

    async def precompiled_header(self) -> list[str]:
        """``-include`` flags for the precompiled standard headers, built on first use."""
        if not self.req.precompiled_header:
            return []
        folder = self.build_dir / "pch" / stable_hash(self.identity, self.compile_args)
        header = folder / "cosim_pch.hpp"
        suffix = ".gch" if self.req.compiler == "g++" else ".pch"
        compiled = header.with_name(header.name + suffix)
        if not compiled.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            header.write_text("".join(f"#include <{h}>\n" for h in PCH_HEADERS))
            tmp = folder / f".{os.getpid()}-{id(self)}{suffix}"
            argv = [self.compiler, *self.compile_args, "-x", "c++-header", str(header),
                    "-o", str(tmp)]  # fmt: skip
            code, _out = await _run(argv, self.root)
            if code != 0:  # flags the PCH cannot take: build without it, never fail for it
                tmp.unlink(missing_ok=True)
                return []
            os.replace(tmp, compiled)
            _prune_pch(folder.parent, keep=PCH_KEEP)
        else:
            os.utime(folder)  # recently used: pruning keeps it
        return ["-include", str(header)]

    async def compile_one(
        self, source: Path, key: str, argv: list[str], source_hash: str, gate: asyncio.Semaphore
    ) -> str | None:
        obj = self.cache.object_path(key)
        tmp_obj = obj.with_name(f".{obj.stem}.{os.getpid()}.o")
        depfile = tmp_obj.with_suffix(".d")
        async with gate:
            started = time.perf_counter() - self.start
            code, out = await _run(
                [*argv, "-MMD", "-MF", str(depfile), "-c", str(source), "-o", str(tmp_obj)],
                self.root,
            )
            self.timings[self.rename(str(source))] = (started, time.perf_counter() - self.start)
        if out:
            self.outputs.append(self.rename(out))
        if code != 0:
            tmp_obj.unlink(missing_ok=True)
            depfile.unlink(missing_ok=True)
            return None
        try:
            deps = [d for d in parse_depfile(depfile.read_text()) if d != str(source)]
        finally:
            depfile.unlink(missing_ok=True)
        os.replace(tmp_obj, obj)
        return self.cache.record(key, source_hash, deps, self.hashes)

    async def run(self) -> BuildResult:
        start = self.start = time.perf_counter()
        sources = [Path(s).resolve() for s in self.req.sources]
        if not sources:
            raise BuildError("no C++ sources to build (.cpp, .cc, .cxx)")
        self.cache.folder.mkdir(parents=True, exist_ok=True)
        pch = await self.precompiled_header()
        argv = [self.compiler, *self.compile_args, *pch]
        gate = asyncio.Semaphore(max(1, self.req.jobs))
        stamps: dict[Path, str | None] = {}
        pending: dict[Path, asyncio.Task[str | None]] = {}
        keys: dict[Path, str] = {}
        cached: list[str] = []
        for source in sources:
            source_hash = self.hashes(source)
            if source_hash == "-":
                raise BuildError(f"cannot read source {self.rename(str(source))}")
            key = stable_hash(self.identity, argv, str(source))
            keys[source] = key
            stamp = self.cache.lookup(key, source_hash, self.hashes)
            if stamp is not None:
                stamps[source] = stamp
                cached.append(self.rename(str(source)))
            else:
                pending[source] = asyncio.ensure_future(
                    self.compile_one(source, key, argv, source_hash, gate)
                )
        try:
            for source, task in pending.items():
                stamps[source] = await task
        except BaseException:
            for task in pending.values():
                task.cancel()
            raise
        self.write_compile_db(sources, keys, argv)
        compiled = [self.rename(str(s)) for s in pending]
        if any(stamp is None for stamp in stamps.values()):
            return self.result(False, None, compiled, cached, False, start)
        binary, linked, ok = await self.link(sources, keys, stamps)
        return self.result(ok, binary if ok else None, compiled, cached, linked, start)

    async def link(
        self, sources: list[Path], keys: dict[Path, str], stamps: dict[Path, str | None]
    ) -> tuple[Path, bool, bool]:
        binary = self.build_dir / "bin" / self.req.output_name
        record = binary.with_name(binary.name + ".json")
        link_args = (["-fuse-ld=gold"] if gold_linker() else []) + self.link_args
        link_key = stable_hash(self.identity, link_args, [stamps[s] for s in sources])
        try:
            if json.loads(record.read_bytes()).get("link") == link_key and binary.is_file():
                return binary, False, True
        except (OSError, ValueError):
            pass
        binary.parent.mkdir(parents=True, exist_ok=True)
        tmp = binary.with_name(f".{binary.name}.{os.getpid()}")
        objects = [str(self.cache.object_path(keys[s])) for s in sources]
        code, out = await _run([self.compiler, *objects, "-o", str(tmp), *link_args], self.root)
        if out:
            self.outputs.append(self.rename(out))
        if code != 0:
            tmp.unlink(missing_ok=True)
            return binary, True, False
        os.replace(tmp, binary)
        atomic_write(record, json.dumps({"link": link_key}).encode(), durable=False)
        return binary, True, True

    def write_compile_db(self, sources: list[Path], keys: dict[Path, str], argv: list[str]) -> None:
        """``compile_commands.json`` at the project root, rewritten only when it changes (clangd
        re-indexes on every write). The precompiled header is left out: clangd cannot read GCC's."""
        clean = [a for a in argv if a != "-include" and not a.endswith("cosim_pch.hpp")]
        entries = [
            {
                "directory": str(self.root),
                "file": str(s),
                "arguments": [*clean, "-c", str(s), "-o", str(self.cache.object_path(keys[s]))],
                "output": str(self.cache.object_path(keys[s])),
            }
            for s in sources
        ]
        path = self.root / "compile_commands.json"
        data = json.dumps(entries, indent=1).encode()
        try:
            if path.read_bytes() == data:
                return
        except OSError:
            pass
        atomic_write(path, data, durable=False)

    def result(
        self, ok: bool, binary: Path | None, compiled: list[str], cached: list[str], linked: bool,
        start: float,
    ) -> BuildResult:  # fmt: skip
        output = "".join(self.outputs)
        return BuildResult(
            ok=ok, binary=binary, diagnostics=parse_diagnostics(output), output=output,
            compiled=compiled, cached=cached, linked=linked,
            seconds=time.perf_counter() - start, timings=self.timings,
        )  # fmt: skip


async def build(request: BuildRequest) -> BuildResult:
    """Compile and link ``request``; a compile error is a result (``ok=False``), not an
    exception. ``BuildError`` / ``ToolMissing`` mean the build could not start."""
    return await _Driver(request).run()
