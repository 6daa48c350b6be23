"""Live sim control: the server's authoritative ``sim-control.json`` per sim, and who watches.

One :class:`ControlDoc` per live sim with a control file (the kernel names the file in the sim's
meta). Every change (a toolbar button over the viewer WebSocket, a REST call, the file written
by an editor or from outside) is validated by ``cosim_protocol.control``, applied in order under
one lock, written atomically to the file, published on Redis for the kernel, and sent to every
viewer of the sim. Invalid changes are refused with the protocol's message; the document keeps
its last valid state and the file stays valid JSON.

With jupyter-collaboration running, the file is also a live RTC document (control_rtc.py): the
server keeps the file's room equal to its document, and an edit in the room (Lab's editor, or the
room loading an outside write) is validated and applied like a button press. Without it, the
server watches the file's mtime itself.

Rooms: every viewer socket of a sim joins its room; the room tells its members who is watching
(presence avatars) and what the control document is now.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from redis.exceptions import RedisError

from cosim.control import write_document
from cosim_protocol.control import (
    CONTROL_CMD,
    MAX_DOCUMENT_BYTES,
    META_KEY,
    ControlError,
    apply_change,
    change_from_document,
    check_change,
    check_document,
    declare_params,
    default_document,
    document_text,
)
from cosim_protocol.keys import Keys, namespace_user
from cosim_protocol.viewer import ProtocolError, decode_frame

from .base import CoSimError, CoSimHandler
from .control_rtc import RtcLink
from .errors import user_errors
from .viewer import _checked_sim_id, _RedisErrors, read_meta

log = logging.getLogger("cosim_server.control")

# How often a control document looks for an outside write and newly declared params. This is
# the server's loop, never the sim's.
WATCH_S = 0.5


class Member(Protocol):
    """A viewer socket in a sim's room (SimWebSocket implements it)."""

    def send_json(self, message: dict[str, Any]) -> None: ...

    @property
    def who(self) -> str: ...

    def can_write(self) -> bool: ...


class ControlDoc:
    def __init__(self, rooms: Rooms, sim_id: str, path: Path, doc: dict[str, Any]) -> None:
        self.rooms, self.sim_id, self.path, self.doc = rooms, sim_id, path, doc
        self.lock = asyncio.Lock()
        self.stamp = self._stat()
        self.task: asyncio.Task[None] | None = None
        self.rtc: RtcLink | None = None

    @property
    def api_path(self) -> str:
        """The file's path as Jupyter's APIs name it (relative to the server's root)."""
        return self.path.relative_to(self.rooms.root).as_posix()

    def message(self) -> dict[str, Any]:
        """What viewers get: the document, and the file (a toolbar opens its RTC room)."""
        return {"type": "control", "doc": self.doc, "file": self.api_path}

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def save(self) -> None:
        # With a room, the room is the one writer of the file (it saves after its save delay):
        # a write of ours would look like an outside write to it and undo an edit in flight.
        if self.rtc is not None and self.rtc.write(document_text(self.doc)):
            return
        write_document(self.path, self.doc)
        self.stamp = self._stat()


