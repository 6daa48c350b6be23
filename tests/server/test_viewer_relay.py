"""The viewer relay in a real Jupyter server against a real redis-server.

A "sim" here is the test itself publishing protocol frames to Redis, so relay behaviour (fan-out,
latest-frame-wins, late joiners, stop, end) is tested apart from any simulator.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from typing import Any

import numpy as np
import pytest
import redis.asyncio as aioredis
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from cosim_protocol.keys import Keys, namespace_user
from cosim_protocol.viewer import END_MESSAGE, decode_frame, encode_poses, encode_scene, new_sim_id
from cosim_protocol.ws import CLOSE_SIM_ENDED


class PublishedSim:
    """Writes what cosim.viewer writes: meta, scene, latest frame, frames on the channel."""

    def __init__(self, redis: aioredis.Redis, bodies: int = 4) -> None:
        self.redis = redis
        self.sim_id = new_sim_id()
        self.keys = Keys(namespace_user())
        self.bodies = bodies
        self.number = 0

    async def start(self) -> PublishedSim:
        scene = encode_scene({"engine": "test", "bodies": [], "geoms": [], "meshes": []}, [])
        self.meta = {"sim_id": self.sim_id, "engine": "test", "title": "relay test",
                     "scene": "abc123", "started": time.time(), "ended": None,
                     "bodies": self.bodies}  # fmt: skip
        await self.redis.set(self.keys.scene("abc123"), scene)
        await self.redis.set(self.keys.meta(self.sim_id), json.dumps(self.meta))
        await self.redis.zadd(self.keys.sims, {self.sim_id: time.time()})
        return self

    async def publish(self) -> bytes:
        self.number += 1
        poses = np.full((self.bodies, 7), float(self.number), dtype=np.float32)
        frame = encode_poses(self.sim_id, self.number, self.number / 100, time.time(), poses)
        await self.redis.set(self.keys.frame(self.sim_id), frame)
        await self.redis.publish(self.keys.frames(self.sim_id), frame)
        return frame

    async def end(self) -> None:
        self.meta["ended"] = time.time()
        await self.redis.set(self.keys.meta(self.sim_id), json.dumps(self.meta))
        await self.redis.zrem(self.keys.sims, self.sim_id)
        await self.redis.publish(self.keys.frames(self.sim_id), END_MESSAGE)


@pytest.fixture
def redis_client(cosim_redis_url: str, jp_asyncio_loop: Any) -> Any:
    # pytest-jupyter runs async tests on jp_asyncio_loop but has no async fixtures.
    client = aioredis.Redis.from_url(cosim_redis_url)
    yield client
    jp_asyncio_loop.run_until_complete(client.aclose())


@pytest.fixture
def sim(redis_client: aioredis.Redis, jp_asyncio_loop: Any) -> PublishedSim:
    return jp_asyncio_loop.run_until_complete(PublishedSim(redis_client).start())


@pytest.fixture
def ws_url(jp_http_port: int, jp_base_url: str, http_server_client: Any) -> Any:
    def make(sim_id: str) -> str:
        return f"ws://127.0.0.1:{jp_http_port}{jp_base_url}cosim/api/sims/{sim_id}/ws"

    return make


async def connect(url: str, headers: dict[str, str]) -> WebSocketClientConnection:
    return await websocket_connect(HTTPRequest(url, headers=headers), max_message_size=1 << 24)


async def read_until_frames(ws: WebSocketClientConnection) -> tuple[dict[str, Any], bytes]:
    hello = json.loads(await ws.read_message())
    scene = await ws.read_message()
    assert isinstance(scene, bytes) and scene[:4] == b"CSSC"
    return hello, scene


async def test_rest_lists_and_shows_sims(jp_fetch: Any, sim: PublishedSim) -> None:
    await sim.publish()
    listed = json.loads((await jp_fetch("cosim", "api", "sims")).body)
    assert [s["sim_id"] for s in listed["sims"]] == [sim.sim_id]
    shown = json.loads((await jp_fetch("cosim", "api", "sims", sim.sim_id)).body)
    assert shown["title"] == "relay test"
    scene = await jp_fetch("cosim", "api", "sims", sim.sim_id, "scene")
    assert scene.body[:4] == b"CSSC"
    frame = decode_frame((await jp_fetch("cosim", "api", "sims", sim.sim_id, "frame")).body)
    assert frame.number == 1


@pytest.mark.parametrize("sim_id, code", [("0" * 32, 404), ("not-a-sim", 400), ("A" * 32, 400)])
async def test_rest_unknown_and_malformed_ids(jp_fetch: Any, sim_id: str, code: int) -> None:
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cosim", "api", "sims", sim_id)
    assert err.value.code == code
    assert err.value.response is not None
    assert json.loads(err.value.response.body)["message"]


async def test_expired_sims_drop_out_of_the_list(
    jp_fetch: Any, sim: PublishedSim, redis_client: aioredis.Redis
) -> None:
    await redis_client.delete(sim.keys.meta(sim.sim_id))  # what TTL expiry does to a dead kernel
    listed = json.loads((await jp_fetch("cosim", "api", "sims")).body)
    assert listed["sims"] == []
    assert await redis_client.zcard(sim.keys.sims) == 0


async def test_late_joiner_gets_scene_and_latest_frame_at_once(
    sim: PublishedSim, ws_url: Any, jp_auth_header: dict[str, str]
) -> None:
    for _ in range(5):
        await sim.publish()
    ws = await connect(ws_url(sim.sim_id), jp_auth_header)
    hello, _ = await read_until_frames(ws)
    assert hello == {"type": "hello", "meta": sim.meta}
    latest = decode_frame(await ws.read_message())
    assert latest.number == 5
    await sim.publish()
    assert decode_frame(await asyncio.wait_for(ws.read_message(), 5)).number == 6
    ws.close()


def _server_side_nodelay(peer: tuple[str, int]) -> int:
    """TCP_NODELAY of this process's socket whose peer is ``peer`` (the server runs here)."""
    for fd in os.listdir("/proc/self/fd"):
        try:
            sock = socket.socket(fileno=os.dup(int(fd)))
        except OSError:
            continue  # not a socket
        with sock:
            try:
                if sock.type == socket.SOCK_STREAM and sock.getpeername() == peer:
                    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            except OSError:
                continue
    raise AssertionError(f"no server socket with peer {peer}")


