"""A control file's live RTC document: jupyter-collaboration's room for ``sim-control.json``.

The server's control document (control.py) stays the one place that validates; a link keeps the
room's text equal to it, both ways:

- the server's document changed (a toolbar press, REST, params the kernel declares): the room's
  text is set to the new file text, so Lab's editor shows it live, and the room saves it to the
  file after jupyter-collaboration's save delay (the server then never writes the file itself);
- the room's text changed (someone typing in Lab's editor, or the room loading a write made from
  outside: Contents API, terminal): once the text has been still for ``settle_s`` it goes to the
  control document as a whole written document, credited to the hub users whose WebSocket sent
  the changes (rtc_origin.py; none for a write from outside). An invalid one is refused there,
  and the text is set back to the last valid document.

A user without write permission (a view-only share) cannot change the room's text at all: the
room drops their updates before they are applied (rtc_origin.SenderGate) and the sim's viewers
hear why.

The room is jupyter-collaboration's own (``YDocExtension.get_document``), the one every Lab editor
of the file joins: Lab opens a ``.json`` file as a text document (``text:file:<file id>``). The
server joins a room someone opened and never creates one (a room created through
``get_document`` would keep its Y updates in a store outside jupyter-collaboration's config);
:meth:`RtcLink.attach` runs on the control document's watch tick, so it joins a room within a
tick of an editor opening it and lets go when jupyter-collaboration drops it (its last client
left). Without a room the server writes and watches the file itself (control.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pycrdt import Text

from .rtc_origin import SenderGate

log = logging.getLogger("cosim_server.control")

ROOM_FORMAT = "text"
ROOM_TYPE = "file"


class RtcLink:
    def __init__(
        self,
        extension: Any,
        api_path: str,
        current: Callable[[], str],
        on_edit: Callable[[str, list[str]], Awaitable[None]],
        settle_s: float,
        refused: Callable[[str], None],
    ) -> None:
        self.extension, self.api_path, self.settle_s = extension, api_path, settle_s
        self.current, self.on_edit, self.refused = current, on_edit, refused
        self.document: Any = None
        self._text: Text | None = None
        self._subscription: Any = None
        self._gate: SenderGate | None = None
        self._authors: set[str] = set()  # who sent the changes since the text was last still
        self._written: str | None = None  # the last text the server set (its own echo is no edit)
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Future[None] | None = None

    async def attach(self) -> bool:
        """Join the file's room if someone has it open; True while joined."""
        try:
            document = await self.extension.get_document(
                path=self.api_path,
                content_type=ROOM_TYPE,
                file_format=ROOM_FORMAT,
                copy=False,
                create=False,
            )
        except Exception as err:  # the room failed to start: the file watch takes over
            log.warning("CoSim control: no RTC room for %s (%s)", self.api_path, err)
            document = None
        if document is not None and not document.get():
            document = None  # a room still loading its file (ours is never empty once loaded)
        if document is self.document:
            return document is not None
        self._unobserve()
        self.document, self._written = document, None
        if document is None:
            return False
        room = next(
            (r for r in list(self.extension.ywebsocket_server.rooms.values())
             if r.ydoc is document.ydoc),
            None,
        )  # fmt: skip
        if room is not None:
            self._gate = SenderGate(room, "cosim", self.refused)
        self._text = document.ydoc.get("source", type=Text)
        self._subscription = self._text.observe(self._changed)
        # On joining, the server's document wins: the room may have loaded the file before the
        # server's last write of it (an edit in that first tick is lost, a press never is).
        self.write(self.current())
        return True

    def write(self, text: str) -> bool:
        """Set the room's text to the server's document (a no-op where equal); False when no
        room is joined (the caller writes the file itself)."""
        if self.document is None:
            return False
        self._written = text
        self.document.set(text)
        return True

    def _changed(self, _event: Any) -> None:
        # Called inside the change's transaction, in the task that applies it: note its author
        # (only a client's message has one) and (re)arm the settle timer.
        author = self._gate.author() if self._gate is not None else None
        if author is not None:
            self._authors.add(author)
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.settle_s, self._settled)

    def _settled(self) -> None:
        self._timer = None
        if self.document is None:
            return
        text, authors = self.document.get(), sorted(self._authors)
        self._authors = set()
        if text != self._written:
            self._task = asyncio.ensure_future(self.on_edit(text, authors))

    def _unobserve(self) -> None:
        if self._text is not None and self._subscription is not None:
            self._text.unobserve(self._subscription)
        self._text = self._subscription = None
        if self._gate is not None:
            self._gate.close()
        self._gate = None
        self._authors = set()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._unobserve()
        self.document = None