class Rooms:
    """Per-sim rooms (viewer sockets) and control documents of this server."""

    def __init__(
        self,
        redis: Any,
        root: str,
        rtc_extension: Callable[[], Any] = lambda: None,
        edit_settle_s: float = 0.5,
    ) -> None:
        self.redis = redis
        self.root = Path(root).resolve()
        # jupyter-collaboration's YDocExtension, looked up when a document opens (None: off).
        self.rtc_extension = rtc_extension
        self.edit_settle_s = edit_settle_s
        self.members: dict[str, set[Member]] = {}
        self.docs: dict[str, ControlDoc] = {}

    # -- presence ----------------------------------------------------------------------------
    def join(self, sim_id: str, member: Member) -> None:
        self.members.setdefault(sim_id, set()).add(member)
        self._presence(sim_id)

    def leave(self, sim_id: str, member: Member) -> None:
        room = self.members.get(sim_id)
        if room is None:
            return
        room.discard(member)
        if room:
            self._presence(sim_id)
            return
        del self.members[sim_id]

    def watchers(self, sim_id: str) -> list[str]:
        return sorted({m.who for m in self.members.get(sim_id, ())})

    def _presence(self, sim_id: str) -> None:
        self.broadcast(sim_id, {"type": "presence", "users": self.watchers(sim_id)})

    def broadcast(self, sim_id: str, message: dict[str, Any]) -> None:
        for member in list(self.members.get(sim_id, ())):
            member.send_json(message)

    # -- control documents -------------------------------------------------------------------
    def control_path(self, meta: dict[str, Any]) -> Path | None:
        info = meta.get(META_KEY)
        if not isinstance(info, dict) or not isinstance(info.get("path"), str):
            return None
        path = Path(info["path"]).resolve()
        if self.root not in path.parents:
            raise CoSimError(403, "the sim's control file is outside this server's workspace")
        return path

    async def open(self, sim_id: str, meta: dict[str, Any]) -> ControlDoc | None:
        """The sim's control document, loaded (and its watcher started) on first use."""
        current = self.docs.get(sim_id)
        if current is not None:
            return current
        path = self.control_path(meta)
        if path is None:
            return None
        try:
            loaded = check_document(json.loads(path.read_text()))
        except (OSError, ValueError) as err:
            log.warning("CoSim control: %s unreadable or invalid (%s); starting afresh", path, err)
            loaded = default_document()
        if sim_id in self.docs:  # another request loaded it meanwhile
            return self.docs[sim_id]
        params = meta[META_KEY].get("params") or {}
        # Seed, speed and params carry over from the last sim; a new sim starts running (as
        # the kernel's copy does), so a file left paused never freezes the next run.
        state = loaded["state"] if loaded["sim_id"] == sim_id else "running"
        doc = ControlDoc(
            self, sim_id, path, {**declare_params(loaded, params), "sim_id": sim_id, "state": state}
        )
        self.docs[sim_id] = doc
        await self._link_rtc(doc)
        doc.save()
        doc.task = asyncio.ensure_future(self._watch(doc))
        return doc

    async def _link_rtc(self, doc: ControlDoc) -> None:
        extension = self.rtc_extension()
        if extension is None:
            return

        async def edited(text: str, authors: list[str]) -> None:
            # Credited to who sent the changes through the room; a write from outside that the
            # room loaded has no author and counts as the file's owner's.
            async with doc.lock:
                who, via = (", ".join(authors), "document") if authors else (None, "file")
                await self._written(doc, text.encode(), "the editor", who, via)

        async def pressed(change: Any, who: str) -> None:
            # A toolbar's press queued in the room (credited to the sender of the update).
            try:
                await self.change(doc, change, who, "document")
            except ControlError as err:
                self.broadcast(doc.sim_id, {"type": "error", "message": str(err)})

        def refused(user: str) -> None:
            log.warning("CoSim control: %s refused: %s may not write", doc.path, user)
            message = f"read-only: {user} may not control this sim ({doc.path.name})"
            self.broadcast(doc.sim_id, {"type": "error", "message": message})

        doc.rtc = RtcLink(
            extension, doc.api_path, lambda: document_text(doc.doc), edited, self.edit_settle_s,
            refused, pressed,
        )  # fmt: skip
        await doc.rtc.attach()

    async def change(self, doc: ControlDoc, change: Any, who: str, via: str) -> dict[str, Any]:
        """Apply one change by ``who`` (through ``via``); ``ControlError`` leaves everything as
        it was."""
        async with doc.lock:
            checked = check_change(change, doc.doc)
            await self._commit(doc, checked, who, via)
        return doc.doc

    async def _commit(self, doc: ControlDoc, checked: dict[str, Any], who: str, via: str) -> None:
        sim_time = await self._sim_time(doc.sim_id)
        doc.doc = apply_change(doc.doc, checked, who, sim_time, time.time(), via)
        doc.save()
        await self._publish(doc)

    async def _publish(self, doc: ControlDoc) -> None:
        message = json.dumps({"cmd": CONTROL_CMD, "doc": doc.doc})
        try:
            await self.redis.publish(Keys(namespace_user()).control(doc.sim_id), message)
        except (RedisError, OSError) as err:
            self.broadcast(doc.sim_id, {"type": "error", "message": f"Redis is unreachable: {err}"})
        self.broadcast(doc.sim_id, doc.message())

    async def _sim_time(self, sim_id: str) -> float | None:
        with contextlib.suppress(RedisError, OSError, ProtocolError):
            data = await self.redis.get(Keys(namespace_user()).frame(sim_id))
            if data:
                return round(decode_frame(data).sim_time, 6)
        return None

    async def _watch(self, doc: ControlDoc) -> None:
        """Outside writes to the file and params the kernel declares later; ends with the sim."""
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                meta = await read_meta(self.redis, doc.sim_id)
            except (RedisError, OSError):
                continue
            if meta is None or meta.get("ended"):
                self.docs.pop(doc.sim_id, None)
                if doc.rtc is not None:
                    doc.rtc.close()
                return
            # Join a room an editor opened; let go of one jupyter-collaboration dropped.
            linked = doc.rtc is not None and await doc.rtc.attach()
            async with doc.lock:
                with contextlib.suppress(ControlError):
                    declared = (meta.get(META_KEY) or {}).get("params") or {}
                    merged = declare_params(doc.doc, declared)
                    if merged["params"] != doc.doc["params"]:
                        doc.doc = merged
                        doc.save()
                        await self._publish(doc)
                # With a room, jupyter-collaboration watches the file and the room hands
                # outside writes over; without one, the server looks at the file itself.
                if not linked and doc._stat() != doc.stamp:
                    try:
                        raw: bytes | None = doc.path.read_bytes()
                    except OSError:
                        raw = None  # deleted or unreadable: written back below
                    await self._written(doc, raw, doc.path.name, None, "file")

    async def _written(
        self, doc: ControlDoc, raw: bytes | None, source: str, who: str | None, via: str
    ) -> None:
        """A whole document written to the file or the room (call with ``doc.lock`` held) by
        ``who`` (None: a write from outside, the owner's): applied as one change, or refused
        with a message and replaced by the last valid one."""
        try:
            if raw is None:
                raise OSError
            if len(raw) > MAX_DOCUMENT_BYTES:
                raise ControlError(f"the file is larger than {MAX_DOCUMENT_BYTES} bytes")
            try:
                written = json.loads(raw)
            except ValueError as err:
                raise ControlError(f"the file is not valid JSON: {err}") from None
            checked = change_from_document(doc.doc, written)
        except OSError:
            checked = {}
        except ControlError as err:
            log.warning("CoSim control: %s refused (%s): %s", doc.path, source, err)
            self.broadcast(doc.sim_id, {"type": "error", "message": f"{doc.path.name}: {err}"})
            checked = {}
        if checked:
            await self._commit(doc, checked, who or _file_owner(), via)
        else:
            doc.save()  # the file always holds the last valid document

    # -- the viewer socket's hooks (SimWebSocket calls these through the context) -------------
    async def ws_join(self, member: Member, sim_id: str, meta: dict[str, Any]) -> None:
        self.join(sim_id, member)
        try:
            doc = await self.open(sim_id, meta)
        except CoSimError as err:
            member.send_json({"type": "error", "message": err.message})
            return
        if doc is not None:
            # Only a member who may write opens the file's room to press through it (a
            # read-only visitor's session would be refused: they press nowhere).
            member.send_json({**doc.message(), "writable": member.can_write()})

    async def ws_message(self, member: Member, sim_id: str, command: dict[str, Any]) -> None:
        """``{"type": "control", "change": {...}}`` from a viewer; needs write permission."""
        if not member.can_write():
            member.send_json(
                {"type": "error", "message": "read-only: you may not control this sim"}
            )
            return
        doc = self.docs.get(sim_id)
        if doc is None:
            member.send_json({"type": "error", "message": "this sim has no control file"})
            return
        try:
            await self.change(doc, command.get("change"), member.who, "socket")
        except ControlError as err:
            member.send_json({"type": "error", "message": str(err)})

    def stop(self) -> None:
        for doc in self.docs.values():
            if doc.task is not None:
                doc.task.cancel()
            if doc.rtc is not None:
                doc.rtc.close()
        self.docs.clear()