async def test_frames_leave_without_nagle_delay(
    sim: PublishedSim, ws_url: Any, jp_auth_header: dict[str, str]
) -> None:
    """Small frames 60 times a second: Nagle would hold each until the last one is ACKed."""
    await sim.publish()
    ws = await connect(ws_url(sim.sim_id), jp_auth_header)
    await read_until_frames(ws)
    assert ws.stream is not None
    assert _server_side_nodelay(ws.stream.socket.getsockname()) == 1
    ws.close()


async def test_unknown_sim_is_refused_before_upgrade(
    ws_url: Any, jp_auth_header: dict[str, str]
) -> None:
    with pytest.raises(HTTPClientError) as err:
        await connect(ws_url("0" * 32), jp_auth_header)
    assert err.value.code == 404
    with pytest.raises(HTTPClientError) as err:
        await connect(ws_url("bad"), jp_auth_header)
    assert err.value.code == 400


async def test_stop_button_reaches_the_sim_and_junk_is_ignored(
    sim: PublishedSim, ws_url: Any, jp_auth_header: dict[str, str], redis_client: aioredis.Redis
) -> None:
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(sim.keys.control(sim.sim_id))
    ws = await connect(ws_url(sim.sim_id), jp_auth_header)
    await read_until_frames(ws)
    for junk in ["not json", json.dumps([1, 2]), json.dumps({"type": "nope"}), "x" * 10_000]:
        await ws.write_message(junk)
    await ws.write_message(b"\x00binary", binary=True)
    await sim.publish()  # still connected and served after junk
    assert decode_frame(await asyncio.wait_for(ws.read_message(), 5)).number == 1
    await ws.write_message(json.dumps({"type": "stop"}))
    deadline = time.monotonic() + 5
    command = None
    while command is None and time.monotonic() < deadline:
        command = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
    assert command is not None and json.loads(command["data"])["cmd"] == "stop"
    await pubsub.aclose()
    ws.close()


