"""Live sims: list them (REST) and stream their scene and frames to browsers (WebSocket).

The kernel side (``cosim.viewer``) publishes to Redis under ``cosim_protocol`` names; this module
only reads and relays, plus one write: a viewer's stop button publishes a control command.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from redis.exceptions import RedisError
from tornado import web
from tornado.websocket import WebSocketClosedError

from cosim_protocol.keys import Keys, namespace_user
from cosim_protocol.viewer import is_sim_id
from cosim_protocol.ws import CLOSE_SIM_ENDED

from .base import CoSimError, CoSimHandler, CoSimWebSocketHandler
from .relay import LatestSlot

MAX_CLIENT_MESSAGE = 4096


def _keys() -> Keys:
    return Keys(namespace_user())


def _checked_sim_id(sim_id: str) -> str:
    if not is_sim_id(sim_id):
        raise CoSimError(400, "sim id must be 32 lowercase hex characters")
    return sim_id


class _RedisErrors:
    """Turn Redis outages into a 503 with a message, not a 500 with a traceback."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None and issubclass(exc_type, (RedisError, OSError)):
            raise CoSimError(503, f"Redis is unreachable: {type(exc).__name__}") from None


async def read_meta(redis: Any, sim_id: str) -> dict[str, Any] | None:
    raw = await redis.get(_keys().meta(sim_id))
    return json.loads(raw) if raw else None


class SimListHandler(CoSimHandler):
    async def get(self) -> None:
        keys, redis = _keys(), self.cosim.redis
        with _RedisErrors():
            ids = [i.decode() for i in await redis.zrange(keys.sims, 0, -1) if isinstance(i, bytes)]
            metas = await redis.mget([keys.meta(i) for i in ids]) if ids else []
            gone = [i for i, m in zip(ids, metas, strict=True) if m is None]
            if gone:  # the kernel died without closing: its live keys expired
                await redis.zrem(keys.sims, *gone)
        sims = [json.loads(m) for m in metas if m]
        self.finish({"sims": sims})


class SimHandler(CoSimHandler):
    async def get(self, sim_id: str) -> None:
        with _RedisErrors():
            meta = await read_meta(self.cosim.redis, _checked_sim_id(sim_id))
        if meta is None:
            raise CoSimError(404, f"no sim {sim_id} on this server (it ended or never ran)")
        self.finish(meta)


class _BinaryKeyHandler(CoSimHandler):
    """Serves one binary Redis value of a sim (its scene or its latest frame)."""

    what = ""

    async def key_for(self, sim_id: str) -> str | None:
        raise NotImplementedError

    async def get(self, sim_id: str) -> None:
        with _RedisErrors():
            key = await self.key_for(_checked_sim_id(sim_id))
            data = await self.cosim.redis.get(key) if key else None
        if data is None:
            raise CoSimError(404, f"no {self.what} for sim {sim_id}")
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Cache-Control", "no-store")
        self.finish(data)


class SimSceneHandler(_BinaryKeyHandler):
    what = "scene"

    async def key_for(self, sim_id: str) -> str | None:
        meta = await read_meta(self.cosim.redis, sim_id)
        return _keys().scene(meta["scene"]) if meta and meta.get("scene") else None


class SimFrameHandler(_BinaryKeyHandler):
    what = "frame"

    async def key_for(self, sim_id: str) -> str | None:
        return _keys().frame(sim_id)


