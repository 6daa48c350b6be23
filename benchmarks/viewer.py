"""Sim viewer hot path: cost to the sim loop, delivery to a real browser, bytes, slow clients.

Every figure is taken against a baseline in the same run:
- sync_overhead: MuJoCo steps/s with ``v.sync()`` each step vs the bare loop (alternating runs)
- fps, latency_p50_ms, latency_p95_ms: pose frames delivered to headless Chromium over the real
  server extension WebSocket; latency is ``sync()`` to the browser's next animation frame
- bytes_per_body, jpeg_ratio: a pose frame vs a 640x480 JPEG (q80) of the same scene: Gymnasium's
  humanoid.xml (the issue's example) from its tracking camera; jpeg_ratio_box_pile: the 25-body pile
- slow_clients_ratio: steps/s with 50 WebSocket clients that never read vs none
- fps_500_bodies: delivered fps with 500 moving bodies

    python benchmarks/viewer.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco

sys.path.insert(0, str(Path(__file__).parent))
from _models import box_pile_xml
from _report import report
from _server import JupyterServer

import cosim
from cosim_hub.redis_server import RedisServer
from cosim_protocol.viewer import BYTES_PER_BODY, FRAME_HEADER

PAGE = """<!doctype html><html><body><script>
const params = new URLSearchParams(location.search);
window.stats = {frames: 0, latencies: [], numbers: [], bodies: 0, opened: false};
const pending = [];
const ws = new WebSocket(`ws://${location.host}${params.get('ws')}`);
ws.binaryType = 'arraybuffer';
ws.onopen = () => { window.stats.opened = true; };
ws.onmessage = (e) => {
  if (typeof e.data === 'string') return;
  const dv = new DataView(e.data);
  const magic = new TextDecoder().decode(new Uint8Array(e.data, 0, 4));
  if (magic !== 'CSF1') return;
  const n = dv.getUint32(32, true);
  const poses = new Float32Array(e.data, 56, n * 7);  // decoded as the viewer does
  window.stats.bodies = n;
  window.stats.frames++;
  window.stats.numbers.push(dv.getUint32(8, true));
  pending.push(dv.getFloat64(24, true) + 0 * poses[0]);
};
function tick() {
  const now = (performance.timeOrigin + performance.now()) / 1000;
  for (const wall of pending) window.stats.latencies.push((now - wall) * 1000);
  pending.length = 0;
  requestAnimationFrame(tick);
}
requestAnimationFrame(tick);
</script></body></html>"""


def steps_per_second(model: Any, data: Any, seconds: float, viewer: Any | None) -> float:
    steps, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            mujoco.mj_step(model, data)
            if viewer is not None:
                viewer.sync()
        steps += 50
        now = time.perf_counter()
        if now >= deadline:
            return steps / (now - start)


def alternate(
    model: Any, data: Any, viewer: Any, pairs: int, seconds: float
) -> tuple[float, float, float]:
    """Bare vs attached in short interleaved pairs; the overhead is the median of the pairs'
    ratios, which cancels slow drifts of a noisy machine better than one long run each."""
    steps_per_second(model, data, seconds, viewer)  # warm-up, not counted
    bare, attached, ratios = [], [], []
    for i in range(pairs):
        pair = [(bare, None), (attached, viewer)]
        for bucket, v in pair if i % 2 == 0 else reversed(pair):
            mujoco.mj_resetData(model, data)
            bucket.append(steps_per_second(model, data, seconds, v))
        ratios.append(attached[-1] / bare[-1])
    return statistics.median(bare), statistics.median(attached), 1 - statistics.median(ratios)


def jpeg_bytes(model: Any, data: Any, camera: str) -> int:
    """A 640x480 JPEG (q80) from ``camera`` after 300 steps (a pile settles, a humanoid falls)."""
    from PIL import Image

    model.vis.global_.offwidth, model.vis.global_.offheight = 640, 480
    for _ in range(300):
        mujoco.mj_step(model, data)
    with mujoco.Renderer(model, 480, 640) as renderer:
        renderer.update_scene(data, camera=camera)
        pixels = renderer.render()
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=80)
    return len(buf.getvalue())


def humanoid_jpeg_ratio() -> tuple[int, int, int]:
    """Moving bodies, pose frame bytes and JPEG bytes for Gymnasium's humanoid.xml."""
    import gymnasium

    from cosim.scene_mujoco import MujocoScene

    path = Path(gymnasium.__file__).parent / "envs" / "mujoco" / "assets" / "humanoid.xml"
    model = mujoco.MjModel.from_xml_path(str(path))
    data = mujoco.MjData(model)
    bodies = len(MujocoScene(model, data).dynamic)
    return bodies, FRAME_HEADER.size + BYTES_PER_BODY * bodies, jpeg_bytes(model, data, "track")