async def test_sim_end_closes_viewers(
    sim: PublishedSim, ws_url: Any, jp_auth_header: dict[str, str], jp_fetch: Any
) -> None:
    ws = await connect(ws_url(sim.sim_id), jp_auth_header)
    await read_until_frames(ws)
    await asyncio.sleep(0.2)  # let the relay subscribe
    await sim.end()
    assert json.loads(await asyncio.wait_for(ws.read_message(), 5)) == {"type": "ended"}
    assert await asyncio.wait_for(ws.read_message(), 5) is None
    assert ws.close_code == CLOSE_SIM_ENDED  # what the Lab client waits for
    # Reopening an ended sim: hello, scene, then "ended" straight away.
    ws = await connect(ws_url(sim.sim_id), jp_auth_header)
    hello, _ = await read_until_frames(ws)
    assert hello["meta"]["ended"]
    assert json.loads(await ws.read_message()) == {"type": "ended"}


async def _raw_ws_that_never_reads(port: int, path: str, token: str) -> socket.socket:
    """A WebSocket client whose receive buffer is tiny and that never reads: a slow browser."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\nAuthorization: token {token}\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    head = await loop.sock_recv(sock, 64)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def test_slow_client_skips_frames_and_never_slows_the_fast_one(
    redis_client: aioredis.Redis,
    ws_url: Any,
    jp_auth_header: dict[str, str],
    jp_http_port: int,
    jp_base_url: str,
) -> None:
    sim = await PublishedSim(redis_client, bodies=5000).start()  # 140 kB frames
    fast = await connect(ws_url(sim.sim_id), jp_auth_header)
    await read_until_frames(fast)
    token = jp_auth_header["Authorization"].split()[-1]
    path = f"{jp_base_url}cosim/api/sims/{sim.sim_id}/ws"
    slow = await _raw_ws_that_never_reads(jp_http_port, path, token)
    await asyncio.sleep(0.3)  # both subscribed

    received: list[int] = []

    async def read_fast() -> None:
        while True:
            msg = await fast.read_message()
            if msg is None or isinstance(msg, str):
                return
            received.append(decode_frame(msg).number)

    reader = asyncio.ensure_future(read_fast())
    total = 200
    for _ in range(total):
        await sim.publish()
        await asyncio.sleep(0.01)
    await asyncio.sleep(1.0)
    reader.cancel()
    assert len(set(received)) >= 0.9 * total, f"fast client got {len(received)}/{total}"

    # Now let the slow client read everything it was ever sent.
    loop = asyncio.get_running_loop()
    data = b""
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(slow, 1 << 20), 1.0)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    slow.close()
    frames = data.count(b"CSF1")
    assert frames < total / 2, f"slow client was sent a backlog of {frames} frames"
    # The last frame it got is the newest one, not an old queued one.
    last = data.rfind(b"CSF1")
    assert decode_frame(data[last : last + 56 + 28 * 5000]).number == total
    fast.close()


async def test_crashed_sim_ends_its_viewers(
    sim: PublishedSim,
    ws_url: Any,
    jp_auth_header: dict[str, str],
    redis_client: aioredis.Redis,
) -> None:
    """A kernel that dies never sends END; its meta key expires and the relay notices."""
    ws = await connect(ws_url(sim.sim_id), jp_auth_header)
    await read_until_frames(ws)
    await redis_client.delete(sim.keys.meta(sim.sim_id))  # what the TTL does after a crash
    message = await asyncio.wait_for(ws.read_message(), 15)
    assert json.loads(message) == {"type": "ended"}
