"""Cell syntax of the ``cosim-cpp`` kernel: line magics at the top, at most one cell magic.

::

    %compiler clang++         g++ (default) or clang++
    %flags -O2 -Wall          compile flags for this session (no arguments: show them)
    %mujoco [off]             MuJoCo's C API (headers + libmujoco from the mujoco wheel)
    %timeout S                programs of this session stop after S seconds (at most the limit)
    %%file src/arm.cpp        write the rest of the cell to that file (inside the project only)
    %%build [name]            build src/**.cpp (+ the cell if it has code); don't run
    %%run [--timeout S] args  run the last built binary with arguments
    %%gdb [args]              gdb in batch mode on the last binary, the cell as its commands
    %%lldb [args]             lldb likewise

A cell without a cell magic is a translation unit with ``main``: built with the project's
sources and run.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

LINE_MAGICS = ("compiler", "flags", "mujoco", "timeout")
CELL_MAGICS = ("file", "build", "run", "gdb", "lldb")


class MagicError(ValueError):
    """A cell the kernel cannot act on; the message tells the user what to write instead."""


@dataclass
class Cell:
    line_magics: list[tuple[str, list[str]]] = field(default_factory=list)
    cell_magic: str | None = None
    args: list[str] = field(default_factory=list)
    body: str = ""

    @property
    def has_code(self) -> bool:
        return any(line.strip() and not line.strip().startswith("//")
                   for line in self.body.splitlines())  # fmt: skip


def _split(name: str, rest: str) -> list[str]:
    try:
        return shlex.split(rest)
    except ValueError as err:
        raise MagicError(f"%{name}: cannot read the arguments ({err})") from None


def parse_cell(code: str) -> Cell:
    cell = Cell()
    lines = code.splitlines()
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped:
            i += 1
            continue
        if stripped.startswith("%%"):
            name, _, rest = stripped[2:].partition(" ")
            if name not in CELL_MAGICS:
                known = ", ".join(f"%%{m}" for m in CELL_MAGICS)
                raise MagicError(f"unknown cell magic %%{name}; known: {known}")
            cell.cell_magic, cell.args = name, _split(f"%{name}", rest)
            cell.body = "\n".join(lines[i + 1 :]) + "\n"
            return cell
        if stripped.startswith("%") and not stripped.startswith("%:"):  # %: is a digraph
            name, _, rest = stripped[1:].partition(" ")
            if name not in LINE_MAGICS:
                known = ", ".join(f"%{m}" for m in (*LINE_MAGICS, *(f"%{c}" for c in CELL_MAGICS)))
                raise MagicError(f"unknown magic %{name}; known: {known}")
            cell.line_magics.append((name, _split(name, rest)))
            i += 1
            continue
        break
    cell.body = "\n".join(lines[i:]) + ("\n" if i < len(lines) else "")
    for line in lines[i:]:
        if line.strip().startswith("%%"):
            raise MagicError("a cell magic (%%...) must come first in the cell, after line magics")
    return cell


def confine_file(root: Path, user_path: str) -> Path:
    """Where ``%%file user_path`` may write: inside ``root``, never in ``.cosim``."""
    if not user_path or "\x00" in user_path:
        raise MagicError("%%file needs a file name, e.g. %%file src/arm.cpp")
    if Path(user_path).is_absolute() or user_path.startswith("~"):
        raise MagicError(f"%%file: {user_path!r} is absolute; give a path inside the project")
    base = root.resolve()
    target = (base / user_path).resolve()
    if base not in target.parents:
        raise MagicError(f"%%file: {user_path!r} leaves the project folder; refused")
    if ".cosim" in target.relative_to(base).parts:
        raise MagicError("%%file: .cosim/ holds CoSim's own state; write elsewhere")
    return target


def parse_run_args(args: list[str]) -> tuple[float | None, list[str]]:
    """``--timeout S`` (seconds, at most the configured limit) and the program's arguments."""
    timeout: float | None = None
    rest = list(args)
    if rest[:1] == ["--timeout"]:
        if len(rest) < 2:
            raise MagicError("--timeout needs seconds, e.g. %%run --timeout 5")
        try:
            timeout = float(rest[1])
        except ValueError:
            raise MagicError(f"--timeout needs seconds, not {rest[1]!r}") from None
        if timeout <= 0:
            raise MagicError("--timeout must be positive")
        rest = rest[2:]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    return timeout, rest


def is_complete(code: str) -> str:
    """'complete' or 'incomplete' for a console's Enter: open braces, parens or a comment."""
    depth, i, in_str, in_comment = 0, 0, "", False
    while i < len(code):
        ch, nxt = code[i], code[i + 1 : i + 2]
        if in_comment:
            if ch == "*" and nxt == "/":
                in_comment, i = False, i + 1
        elif in_str:
            if ch == "\\":
                i += 1
            elif ch == in_str:
                in_str = ""
        elif ch == "/" and nxt == "/":
            while i < len(code) and code[i] != "\n":
                i += 1
        elif ch == "/" and nxt == "*":
            in_comment, i = True, i + 1
        elif ch in "\"'":
            in_str = ch
        elif ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        i += 1
    if in_comment or depth > 0:
        return "incomplete"
    return "invalid" if depth < 0 else "complete"
