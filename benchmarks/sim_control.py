"""Live sim control: press -> sim stops (through hub and proxy), and the cost of control in sync().

- ``control_latency_p95_ms``: a "pause" pressed as Lab's viewer toolbar presses it (one change
  queued in sim-control.json's RTC room, jupyter-collaboration's WebSocket, through
  configurable-http-proxy into alice's user server, ``cosim up``), with 10 collaborators connected
  (each a viewer socket joined to the sim and a client of the room), until the sim loop's last
  step before sync() blocks. The sim runs in this process with alice's Redis namespace and her
  control file (what her kernel would do); each round pauses, measures, runs. The fallback road
  (the press on a viewer socket, when collaboration is off) is timed in alternation with it:
  ``control_latency_socket_p95_ms``.
- ``control_overhead``: sim steps/s with a control document attached (speed 0 = free) vs the same
  viewer without one, in the same run: the two take turns every 50 steps of one sim, and each
  round's ratio is of their summed times; median over the rounds (which side opens alternates).
  Both sides are viewers publishing by the same wall clock, so taking turns favours neither.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import _harness  # noqa: F401 - tests/ on sys.path, for cosim_testing
import mujoco
from _models import box_pile_xml
from _report import figure, report
from _sim_rate import overhead_rounds
from jupyter_ydoc import YUnicode
from pycrdt import Array, Map
from server.rtc_client import RoomClient
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

import cosim
from cosim_hub.redis_server import RedisServer
from cosim_protocol.control import PRESSES, ROOM_SERVER_KEY, ROOM_STATE
from cosim_testing.stack import make_state_dir, start_cosim_up, stop_cosim_up

COLLABORATORS = 10


def control_overhead(rounds: int, seconds: float) -> tuple[float, float, float, float]:
    state = Path(tempfile.mkdtemp(prefix="cosim-bench-control-"))
    redis = RedisServer(state / "redis", persist=False).start()
    try:
        path = state / "sim-control.json"
        path.write_text(json.dumps({"schema_version": 1, "speed": 0}))  # free, as when timing
        model = mujoco.MjModel.from_xml_string(box_pile_xml(25))
        data = mujoco.MjData(model)
        common = {"display": False, "redis_url": redis.url}
        with (
            cosim.viewer(model, data, control=False, **common) as plain,
            cosim.viewer(model, data, control=str(path), **common) as controlled,
        ):
            without, with_, ratios = overhead_rounds(
                model, data, plain, controlled, rounds, seconds
            )
        spread = max(ratios) - min(ratios)
        return (
            statistics.median(without),
            statistics.median(with_),
            1 - statistics.median(ratios),
            spread,
        )
    finally:
        redis.stop()
        shutil.rmtree(state, ignore_errors=True)


class SimLoop(threading.Thread):
    def __init__(self, control: Path, redis_url: str) -> None:
        super().__init__(daemon=True)
        model = mujoco.MjModel.from_xml_string(box_pile_xml(25))
        self.model, self.data = model, mujoco.MjData(model)
        self.viewer = cosim.viewer(
            model, self.data, display=False, redis_url=redis_url, control=str(control)
        )
        self.last_step = time.perf_counter()
        self.done = False

    def run(self) -> None:
        while not self.done and self.viewer.running:
            mujoco.mj_step(self.model, self.data)
            self.last_step = time.perf_counter()
            self.viewer.sync()


async def control_latency(presses: int) -> tuple[list[float], list[float]]:
    """Pause latencies (ms) through the RTC room and through a viewer socket, alternating."""
    state_dir = make_state_dir("cosim-bench-control-")
    stack = start_cosim_up(state_dir)
    sim: SimLoop | None = None
    try:
        alice, _ = stack.new_user("alice")
        alice.spawn(timeout=240)  # a loaded machine spawns slowly
        assert alice.open_lab().status_code == 200
        config = (state_dir / "hub" / "jupyterhub_config.py").read_text()
        match = re.search(r"c\.CoSimHub\.redis_url = '([^']+)'", config)
        assert match, "no redis url in the hub config"
        os.environ["JUPYTERHUB_USER"] = "alice"  # alice's Redis namespace, as in her kernel
        home = state_dir / "users" / "alice"
        sim = SimLoop(home / "sim-control.json", match.group(1))
        sim.start()
        os.chown(home / "sim-control.json", home.stat().st_uid, home.stat().st_gid)
        cookies = "; ".join(f"{c.name}={c.value}" for c in alice.session.cookies)
        # alice's own origin (``alice.<host>`` under per-user subdomains): the proxy routes by
        # Host, so connect to loopback and name that origin in the Host header.
        origin = urlsplit(stack.user_url("alice"))
        url = (
            f"ws://127.0.0.1:{origin.port or 80}{origin.path}cosim/api/sims/{sim.viewer.sim_id}/ws"
        )
        headers = {"Cookie": cookies, "Host": origin.netloc}
        session = alice.request(
            "PUT", "user/alice/api/collaboration/session/sim-control.json",
            data=json.dumps({"format": "text", "type": "file"}),
        ).json()  # fmt: skip
        room_url = (
            f"ws://127.0.0.1:{origin.port or 80}{origin.path}api/collaboration/room/"
            f"text:file:{session['fileId']}?sessionId={session['sessionId']}"
        )
        sockets, drains, rooms = [], [], []
        for _ in range(COLLABORATORS):
            ws = await websocket_connect(HTTPRequest(url, headers=headers))
            ws.write_message(json.dumps({"type": "join"}))
            sockets.append(ws)
            drains.append(asyncio.ensure_future(_drain(ws)))
            rooms.append(await RoomClient.connect(room_url, headers, YUnicode))
        # The toolbar presses through the room once the server says it takes presses there.
        deadline = time.monotonic() + 60
        while not all(r.doc.get(ROOM_STATE, type=Map).get(ROOM_SERVER_KEY) for r in rooms):
            assert time.monotonic() < deadline, "the server never joined the control room"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)

        def press(i: int, change: dict[str, Any]) -> None:
            if i % 2 == 0:  # the toolbar's road
                rooms[i % len(rooms)].doc.get(PRESSES, type=Array).append(json.dumps(change))
            else:  # the fallback: the viewer socket
                sockets[i % len(sockets)].write_message(
                    json.dumps({"type": "control", "change": change})
                )

        document: list[float] = []
        socket: list[float] = []
        for i in range(2 * presses):
            await asyncio.sleep(0.3)
            t0 = time.perf_counter()
            press(i, {"state": "paused"})
            while True:  # blocked in sync(): no step for 0.15 s
                before = sim.last_step
                await asyncio.sleep(0.15)
                if sim.last_step == before and sim.viewer.paused:
                    break
            (socket if i % 2 else document).append((sim.last_step - t0) * 1000)
            press(i, {"state": "running"})
            while not sim.last_step > time.perf_counter() - 0.05:
                await asyncio.sleep(0.01)
        for ws in sockets:
            ws.close()
        for room in rooms:
            await room.close()
        return document, socket
    finally:
        if sim is not None:
            sim.done = True
            sim.viewer.close()
        stop_cosim_up(stack)
        shutil.rmtree(state_dir.parent, ignore_errors=True)


async def _drain(ws: Any) -> None:
    while await ws.read_message() is not None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (under 60 s)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    rounds, seconds, presses = (6, 0.5, 8) if args.quick else (12, 1.0, 20)  # per road
    without, with_, overhead, spread = control_overhead(rounds, seconds)
    latencies, by_socket = asyncio.run(control_latency(presses))
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[18]
    socket_p95 = statistics.quantiles(by_socket, n=20)[18]
    figures = {
        "control_latency_p95_ms": round(p95, 1),
        "control_latency_p50_ms": round(p50, 1),
        "control_latency_socket_p95_ms": round(socket_p95, 1),
        "control_overhead": round(overhead, 4),
        "control_overhead_spread": round(spread, 4),
        # run_all.py shows these next to the headline figures.
        "detail": {
            "control_latency_p95_ms": figure(latencies, 1),
            "control_latency_socket_p95_ms": figure(by_socket, 1),
            "control_overhead": {"spread": round(spread, 3)},  # of the pairs' ratios
        },
    }
    rows = [
        ("sim steps/s, viewer without control", f"{without:,.0f}", ""),
        ("sim steps/s, control attached", f"{with_:,.0f}", f"overhead {overhead:.1%} (< 2%)"),
        ("  spread of the pairs' ratios", f"{spread:.3f}", f"{rounds} alternating pairs"),
        (
            f"pause -> sim stops, RTC room, {COLLABORATORS} collaborators, p50 / p95",
            f"{p50:.1f} / {p95:.1f} ms",
            f"{presses} presses through hub + proxy (p95 < 100 ms)",
        ),
        (
            "  same, fallback road (viewer socket), p50 / p95",
            f"{statistics.median(by_socket):.1f} / {socket_p95:.1f} ms",
            f"{presses} presses, alternating with the above",
        ),
    ]
    report(rows, figures, args.json, quick=args.quick)


if __name__ == "__main__":
    main()