class SimWebSocket(CoSimWebSocketHandler):
    """One browser watching one sim: hello, scene, latest frame, then live frames.

    Watching needs "read"; the one acting message ("stop") needs "write", checked when it comes.
    """

    action = "read"
    sim_id = ""
    meta: dict[str, Any] | None = None
    slot: LatestSlot | None = None
    _warned_messages = 0

    async def pre_upgrade(self, sim_id: str) -> None:
        self.sim_id = _checked_sim_id(sim_id)
        with _RedisErrors():
            self.meta = await read_meta(self.cosim.redis, sim_id)
        if self.meta is None:
            raise CoSimError(404, f"no sim {sim_id} on this server (it ended or never ran)")

    async def open(self, sim_id: str) -> None:
        # Frames are small and 60 a second: with Nagle (Tornado's default) a frame waits until
        # the proxy has acknowledged the one before, and Linux delays ACKs by up to 40 ms.
        self.set_nodelay(True)
        keys, redis = _keys(), self.cosim.redis
        meta = self.meta or {}
        try:
            await self.write_message(json.dumps({"type": "hello", "meta": meta}))
            scene = await redis.get(keys.scene(meta.get("scene", "")))
            if scene is not None:
                await self.write_message(scene, binary=True)
            latest = await redis.get(keys.frame(self.sim_id))
            if latest is not None:
                await self.write_message(latest, binary=True)
        except (RedisError, OSError) as err:
            await self._send_error(f"Redis is unreachable: {type(err).__name__}")
        except WebSocketClosedError:
            return
        if meta.get("ended"):
            self.sim_ended()
            return
        self.slot = LatestSlot(self._send_frame)
        self.cosim.relays.join(keys.frames(self.sim_id), keys.meta(self.sim_id), self)

    async def _send_frame(self, frame: bytes) -> None:
        await self.write_message(frame, binary=True)

    async def _send_error(self, message: str) -> None:
        with contextlib.suppress(WebSocketClosedError):
            await self.write_message(json.dumps({"type": "error", "message": message}))

    # FrameSink
    def offer(self, frame: bytes) -> None:
        if self.slot is not None:
            self.slot.offer(frame)

    def sim_ended(self) -> None:
        try:
            self.write_message(json.dumps({"type": "ended"}))
        except WebSocketClosedError:
            return
        self.close(CLOSE_SIM_ENDED, "sim ended")

    async def on_message(self, message: str | bytes) -> None:
        command = None
        if isinstance(message, str) and len(message) <= MAX_CLIENT_MESSAGE:
            try:
                command = json.loads(message)
            except ValueError:
                command = None
        if isinstance(command, dict) and command.get("type") == "stop":
            try:
                await self.check_permission("write")
            except web.HTTPError:
                await self._send_error("not allowed to stop this sim: you have read-only access")
                return
            try:
                await self.cosim.redis.publish(
                    _keys().control(self.sim_id), json.dumps({"cmd": "stop", "at": time.time()})
                )
            except (RedisError, OSError) as err:
                await self._send_error(f"could not send stop: Redis is unreachable ({err})")
            return
        if isinstance(command, dict) and command.get("type") == "join" and self.meta:
            # Presence and live control (control.py), for clients that ask for them.
            await self.cosim.rooms.ws_join(self, self.sim_id, self.meta)
            return
        if isinstance(command, dict) and command.get("type") == "control":
            await self.cosim.rooms.ws_message(self, self.sim_id, command)
            return
        # Ignored, logged a few times per connection so a broken client cannot flood the log.
        if self._warned_messages < 3:
            self._warned_messages += 1
            self.log.warning("CoSim viewer: ignored malformed message on sim %s", self.sim_id)

    # control.Member: the room sends presence and control documents through these
    @property
    def who(self) -> str:
        return str(self.current_user.username)

    def can_write(self) -> bool:
        return bool(self.authorizer.is_authorized(self, self.current_user, "write", "cosim"))

    def send_json(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(WebSocketClosedError):
            self.write_message(json.dumps(message))

    def on_close(self) -> None:
        self.cosim.rooms.leave(self.sim_id, self)
        if self.slot is not None:
            self.slot.close()
            self.cosim.relays.leave(_keys().frames(self.sim_id), self)


def routes() -> list[tuple[str, type]]:
    sim = r"/cosim/api/sims/(?P<sim_id>[^/]+)"
    return [
        (r"/cosim/api/sims", SimListHandler),
        (sim, SimHandler),
        (sim + r"/scene", SimSceneHandler),
        (sim + r"/frame", SimFrameHandler),
        (sim + r"/ws", SimWebSocket),
    ]
