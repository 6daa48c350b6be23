"""Code completion and inspection for cells from clangd (the language server), over stdio JSON-RPC.

The cell is sent as an in-memory document at the path plain cells are built from, so clangd
uses the project's ``compile_commands.json`` flags (include paths, MuJoCo) once a cell has
been built. Magic lines are blanked to spaces, so line and column numbers stay those of the cell.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from pathlib import Path
from typing import Any


class ClangdError(RuntimeError):
    """clangd is missing, died, or did not answer in time."""


class Clangd:
    """One clangd process for a project, started on first use."""

    def __init__(self, root: Path, timeout: float = 10.0) -> None:
        self.root = root
        self.timeout = timeout
        self.proc: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task[None] | None = None
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 0
        self.versions: dict[str, int] = {}
        self.includes: dict[str, str] = {}

    async def _start(self) -> asyncio.subprocess.Process:
        if self.proc is not None and self.proc.returncode is None:
            return self.proc
        exe = shutil.which("clangd")
        if exe is None:
            raise ClangdError("clangd is not installed (Debian package 'clangd')")
        self.proc = await asyncio.create_subprocess_exec(
            exe, "--log=error", "--background-index=false", "--header-insertion=never",
            "--completion-parse=always",  # wait for the preamble, never text-only guesses
            f"--compile-commands-dir={self.root}", cwd=self.root,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        self.versions.clear()
        self.reader = asyncio.ensure_future(self._read(self.proc))
        capabilities = {
            "textDocument": {"completion": {"completionItem": {"snippetSupport": False}}}
        }
        await self._request("initialize", {"processId": None, "rootUri": self.root.as_uri(),
                                           "capabilities": capabilities})  # fmt: skip
        self._notify("initialized", {})
        return self.proc

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        try:
            while True:
                length = 0
                while (line := await proc.stdout.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if not line:
                    break
                message = json.loads(await proc.stdout.readexactly(length))
                future = self.pending.pop(message.get("id", -1), None)
                if future is not None and not future.done() and "method" not in message:
                    if "error" in message:
                        future.set_exception(ClangdError(str(message["error"])))
                    else:
                        future.set_result(message.get("result"))
        except (asyncio.IncompleteReadError, ValueError, ConnectionError):
            pass
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ClangdError("clangd stopped"))
            self.pending.clear()

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"method": method, "params": params})

    async def _request(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        self._send({"id": self.next_id, "method": method, "params": params})
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            self.pending.pop(self.next_id, None)
            raise ClangdError(f"clangd did not answer {method} in {self.timeout:g} s") from None

    async def _sync(self, path: Path, code: str) -> str:
        """Send the cell to clangd as the document at ``path``; returns its URI."""
        await self._start()
        text = blank_magics(code)
        uri = path.as_uri()
        # clangd completes with the last preamble it built, even a stale one: when the cell's
        # #include lines change, reopen the document so the new headers are parsed first.
        includes = "\n".join(ln for ln in text.splitlines() if ln.lstrip().startswith("#"))
        if uri in self.versions and self.includes.get(uri) != includes:
            self._notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            del self.versions[uri]
        self.includes[uri] = includes
        version = self.versions.get(uri, 0) + 1
        self.versions[uri] = version
        if version == 1:
            item = {"uri": uri, "languageId": "cpp", "version": version, "text": text}
            self._notify("textDocument/didOpen", {"textDocument": item})
        else:
            document = {"uri": uri, "version": version}
            changes = [{"text": text}]
            self._notify(
                "textDocument/didChange", {"textDocument": document, "contentChanges": changes}
            )
        return uri

    async def complete(self, path: Path, code: str, cursor: int) -> tuple[list[str], int]:
        """Completions at ``cursor`` (offset into ``code``) and where the replaced word starts."""
        uri = await self._sync(path, code)
        position = _position(code, cursor)
        column = position["character"]
        result = await self._request(
            "textDocument/completion", {"textDocument": {"uri": uri}, "position": position}
        )
        items = result.get("items", []) if isinstance(result, dict) else result or []
        start = cursor
        matches: list[str] = []
        for item in items:
            edit = item.get("textEdit")
            if edit:
                start = cursor - (column - edit["range"]["start"]["character"])
                word = edit["newText"]
            else:
                word = item.get("insertText") or item.get("filterText") or item["label"].strip()
            if word not in matches:
                matches.append(word)
        return matches, start

    async def hover(self, path: Path, code: str, cursor: int) -> str | None:
        """What clangd says about the symbol at ``cursor`` (declaration, type, comment)."""
        uri = await self._sync(path, code)
        position = _position(code, cursor)
        result = await self._request(
            "textDocument/hover", {"textDocument": {"uri": uri}, "position": position}
        )
        contents = (result or {}).get("contents")
        if isinstance(contents, dict):
            return str(contents.get("value", "")) or None
        return None

    async def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        if self.reader is not None:
            self.reader.cancel()


def _position(code: str, cursor: int) -> dict[str, int]:
    line = code.count("\n", 0, cursor)
    return {"line": line, "character": cursor - (code.rfind("\n", 0, cursor) + 1)}


def blank_magics(code: str) -> str:
    """Magic lines become spaces of the same length: the C++ is left as it lines up."""
    out = []
    for line in code.split("\n"):
        stripped = line.lstrip()
        is_magic = stripped.startswith("%") and not stripped.startswith("%:")
        out.append(" " * len(line) if is_magic else line)
    return "\n".join(out)
