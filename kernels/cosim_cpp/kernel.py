"""The ``cosim-cpp`` Jupyter kernel: C++ cells built by ``cosim_cpp.build`` and run sandboxed.

A wrapper kernel on ipykernel's machinery (messaging, interrupts, history). Its project is the
folder it starts in (the notebook's folder): ``%%file`` writes there, plain cells and ``%%build``
compile ``src/**.cpp`` from there, and ``compile_commands.json`` lands there.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path
from typing import Any

from ipykernel.kernelbase import Kernel

from . import __version__
from .build import (
    BUILD_DIR,
    BuildError,
    BuildRequest,
    BuildResult,
    CoSimCppBuild,
    build,
    check_flags,
    find_sources,
)
from .completion import Clangd, ClangdError
from .magics import (
    CELL_MAGICS,
    LINE_MAGICS,
    Cell,
    MagicError,
    confine_file,
    is_complete,
    parse_cell,
    parse_run_args,
)
from .sandbox import CoSimCppSandbox, RunResult, Sandbox
from .toolchain import COMPILERS, ToolMissing, find_tool

CELL_NAME = "cell"
_WORD = re.compile(r"(?:%{1,2}[A-Za-z_]*|[A-Za-z_][A-Za-z0-9_:]*)$")
_IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{2,}\b")
_KEYWORDS = """auto bool break case catch char class const constexpr continue default delete do
double else enum explicit extern false float for if inline int long namespace new nullptr operator
private protected public return short signed sizeof static static_cast struct switch template this
throw true try typedef typename unsigned using virtual void volatile while"""
KEYWORDS = [*_KEYWORDS.split(), "std::cout", "std::vector", "std::string"]


class CellFailed(Exception):
    """Ends a cell with an error reply: ``ename`` and the lines users see."""

    def __init__(
        self, ename: str, evalue: str, lines: list[str] | None = None,
        diagnostics: list[dict[str, Any]] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(evalue)
        self.ename, self.evalue, self.lines = ename, evalue, lines or [evalue]
        self.diagnostics = diagnostics or []


class CppKernel(Kernel):
    implementation = "cosim-cpp"
    implementation_version = __version__
    language = "c++"
    language_version = "20"
    language_info = {
        "name": "c++",
        "mimetype": "text/x-c++src",
        "file_extension": ".cpp",
        "codemirror_mode": "text/x-c++src",
        "pygments_lexer": "cpp",
    }
    banner = "CoSim C++: cells with main() are built and run; %%file, %%build, %%run, %%gdb"
    help_links = [{"text": "CoSim C++ kernel", "url": "https://github.com/cosim/cosim#c-kernel"}]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.build_config = CoSimCppBuild(parent=self)
        self.limits = CoSimCppSandbox(parent=self)
        self.root = Path.cwd().resolve()
        self.build_dir = self.root / BUILD_DIR
        self.compiler = self.build_config.compiler
        self.flags = list(self.build_config.flags)
        self.mujoco = False
        self.timeout: float | None = None  # this session's %timeout, else the configured limit
        self.sandbox: Sandbox | None = None
        self.build_task: asyncio.Future[BuildResult] | None = None
        self.interrupted = False
        self.last_binary = self._load_last_binary()
        self.cell_file = self.build_dir / "cells" / f"{CELL_NAME}.cpp"
        self.clangd = Clangd(self.root)

    # ---- ipykernel hooks -------------------------------------------------------------------

    def pre_handler_hook(self) -> None:
        # SIGINT (Lab's interrupt) kills the running program's group; compilers in our own
        # process group die of the same SIGINT. The kernel itself carries on.
        self.saved_sigint_handler = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self.interrupted = True
        if self.sandbox is not None:
            self.sandbox.interrupt()
        if self.build_task is not None:  # cancelling kills the compilers it started
            self.build_task.get_loop().call_soon_threadsafe(self.build_task.cancel)

    async def do_execute(
        self, code: str, silent: bool, store_history: bool = True,
        user_expressions: Any = None, allow_stdin: bool = False, **_: Any,
    ) -> dict[str, Any]:  # fmt: skip
        self.interrupted = False
        self.silent = silent
        try:
            await self.run_cell(parse_cell(code))
        except (MagicError, BuildError, ToolMissing, RuntimeError) as err:
            return self.fail(CellFailed(type(err).__name__, str(err)))
        except CellFailed as err:
            return self.fail(err)
        except Exception as err:  # a reply must always come, or the notebook waits forever
            self.log.exception("cosim-cpp: internal error")
            return self.fail(CellFailed("InternalError", f"internal error: {err!r}"))
        return {"status": "ok", "execution_count": self.execution_count,
                "payload": [], "user_expressions": {}}  # fmt: skip

    async def do_is_complete(self, code: str) -> dict[str, Any]:
        status = is_complete(code)
        return {"status": status, "indent": "    " if status == "incomplete" else ""}

    async def do_complete(self, code: str, cursor_pos: int) -> dict[str, Any]:
        m = _WORD.search(code[:cursor_pos])
        prefix = m.group(0) if m else ""
        start = cursor_pos - len(prefix)
        if prefix.startswith("%"):
            names = [f"%{n}" for n in LINE_MAGICS] + [f"%%{n}" for n in CELL_MAGICS]
            matches = [n for n in names if n.startswith(prefix)]
        else:
            try:
                found, found_at = await self.clangd.complete(self.cell_file, code, cursor_pos)
            except ClangdError as err:
                self.log.info("cosim-cpp: no clangd completion (%s); completing words", err)
            else:
                if found:  # else (e.g. no compile command for the cell yet): words below
                    return {"status": "ok", "matches": found, "cursor_start": found_at,
                            "cursor_end": cursor_pos, "metadata": {}}  # fmt: skip
            words = set(KEYWORDS) | set(_IDENT.findall(code))
            src = self.root / "src"
            for header in src.glob("*.h*") if src.is_dir() else ():
                words |= set(_IDENT.findall(header.read_text(errors="replace")))
            matches = sorted(w for w in words if w.startswith(prefix) and w != prefix)
        return {"status": "ok", "matches": matches, "cursor_start": start,
                "cursor_end": cursor_pos, "metadata": {}}  # fmt: skip

    async def do_inspect(
        self, code: str, cursor_pos: int, detail_level: int = 0, omit_sections: Any = ()
    ) -> dict[str, Any]:
        # Lab sends the cursor just past the name (Shift+Tab): look at its last character.
        past_name = cursor_pos == len(code) or not code[cursor_pos : cursor_pos + 1].isalnum()
        at = cursor_pos - 1 if cursor_pos and past_name else cursor_pos
        try:
            text = await self.clangd.hover(self.cell_file, code, max(0, at))
        except ClangdError as err:
            self.log.info("cosim-cpp: no clangd hover (%s)", err)
            text = None
        data = {"text/plain": text, "text/markdown": text} if text else {}
        return {"status": "ok", "found": bool(text), "data": data, "metadata": {}}

    async def do_shutdown(self, restart: bool) -> dict[str, Any]:
        await self.clangd.close()
        return {"status": "ok", "restart": restart}

    # ---- cells -------------------------------------------------------------------------------

    async def run_cell(self, cell: Cell) -> None:
        # Settings are confirmed only in a cell of their own, never mixed into program output.
        quiet = cell.cell_magic is not None or cell.has_code
        for name, args in cell.line_magics:
            self.line_magic(name, args, quiet)
        magic = cell.cell_magic
        if magic == "file":
            self.write_file(cell)
        elif magic == "build":
            name = cell.args[0] if cell.args else "app"
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
                raise MagicError(f"%%build: {name!r} is not a plain file name for the binary")
            result = await self.build(cell, name)
            self.say(f"built {name}: {self.summary(result)}\n")
        elif magic == "run":
            timeout, args = parse_run_args(cell.args)
            await self.run_program([str(self.need_binary()), *args], timeout)
        elif magic in ("gdb", "lldb"):
            await self.debug(magic, cell)
        elif cell.has_code:
            result = await self.build(cell, CELL_NAME)
            assert result.binary is not None
            await self.run_program([str(result.binary)], None)

    def line_magic(self, name: str, args: list[str], quiet: bool) -> None:
        say = (lambda text: None) if quiet else self.say
        if name == "compiler":
            if len(args) != 1 or args[0] not in COMPILERS:
                raise MagicError(f"%compiler takes one of: {', '.join(COMPILERS)}")
            find_tool(args[0])
            self.compiler = args[0]
            say(f"compiler: {self.compiler}\n")
        elif name == "flags":
            if args:
                self.flags = check_flags(args)
            say(f"flags: {' '.join(self.flags)}\n")
        elif name == "mujoco":
            if args not in ([], ["on"], ["off"]):
                raise MagicError("%mujoco takes nothing, on or off")
            self.mujoco = args != ["off"]
            say(f"MuJoCo C API: {'on' if self.mujoco else 'off'}\n")
        elif name == "timeout":
            seconds, _ = parse_run_args(["--timeout", *args[:1]])
            if len(args) != 1 or seconds is None:
                raise MagicError("%timeout takes seconds, e.g. %timeout 5")
            self.timeout = min(seconds, self.limits.timeout_s)
            say(f"programs stop after {self.timeout:g} s\n")

    def write_file(self, cell: Cell) -> None:
        if len(cell.args) != 1:
            raise MagicError("%%file takes one path, e.g. %%file src/arm.cpp")
        target = confine_file(self.root, cell.args[0])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(cell.body)
        self.say(f"wrote {target.relative_to(self.root)} ({len(cell.body.encode())} bytes)\n")

    async def build(self, cell: Cell, name: str) -> BuildResult:
        sources = find_sources(self.root / "src") if (self.root / "src").is_dir() else []
        rename: dict[str, str] = {}
        if cell.has_code:
            cell_file = self.cell_file
            cell_file.parent.mkdir(parents=True, exist_ok=True)
            if not cell_file.is_file() or cell_file.read_text() != cell.body:
                cell_file.write_text(cell.body)
            sources.append(cell_file)
            rename[str(cell_file)] = CELL_NAME
        if not sources:
            raise MagicError("nothing to build: no code in the cell and no .cpp files in src/")
        request = BuildRequest(
            root=self.root, sources=sources, output_name=name, compiler=self.compiler,
            flags=self.flags, link_flags=self.build_config.link_flags, mujoco=self.mujoco,
            rename=rename, precompiled_header=self.build_config.precompiled_header,
            jobs=self.build_config.default_jobs(),
        )  # fmt: skip
        self.build_task = asyncio.ensure_future(build(request))
        try:
            result = await self.build_task
        except asyncio.CancelledError:
            if not self.interrupted:
                raise
            result = None
        finally:
            self.build_task = None
        if self.interrupted or result is None:
            raise CellFailed("KeyboardInterrupt", "interrupted while building")
        if not result.ok:
            errors = [d for d in result.diagnostics if d.severity == "error"]
            lines = result.output.rstrip().splitlines() or ["the build failed"]
            raise CellFailed(
                "CompileError", f"{len(errors) or 'the'} error(s) building {name}", lines,
                [d.to_json() for d in result.diagnostics],
            )  # fmt: skip
        if result.output.strip():  # warnings
            self.say(result.output, "stderr")
        assert result.binary is not None
        self.last_binary = result.binary
        self.build_dir.mkdir(parents=True, exist_ok=True)
        (self.build_dir / "last.json").write_text(json.dumps({"binary": str(result.binary)}))
        return result

    @staticmethod
    def summary(result: BuildResult) -> str:
        link = "linked" if result.linked else "link up to date"
        return f"{len(result.compiled)} compiled, {len(result.cached)} cached, {link}, " + (
            f"{result.seconds:.2f} s"
        )

    def need_binary(self) -> Path:
        if self.last_binary is None or not self.last_binary.is_file():
            raise MagicError("nothing built yet: run a cell with main() or %%build first")
        return self.last_binary

    def _load_last_binary(self) -> Path | None:
        try:
            return Path(json.loads((self.build_dir / "last.json").read_text())["binary"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    async def debug(self, tool: str, cell: Cell) -> None:
        debugger = find_tool(tool)
        binary = self.need_binary()
        if "-g" not in self.flags and not any(f.startswith("-g") for f in self.flags):
            self.say("note: the flags have no -g, so the debugger sees no source lines\n", "stderr")
        commands = self.build_dir / f"{tool}-commands"
        commands.write_text(cell.body)
        if tool == "gdb":
            argv = [debugger, "-q", "-batch", "-nx", "-iex", "set style enabled off",
                    "-iex", "set pagination off", "-x", str(commands), "--args", str(binary),
                    *cell.args]  # fmt: skip
        else:
            argv = [debugger, "--batch", "--no-lldbinit", "-s", str(commands), "--",
                    str(binary), *cell.args]  # fmt: skip
        await self.run_program(argv, None, check=False)

    async def run_program(self, argv: list[str], timeout: float | None, check: bool = True) -> None:
        self.sandbox = Sandbox(self.limits)
        try:
            result = await self.sandbox.run(
                argv,
                self.root,
                lambda stream, text: self.say(text, stream),
                timeout_s=timeout or self.timeout,
            )
        except OSError as err:  # e.g. the sandbox account cannot enter the project folder
            name = Path(argv[0]).name
            raise CellFailed("ProgramError", f"could not start {name}: {err}") from None
        finally:
            self.sandbox = None
        if result.truncated:
            self.say(f"\n[{result.message}]\n", "stderr")
        if not result.ok and (check or not _normal_exit(result)):
            raise CellFailed(_ename(result), result.message)

    # ---- output ------------------------------------------------------------------------------

    def say(self, text: str, stream: str = "stdout") -> None:
        if not self.silent:
            self.send_response(self.iopub_socket, "stream", {"name": stream, "text": text})

    def fail(self, err: CellFailed) -> dict[str, Any]:
        content = {"ename": err.ename, "evalue": err.evalue, "traceback": err.lines}
        if not self.silent:
            self.send_response(self.iopub_socket, "error", content)
        return {"status": "error", "execution_count": self.execution_count, **content,
                "diagnostics": err.diagnostics}  # fmt: skip


def _normal_exit(result: RunResult) -> bool:
    return not (result.timed_out or result.truncated or result.interrupted)


def _ename(result: RunResult) -> str:
    if result.interrupted:
        return "KeyboardInterrupt"
    if result.timed_out:
        return "Timeout"
    return "ProgramError"


def main() -> None:
    from cosim.private_kernel import launch

    launch(CppKernel)  # no TCP port when the kernel talks IPC


if __name__ == "__main__":
    main()
