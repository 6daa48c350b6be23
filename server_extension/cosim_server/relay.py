"""Fan-out of sim frames from Redis to browser WebSockets, latest frame wins.

One Redis subscription per live sim (not per browser). Each client has a one-frame slot: a new
frame replaces whatever the client has not been sent yet, and a client's send loop only waits
for its own socket, so a slow browser skips frames and never delays the others or the sim.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cosim_protocol.viewer import END_MESSAGE

log = logging.getLogger("cosim_server.relay")


class FrameSink(Protocol):
    """What a relay needs from a client (the WebSocket handler implements it)."""

    def offer(self, frame: bytes) -> None: ...

    def sim_ended(self) -> None: ...


class LatestSlot:
    """A one-frame mailbox with its own send loop; ``send`` is awaited one frame at a time."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self._send = send
        self._pending: bytes | None = None
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.skipped = 0

    def offer(self, frame: bytes) -> None:
        if self._pending is not None:
            self.skipped += 1
        self._pending = frame
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while self._pending is not None:
            frame, self._pending = self._pending, None
            try:
                await self._send(frame)
            except Exception:  # a closed socket: the handler's on_close cleans up
                self._pending = None
                return
            self.sent += 1

    def close(self) -> None:
        self._pending = None
        if self._task is not None:
            self._task.cancel()


# How often a relay checks that its sim still exists: a crashed kernel never publishes END, but
# its meta key expires (protocol.LIVE_TTL_S), and then the viewers are told the sim ended.
LIVENESS_CHECK_S = 5.0


class SimRelay:
    """Subscribes to one sim's frame channel while it has clients."""

    def __init__(
        self, redis: aioredis.Redis, channel: str, meta_key: str, max_frame_bytes: int
    ) -> None:
        self.redis = redis
        self.channel = channel
        self.meta_key = meta_key
        self.max_frame_bytes = max_frame_bytes
        self.clients: set[FrameSink] = set()
        self._task: asyncio.Task[None] | None = None
        self._warned_size = False

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        delay = 0.2
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                delay = 0.2
                next_check = time.monotonic() + LIVENESS_CHECK_S
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if time.monotonic() >= next_check:
                        next_check = time.monotonic() + LIVENESS_CHECK_S
                        if not await self.redis.exists(self.meta_key):
                            self._deliver(END_MESSAGE)
                            return
                    if message is None or message["type"] != "message":
                        continue
                    if self._deliver(message["data"]):
                        return
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as err:
                # Redis went away: clients keep their sockets; resubscribe when it is back.
                log.warning("CoSim relay for %s lost Redis (%s); retrying", self.channel, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _deliver(self, data: bytes) -> bool:
        """Hand one message to every client; True when the sim ended."""
        if data == END_MESSAGE:
            for client in list(self.clients):
                client.sim_ended()
            return True
        if len(data) > self.max_frame_bytes:
            if not self._warned_size:
                log.warning(
                    "dropping frames of %d bytes on %s (cap %d; raise "
                    "CoSimServer.max_frame_bytes)", len(data), self.channel, self.max_frame_bytes,
                )  # fmt: skip
                self._warned_size = True
            return False
        for client in list(self.clients):
            client.offer(data)
        return False

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


class RelayHub:
    """The server's relays by channel, created on first client and dropped with the last."""

    def __init__(self, redis: aioredis.Redis, max_frame_bytes: int) -> None:
        self.redis = redis
        self.max_frame_bytes = max_frame_bytes
        self.relays: dict[str, SimRelay] = {}

    def join(self, channel: str, meta_key: str, client: FrameSink) -> None:
        relay = self.relays.get(channel)
        if relay is None:
            relay = SimRelay(self.redis, channel, meta_key, self.max_frame_bytes)
            self.relays[channel] = relay
            relay.start()
        relay.clients.add(client)

    def leave(self, channel: str, client: FrameSink) -> None:
        relay = self.relays.get(channel)
        if relay is None:
            return
        relay.clients.discard(client)
        if not relay.clients:
            relay.stop()
            del self.relays[channel]

    def stop(self) -> None:
        for relay in self.relays.values():
            relay.stop()
        self.relays.clear()