def _file_owner() -> str:
    """Who an outside write is credited to: the server's owner (it is their file)."""
    return os.environ.get("JUPYTERHUB_USER") or namespace_user()


async def open_for(handler: Any, sim_id: str) -> ControlDoc:
    rooms: Rooms = handler.cosim.rooms
    with _RedisErrors():
        meta = await read_meta(rooms.redis, sim_id)
    if meta is None:
        raise CoSimError(404, f"no sim {sim_id} on this server (it ended or never ran)")
    doc = await rooms.open(sim_id, meta)
    if doc is None:
        raise CoSimError(404, f"sim {sim_id} has no control file (cosim.viewer(control=...))")
    return doc


class SimControlHandler(CoSimHandler):
    """GET the control document; POST a change (needs write: the base checks it)."""

    async def get(self, sim_id: str) -> None:
        doc = await open_for(self, _checked_sim_id(sim_id))
        self.finish(doc.doc)

    async def post(self, sim_id: str) -> None:
        doc = await open_for(self, _checked_sim_id(sim_id))
        with user_errors():
            self.finish(await self.cosim.rooms.change(doc, self.read_json_body(), self.who, "rest"))

    @property
    def who(self) -> str:
        return str(self.current_user.username)


class SimWatchersHandler(CoSimHandler):
    async def get(self, sim_id: str) -> None:
        self.finish({"users": self.cosim.rooms.watchers(_checked_sim_id(sim_id))})


def routes() -> list[tuple[str, type]]:
    sim = r"/cosim/api/sims/(?P<sim_id>[^/]+)"
    return [(sim + r"/control", SimControlHandler), (sim + r"/watchers", SimWatchersHandler)]
