"""Who sent the Y update a jupyter-collaboration room is applying right now, and may they write.

A Y update carries no trustworthy author: its Yjs client id and the awareness state that names a
user are both chosen by the client, so a visitor could claim to be the owner. What the server
does know is which authenticated WebSocket each message arrived on. jupyter-collaboration serves
each client of a room in a task of its own (``YDocWebSocketHandler.open`` starts
``websocket_server.serve(handler)`` through its ``create_task``, which keeps the task in the
handler's ``_background_tasks``), and pycrdt-websocket's ``YRoom.serve`` calls the room's public
``on_message`` hook and then ``handle_sync_message`` for each message of that client without
awaiting in between. So, inside ``on_message``, the current task names the sending handler, and
a document observer that runs during the same message (in that same task, before it next
awaits) knows its author: :meth:`SenderGate.author` gives the handler's hub user only there.
Anything that changes the document from another task (the server's own writes, the room loading
a write made from outside) has no author.

The gate also refuses updates from a client whose user may not ``write`` (view-only shares):
``on_message`` returning True drops the message before it touches the room's document, so the
edit never reaches the room, its other clients, the file or the kernel. jupyter-collaboration
checks only ``read`` when a client joins; :func:`guard_document_rooms` puts a gate on
``contents`` on every document room, and the control file's room gets a second one on ``cosim``
(control.py), which also credits its edits and presses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from inspect import isawaitable, iscoroutine
from typing import Any

from pycrdt import YMessageType, YSyncMessageType, read_message

log = logging.getLogger("cosim_server.control")

# The sync messages that carry document changes (step 1 only asks for the server's state).
_CHANGES = frozenset({YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE})
_EMPTY_UPDATE = b"\x00\x00"  # no structs, no deletions: what a new client answers step 1 with


def _is_empty(message: bytes) -> bool:
    try:
        return bytes(read_message(message[2:])) == _EMPTY_UPDATE
    except Exception:  # malformed: the room's own handling refuses it
        return False


def serving_handler(room: Any) -> Any:
    """The room client (jupyter-collaboration's WebSocket handler) that the current task serves,
    or None when the current task serves none of them."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return None
    if task is None:
        return None
    for client in list(room.clients):
        if task in getattr(client, "_background_tasks", ()):
            return client
    return None


def _drop(awaitable: Any) -> None:
    """Close a coroutine that will never be awaited (no "never awaited" warning)."""
    if iscoroutine(awaitable):
        awaitable.close()


def may_write(handler: Any, resource: str) -> bool:
    """Jupyter's authorizer on ``handler``'s user; an async answer counts as no (on_message
    cannot await without letting other messages in between)."""
    user = getattr(handler, "current_user", None)
    if user is None:
        return False
    try:
        allowed = handler.authorizer.is_authorized(handler, user, "write", resource)
    except Exception as err:  # an authorizer failing closes the door, loudly
        log.warning("CoSim: authorizer failed for a room client: %s", err)
        return False
    if isawaitable(allowed):
        _drop(allowed)
        return False
    return bool(allowed)


class SenderGate:
    """Installed as ``room.on_message``: remembers who sends each change and drops changes from
    users without write permission on ``resource`` (``refused(user)`` is told)."""

    def __init__(self, room: Any, resource: str, refused: Callable[[str], None]) -> None:
        self.room, self.resource, self.refused = room, resource, refused
        self._sender: str | None = None
        self._task: asyncio.Task[Any] | None = None
        self._previous = room.on_message
        room.on_message = self._on_message

    def _on_message(self, message: bytes) -> bool:
        self._sender = self._task = None
        skip = self._check(message)
        if not skip and self._previous is not None:  # an earlier gate (document rooms' own)
            previous = self._previous(message)
            if isawaitable(previous):
                _drop(previous)
                log.warning("CoSim: an async on_message hook on the room was bypassed")
            else:
                skip = bool(previous)
        if skip:
            self._sender = self._task = None
        return skip

    def _check(self, message: bytes) -> bool:
        """True to drop ``message``; otherwise a change's sender is noted."""
        if len(message) < 2 or message[0] != YMessageType.SYNC or message[1] not in _CHANGES:
            return False
        handler = serving_handler(self.room)
        if handler is None:
            log.warning("CoSim: a room update from an unknown client was refused")
            self.refused("an unknown client")
            return True
        name = str(handler.current_user.username)
        if not may_write(handler, self.resource):
            if not _is_empty(message):  # joining read-only is fine; only a change is refused
                self.refused(name)
            return True
        self._sender, self._task = name, asyncio.current_task()
        return False

    def author(self) -> str | None:
        """The user whose message the room is applying now (call from a document observer);
        None when the change comes from anything but a client's message."""
        if self._task is None or asyncio.current_task() is not self._task:
            return None
        return self._sender

    def close(self) -> None:
        if self.room.on_message == self._on_message:
            self.room.on_message = self._previous


def guard_document_rooms(websocket_server: Any) -> None:
    """Make every document room of jupyter-collaboration refuse changes from users who may not
    write contents (view-only shares).

    jupyter-collaboration checks only ``read`` when a client joins a room (its WebSocket's GET)
    and then applies whatever updates the client sends, saving them to the file with the
    owner's rights; Lab merely shows such a visitor a read-only editor. Each room gets a
    :class:`SenderGate` on ``contents`` as it is added to the server (``add_room`` runs for
    every room, before any client's message is served).
    """
    add_room = websocket_server.add_room

    def add_guarded(path: str, room: Any) -> None:
        _guard(path, room)
        add_room(path, room)

    websocket_server.add_room = add_guarded
    for path, room in list(websocket_server.rooms.items()):
        _guard(path, room)


def _guard(path: str, room: Any) -> None:
    if getattr(room, "file_type", None) is None or getattr(room, "_cosim_gate", None) is not None:
        return  # a transient room (awareness), or guarded already

    def refused(user: str) -> None:
        log.warning("CoSim: %s may not write; their change to room %s was dropped", user, path)

    room._cosim_gate = SenderGate(room, "contents", refused)