def browser_delivery(
    server: JupyterServer, model: Any, data: Any, seconds: float
) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    (server.root / "bench.html").write_text(PAGE)
    viewer = cosim.viewer(model, data, rate=120.0, display=False, redis_url=server.redis_url)
    with viewer as v, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=["--no-sandbox", "--disable-background-networking"],
        )
        page = browser.new_page()
        ws = quote(server.ws_path(v.sim_id), safe="/")
        page.goto(f"{server.url}/files/bench.html?token={server.token}&ws={ws}")
        page.wait_for_function("window.stats.opened", timeout=30_000)
        time.sleep(0.5)
        page.evaluate("window.stats.frames = 0; window.stats.latencies = []")
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            mujoco.mj_step(model, data)
            v.sync()
        elapsed = time.perf_counter() - start
        time.sleep(0.2)
        stats = page.evaluate("window.stats")
        browser.close()
    lat = sorted(stats["latencies"]) or [float("nan")]
    return {
        "fps": stats["frames"] / elapsed,
        "latency_p50_ms": lat[len(lat) // 2],
        "latency_p95_ms": lat[min(len(lat) - 1, int(len(lat) * 0.95))],
        "bodies": stats["bodies"],
    }


async def _open_slow_clients(server: JupyterServer, sim_id: str, n: int) -> list[socket.socket]:
    loop = asyncio.get_running_loop()
    socks = []
    for _ in range(n):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", server.port))
        request = (
            f"GET {server.ws_path(sim_id)} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        await loop.sock_sendall(sock, request.encode())
        head = await loop.sock_recv(sock, 12)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"slow client upgrade failed: {head!r}")
        socks.append(sock)
    return socks


def slow_clients(
    server: JupyterServer, model: Any, data: Any, rounds: int, seconds: float
) -> float:
    with cosim.viewer(model, data, rate=60.0, display=False, redis_url=server.redis_url) as v:
        none_rates, slow_rates = [], []
        socks: list[socket.socket] = []
        steps_per_second(model, data, seconds / 2, v)  # warm-up, not counted
        for i in range(rounds):
            for attach in [False, True] if i % 2 == 0 else [True, False]:
                if attach and not socks:
                    socks = asyncio.run(_open_slow_clients(server, v.sim_id, 50))
                    time.sleep(0.5)  # the server sends each its scene: not what we measure
                if not attach and socks:
                    for s in socks:
                        s.close()
                    socks = []
                    time.sleep(0.5)
                (slow_rates if attach else none_rates).append(
                    steps_per_second(model, data, seconds, v)
                )
        for s in socks:
            s.close()
    return statistics.median(slow_rates) / statistics.median(none_rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (under 60 s)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    rounds, seconds = (3, 1.0) if args.quick else (5, 2.0)

    state = Path(tempfile.mkdtemp(prefix="cosim-bench-redis-"))
    redis = RedisServer(state, persist=False).start()
    server = JupyterServer(redis.url)
    try:
        model = mujoco.MjModel.from_xml_string(box_pile_xml(25))
        data = mujoco.MjData(model)
        with cosim.viewer(model, data, rate=60.0, display=False, redis_url=redis.url) as v:
            bare, attached, overhead = alternate(model, data, v, rounds * 4, seconds / 4)
        delivery = browser_delivery(server, model, data, seconds * 2)
        frame_bytes = FRAME_HEADER.size + BYTES_PER_BODY * delivery["bodies"]
        jpeg = jpeg_bytes(model, data, "view")
        humanoid, humanoid_frame, humanoid_jpeg = humanoid_jpeg_ratio()
        slow_ratio = slow_clients(server, model, data, rounds, seconds)
        big = mujoco.MjModel.from_xml_string(box_pile_xml(500))
        big_delivery = browser_delivery(server, big, mujoco.MjData(big), seconds * 2)
    finally:
        server.stop()
        redis.stop()
        shutil.rmtree(state, ignore_errors=True)

    figures = {
        "sync_overhead": round(overhead, 4),
        "fps": round(delivery["fps"], 1),
        "latency_p50_ms": round(delivery["latency_p50_ms"], 2),
        "latency_p95_ms": round(delivery["latency_p95_ms"], 2),
        "bytes_per_body": BYTES_PER_BODY,
        "frame_bytes": frame_bytes,
        "jpeg_ratio": round(humanoid_jpeg / humanoid_frame, 1),
        "jpeg_ratio_box_pile": round(jpeg / frame_bytes, 1),
        "slow_clients_ratio": round(slow_ratio, 3),
        "fps_500_bodies": round(big_delivery["fps"], 1),
    }
    rows = [
        ("sim steps/s, bare loop", f"{bare:,.0f}", ""),
        ("sim steps/s, viewer attached", f"{attached:,.0f}", f"overhead {overhead:.1%} (< 5%)"),
        ("frames/s in Chromium (25 bodies)", f"{delivery['fps']:.1f}", "(>= 60; sim at 120 Hz)"),
        (
            "sync() -> next paint p50 / p95",
            f"{delivery['latency_p50_ms']:.1f} / {delivery['latency_p95_ms']:.1f} ms",
            "(p95 < 30 ms)",
        ),
        ("pose frame (25 bodies)", f"{frame_bytes} B", f"{BYTES_PER_BODY} B per body (<= 28)"),
        (f"humanoid.xml: pose frame ({humanoid} bodies)", f"{humanoid_frame:,} B", ""),
        (
            "humanoid.xml: 640x480 JPEG q80",
            f"{humanoid_jpeg:,} B",
            f"x{humanoid_jpeg / humanoid_frame:.0f} (>= 50)",
        ),
        ("box pile: 640x480 JPEG q80", f"{jpeg:,} B", f"x{jpeg / frame_bytes:.0f}"),
        ("steps/s with 50 slow clients / none", f"{slow_ratio:.3f}", "(>= 0.95)"),
        ("frames/s in Chromium, 500 bodies", f"{big_delivery['fps']:.1f}", "(>= 30)"),
    ]
    report(rows, figures, args.json)


if __name__ == "__main__":
    main()
