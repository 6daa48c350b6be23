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

- a toolbar press (labextension viewer/controlDocument.ts) is queued in the same Y document, in
  the ``PRESSES`` array beside the text: the server takes each entry as one change, credited to
  the sender of the update that added it, applies them in order and empties the array. Counters
  (step, reset) stay increments, so two people pressing at once both count, which two whole
  texts written at once could not do. ``ROOM_STATE[ROOM_SERVER_KEY]`` tells toolbars that the
  server observes the room (until then they press over the viewer socket); entries already there
  when the server joins have no known sender and are dropped.

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
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pycrdt import Array, Map, Text

from cosim_protocol.control import PRESSES, ROOM_SERVER_KEY, ROOM_STATE

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
        on_press: Callable[[Any, str], Awaitable[None]],
    ) -> None:
        self.extension, self.api_path, self.settle_s = extension, api_path, settle_s
        self.current, self.on_edit, self.refused = current, on_edit, refused
        self.on_press = on_press
        self._presses: Array[str] | None = None
        self._press_subscription: Any = None
        self._queued: asyncio.Queue[tuple[Any, str]] = asyncio.Queue()
        self._worker: asyncio.Future[None] | None = None
        self._clearing = False
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
        self._presses = document.ydoc.get(PRESSES, type=Array)
        self._press_subscription = self._presses.observe(self._pressed)
        if self._worker is None:
            self._worker = asyncio.ensure_future(self._apply_presses())
        # On joining, the server's document wins: the room may have loaded the file before the
        # server's last write of it (an edit in that first tick is lost, a press never is).
        self.write(self.current())
        with document.ydoc.transaction():
            self._clear_presses()  # queued before we listened: no known sender
            document.ydoc.get(ROOM_STATE, type=Map)[ROOM_SERVER_KEY] = True
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

    def _pressed(self, event: Any) -> None:
        # Inside the update's transaction: take the new entries with their sender; the array is
        # emptied once the transaction is over (a document cannot change inside its observer).
        if self._clearing:
            return
        author = self._gate.author() if self._gate is not None else None
        queued = False
        for part in event.delta:
            for raw in part.get("insert", ()):
                if author is None:
                    log.warning("CoSim control: a press with no known sender was dropped")
                    continue
                try:
                    change = json.loads(raw)
                except (TypeError, ValueError):
                    change = raw  # refused by the control document with its message
                self._queued.put_nowait((change, author))
                queued = True
        if not queued:  # nothing to apply first: empty the array now
            asyncio.get_running_loop().call_soon(self._empty_presses)

    def _empty_presses(self) -> None:
        if self.document is not None and self._presses is not None and len(self._presses):
            self._clear_presses()

    def _clear_presses(self) -> None:
        if self._presses is None or not len(self._presses):
            return
        self._clearing = True
        try:
            del self._presses[:]
        finally:
            self._clearing = False

    async def _apply_presses(self) -> None:
        while True:
            change, who = await self._queued.get()
            try:
                await self.on_press(change, who)
            except Exception:  # one bad press must not stop the ones after it
                log.exception("CoSim control: a press from the room failed")
            if self._queued.empty():  # after applying: the kernel hears first, the room after
                self._empty_presses()

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
        if self._presses is not None and self._press_subscription is not None:
            self._presses.unobserve(self._press_subscription)
        self._presses = self._press_subscription = None
        if self._gate is not None:
            self._gate.close()
        self._gate = None
        self._authors = set()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        if self.document is not None:  # toolbars press over their sockets again
            with contextlib.suppress(Exception):
                self.document.ydoc.get(ROOM_STATE, type=Map)[ROOM_SERVER_KEY] = False
        self._unobserve()
        self.document = None
