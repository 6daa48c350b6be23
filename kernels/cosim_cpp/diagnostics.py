"""Compiler and linker messages turned into ``Diagnostic`` records (file, line, column, text)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

# g++ and clang++ share this shape: "path:line:col: severity: message" (col may be absent).
_LINE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:(?P<column>\d+):)? "
    r"(?P<severity>fatal error|error|warning|note): (?P<message>.*)$"
)
# Linker errors name no line: "/usr/bin/ld: foo.o: in function `main': ... undefined reference".
_LINKER = re.compile(
    r"^(?:/\S*/)?(?:ld|ld\.gold|collect2|clang)(?:: | )(?:error: )?(?P<message>.*)$"
)


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int
    column: int
    severity: str  # "error" | "warning" | "note"
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message}"


def parse_diagnostics(text: str, *, rename: dict[str, str] | None = None) -> list[Diagnostic]:
    """Diagnostics in compiler output; ``rename`` maps paths to the names users know them by
    (the cell's generated file becomes ``cell``)."""
    rename = rename or {}
    found: list[Diagnostic] = []
    for raw in text.splitlines():
        m = _LINE.match(raw)
        if m:
            severity = "error" if m["severity"] == "fatal error" else m["severity"]
            file = rename.get(m["file"], m["file"])
            found.append(Diagnostic(file, int(m["line"]), int(m["column"] or 0), severity,
                                    m["message"]))  # fmt: skip
            continue
        m = _LINKER.match(raw)
        if m and ("undefined reference" in raw or "multiple definition" in raw or "error" in raw):
            found.append(Diagnostic("<link>", 0, 0, "error", m["message"]))
    return found
