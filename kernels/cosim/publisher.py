"""The viewer's background thread: the only code that talks to Redis for a running sim.

``submit()`` drops a frame into a one-slot mailbox and returns at once, so the sim loop never
waits on the network; if Redis is slow, frames in between are skipped (latest wins). Errors are
recorded, not raised: the viewer turns the first one into a warning in the sim's own thread.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import redis
from redis.exceptions import RedisError

from .protocol import END_MESSAGE, ENDED_TTL_S, LIVE_TTL_S, SCENE_TTL_S, Keys

REFRESH_S = 5.0


class Publisher(threading.Thread):
    def __init__(
        self, url: str, keys: Keys, sim_id: str, meta: dict[str, Any], scene: bytes
    ) -> None:
        super().__init__(name=f"cosim-viewer-{sim_id[:8]}", daemon=True)
        self.url, self.keys, self.sim_id = url, keys, sim_id
        self.meta, self.scene = meta, scene
        self.stop_requested = threading.Event()  # a viewer pressed stop
        self.error: str | None = None  # first transport error, for the sim thread to report
        self._cond = threading.Condition()
        self._pending: bytes | None = None
        self._closing = False
        self._client: redis.Redis | None = None
        self._pubsub: Any = None
        self.published = 0
        self.recorder: Any = None  # a cosim.recording.Recorder: written on this thread only

    # -- called from the sim thread ---------------------------------------------------------
    def open(self) -> bool:
        """Connect and write the scene and meta now, before the thread starts, so the sim is in
        Redis by the time its view is displayed. False (and ``error`` set) if Redis is away."""
        try:
            self._connect()
            self._refresh()
        except (RedisError, OSError) as err:
            self._drop_connection(err)
            return False
        return True

    def submit(self, frame: bytes) -> None:
        with self._cond:
            self._pending = frame
            self._cond.notify()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def close(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self.is_alive():
            self.join(timeout)

    # -- the thread ---------------------------------------------------------------------------
    def run(self) -> None:
        backoff, last_frame = 0.5, None
        next_refresh = time.monotonic() + REFRESH_S if self._client is not None else 0.0
        while True:
            with self._cond:
                if self._pending is None and not self._closing:
                    self._cond.wait(timeout=0.25)
                frame, self._pending = self._pending, None
                closing = self._closing
            recorder = self.recorder
            if recorder is not None:  # before Redis: the file is written even with Redis away
                recorder.pump(final=closing)
            try:
                if self._client is None:
                    self._connect()
                    next_refresh = 0.0
                if time.monotonic() >= next_refresh:  # first after a reconnect: meta, then frames
                    self._refresh()
                    next_refresh = time.monotonic() + REFRESH_S
                if frame is not None:
                    self._publish(frame)
                    last_frame = frame
                self._poll_control()
                backoff = 0.5
            except (RedisError, OSError) as err:
                self._drop_connection(err)
                if closing:
                    return  # Redis is away: its live keys expire on their own
                with self._cond:  # back off, but wake at once for close()
                    if not self._closing:
                        self._cond.wait(timeout=backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if closing:
                try:
                    self._end(last_frame)
                except (RedisError, OSError) as err:
                    self._drop_connection(err)
                self._drop_connection(None)
                return

    def _connect(self) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1.0, socket_timeout=2.0)
        self._client, self._pubsub = client, client.pubsub(ignore_subscribe_messages=True)
        # Before anything else: a viewer that finds the meta must also find the scene.
        client.set(self.keys.scene(self.meta["scene"]), self.scene, ex=SCENE_TTL_S)
        self._pubsub.subscribe(self.keys.control(self.sim_id))

    def _drop_connection(self, err: Exception | None) -> None:
        if err is not None and self.error is None:
            self.error = f"{type(err).__name__}: {err}"
        for closable in (self._pubsub, self._client):
            try:
                if closable is not None:
                    closable.close()
            except Exception:
                pass
        self._client = self._pubsub = None

    def _publish(self, frame: bytes) -> None:
        assert self._client is not None
        pipe = self._client.pipeline(transaction=False)
        pipe.set(self.keys.frame(self.sim_id), frame, ex=LIVE_TTL_S)
        pipe.publish(self.keys.frames(self.sim_id), frame)
        pipe.execute()
        self.published += 1

    def _refresh(self) -> None:
        assert self._client is not None
        pipe = self._client.pipeline(transaction=False)
        pipe.set(self.keys.meta(self.sim_id), json.dumps(self.meta), ex=LIVE_TTL_S)
        pipe.zadd(self.keys.sims, {self.sim_id: self.meta["started"]})
        pipe.expire(self.keys.frame(self.sim_id), LIVE_TTL_S)
        pipe.expire(self.keys.scene(self.meta["scene"]), SCENE_TTL_S)
        pipe.execute()

    def _poll_control(self) -> None:
        while True:
            message = self._pubsub.get_message(timeout=0)
            if message is None:
                return
            try:
                command = json.loads(message["data"])
            except (TypeError, ValueError):
                continue
            if not isinstance(command, dict):
                continue
            if self.recorder is not None:  # every control message becomes a recorded event
                self.recorder.control(command)
            if command.get("cmd") == "stop":
                self.stop_requested.set()

    def _end(self, last_frame: bytes | None) -> None:
        assert self._client is not None
        meta = {**self.meta, "ended": time.time()}
        pipe = self._client.pipeline(transaction=False)
        pipe.set(self.keys.meta(self.sim_id), json.dumps(meta), ex=ENDED_TTL_S)
        if last_frame is not None:
            pipe.set(self.keys.frame(self.sim_id), last_frame, ex=ENDED_TTL_S)
        pipe.zrem(self.keys.sims, self.sim_id)
        pipe.publish(self.keys.frames(self.sim_id), END_MESSAGE)
        pipe.execute()
