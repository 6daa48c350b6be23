"""Sim viewer hot path: cost to the sim loop, delivery to CoSim's own widget, bytes, slow clients.

- sync_overhead: MuJoCo steps/s with ``v.sync()`` each step vs the bare loop (alternating runs)
- fps, latency_p50_ms, latency_p95_ms: the user's real path: `cosim up`, a user logs in to Lab
  in headless Chromium, runs a notebook cell that drives a 25-body MuJoCo pile with
  ``cosim.viewer`` (paced near real time), and CoSim's viewer widget in the cell's output
  renders it through the proxy, the user's server and its relay. The widget's own
  ``cosimStats()`` gives frames received and publish (``v.sync()``) -> paint latency; fps is
  frames received over the page's own clock, read in the same call as the counters.
  painted_fps: frames the widget drew per second; latency_arrival_p50/p95_ms (detail): publish
  -> the frame's arrival in the widget, for the same painted frames (the rest is the browser).
- bytes_per_body: from the binary frames the page's WebSocket actually received:
  (frame bytes - header) / bodies in the frame; frame_bytes is the whole frame
- fast_client_fps_with_50_slow, relay_rss_growth_mb_with_50_slow: the same widget's fps, and the
  user server's (the relay's) RSS growth, while 50 WebSocket clients that never read are
  attached to the same sim through the proxy (windows with and without them alternate)
- jpeg_ratio: a 640x480 JPEG (q80) of Gymnasium's humanoid.xml from its tracking camera / a pose
  frame of it; jpeg_ratio_box_pile: the same for the 25-body pile

    python benchmarks/viewer.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

os.environ.setdefault("MUJOCO_GL", "egl")

import _harness  # noqa: F401 - tests/ on sys.path, for cosim_testing
import mujoco
from _models import box_pile_xml
from _report import figure, headline, median, report, spread
from _sim_rate import paired_rounds

import cosim
from cosim_hub.redis_server import RedisServer
from cosim_protocol.viewer import BYTES_PER_BODY, FRAME_HEADER
from cosim_testing.plugin import CHROMIUM_ARGS, lab_login, open_notebook, put_notebook
from cosim_testing.stack import CoSimStack, make_state_dir, start_cosim_up, stop_cosim_up

BODIES = 25
# The notebook cell a user would run: the sim paced near real time, the viewer in the output.
CELL = """\
import os, time, mujoco, cosim
model = mujoco.MjModel.from_xml_string({xml!r})
data = mujoco.MjData(model)
deadline = time.time() + 600
with cosim.viewer(model, data, title="bench") as v:
    while v.running and time.time() < deadline and not os.path.exists({stop!r}):
        for _ in range(4):
            mujoco.mj_step(model, data)
            if data.time > 3.0:
                mujoco.mj_resetData(model, data)
            v.sync()
        time.sleep(0.004)
"""
VIEWER = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea .cosim-Viewer"
# The counters and the page's clock (ms) read in one call: the window is timed where it counts.
STATS = f"(s => ({{...s, at: performance.now()}}))(document.querySelector('{VIEWER}').cosimStats())"


def sync_overhead_pairs(
    model: Any, data: Any, viewer: Any, rounds: int, seconds: float
) -> tuple[float, float, float]:
    """Bare sim vs the same sim with ``viewer.sync()`` in separate alternating runs (the viewer
    publishes by the wall clock); the overhead is 1 - the median of the pairs' ratios."""
    bare, attached, ratios = paired_rounds(model, data, None, viewer, rounds, seconds)
    return median(bare), median(attached), 1 - median(ratios)


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


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _relay_pid(stack: CoSimStack) -> int:
    """The admin's single-user server: the process that runs the viewer relay."""
    for pid in stack.server_pids(stack.admin):
        try:
            if b"singleuser" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            continue
    raise RuntimeError("the admin's single-user server is not running")


def _slow_clients(stack: CoSimStack, token: str, sim_id: str, n: int) -> list[socket.socket]:
    """``n`` WebSockets to the sim through the proxy that never read (4 KiB receive buffers)."""
    # The user's own origin (``<name>.cosim.localhost`` under subdomains): the proxy routes by
    # Host, and plain sockets cannot resolve *.localhost, so connect to loopback with that Host.
    origin = urlsplit(stack.user_url(stack.admin))
    host, port = origin.netloc, origin.port or 80
    path = f"{origin.path}cosim/api/sims/{sim_id}/ws"
    socks = []
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: token {token}\r\n\r\n".encode()
        )
        head = sock.recv(12)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"slow client upgrade failed: {head!r}")
        socks.append(sock)
    return socks


def widget_figures(rounds: int, window: float) -> dict[str, Any]:
    """fps, latency, bytes and the slow-client figures, measured by CoSim's widget in Lab."""
    from playwright.sync_api import sync_playwright

    stack = start_cosim_up(make_state_dir("cosim-bench-viewer-"))
    sizes: list[tuple[int, int]] = []  # (frame bytes, bodies) of received pose frames

    def on_frame(payload: Any) -> None:
        if isinstance(payload, bytes) and payload[:4] == b"CSF1" and len(sizes) < 100_000:
            sizes.append((len(payload), int.from_bytes(payload[32:36], "little")))

    try:
        admin = stack.admin_client()
        stop = "bench-stop"
        name = put_notebook(stack, CELL.format(xml=box_pile_xml(BODIES), stop=stop), "viewer")
        token = admin.api("POST", f"users/{stack.admin}/tokens", json={"note": "bench"})
        token.raise_for_status()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"),
                                         args=CHROMIUM_ARGS)  # fmt: skip
            page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
            page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
            lab_login(page, stack, stack.admin, stack.admin_password)
            editor = open_notebook(page, stack, name)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
            editor.click()
            page.keyboard.press("Shift+Enter")
            page.wait_for_function(
                f"() => (v => v?.dataset.state === 'live' && Number(v.dataset.frame) > 30)"
                f"(document.querySelector('{VIEWER}'))",
                timeout=120_000,
            )
            sim_id = page.locator(VIEWER).first.get_attribute("data-sim-id")
            assert sim_id
            relay = _relay_pid(stack)

            def measure() -> tuple[float, list[float]]:
                before = page.evaluate(STATS)
                time.sleep(window)
                after = page.evaluate(STATS)
                elapsed = (after["at"] - before["at"]) / 1000
                painted = min(len(after["latencyMs"]), after["renders"] - before["renders"])
                fps = (after["received"] - before["received"]) / elapsed
                painted_fps.append((after["renders"] - before["renders"]) / elapsed)
                if painted:
                    arrivals.extend(after["receivedMs"][-painted:])
                return fps, after["latencyMs"][-painted:] if painted else []

            alone_fps: list[float] = []
            painted_fps: list[float] = []  # measure() appends, with and without slow clients
            alone_painted: list[float] = []
            arrivals: list[float] = []
            slow_fps: list[float] = []
            growth: list[float] = []
            latencies: list[float] = []
            p95s: list[float] = []
            for r in range(rounds):
                for with_slow in (False, True) if r % 2 == 0 else (True, False):
                    if not with_slow:
                        fps, lat = measure()
                        alone_fps.append(fps)
                        alone_painted.append(painted_fps[-1])
                        latencies += lat
                        p95s.append(_percentile(lat, 0.95))
                        continue
                    rss0 = _rss_mb(relay)
                    socks = _slow_clients(stack, token.json()["token"], sim_id, 50)
                    try:
                        fps, _lat = measure()
                        slow_fps.append(fps)
                        growth.append(_rss_mb(relay) - rss0)
                    finally:
                        for sock in socks:
                            sock.close()
                    time.sleep(1.0)  # the relay drops the closed clients
            # The cell ends its loop when this file appears in its folder (saved as Lab would).
            admin.open_lab()
            admin.request("PUT", f"user/{stack.admin}/api/contents/{stop}",
                          json={"type": "file", "format": "text", "content": ""})  # fmt: skip
            browser.close()
    finally:
        stop_cosim_up(stack)
        shutil.rmtree(stack.state_dir.parent, ignore_errors=True)

    per_body = [(size - FRAME_HEADER.size) / n for size, n in sizes if n]
    return {
        "fps": alone_fps,
        "painted_fps": alone_painted,
        "latency": latencies,
        "arrival": arrivals,
        "p95_rounds": p95s,
        "slow_fps": slow_fps,
        "rss_growth": growth,
        "per_body": per_body,
        "frame_bytes": median([size for size, _ in sizes]) if sizes else float("nan"),
        "bodies": median([n for _, n in sizes]) if sizes else 0,
        "frames_seen": len(sizes),
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [float("nan")]
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (under 60 s)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    rounds, seconds = (3, 1.0) if args.quick else (5, 2.0)

    state = Path(tempfile.mkdtemp(prefix="cosim-bench-redis-"))
    redis = RedisServer(state, persist=False).start()
    try:
        model = mujoco.MjModel.from_xml_string(box_pile_xml(BODIES))
        data = mujoco.MjData(model)
        with cosim.viewer(model, data, rate=60.0, display=False, redis_url=redis.url) as v:
            bare, attached, overhead = sync_overhead_pairs(model, data, v, rounds * 4, seconds / 4)
        jpeg = jpeg_bytes(model, data, "view")
        humanoid, humanoid_frame, humanoid_jpeg = humanoid_jpeg_ratio()
    finally:
        redis.stop()
        shutil.rmtree(state, ignore_errors=True)
    w = widget_figures(rounds, seconds * 2)

    fps = median(w["fps"])
    fast = median(w["slow_fps"])
    lat = w["latency"]
    frame_bytes = w["frame_bytes"]
    figures = {
        "sync_overhead": round(overhead, 4),
        "fps": round(fps, 1),
        "painted_fps": round(median(w["painted_fps"]), 1),
        "latency_p50_ms": round(_percentile(lat, 0.5), 2),
        "latency_p95_ms": round(_percentile(lat, 0.95), 2),
        "bytes_per_body": round(median(w["per_body"]), 2) if w["per_body"] else None,
        "frame_bytes": frame_bytes,
        "jpeg_ratio": round(humanoid_jpeg / humanoid_frame, 1),
        "jpeg_ratio_box_pile": round(jpeg / (FRAME_HEADER.size + BYTES_PER_BODY * BODIES), 1),
        "fast_client_fps_with_50_slow": round(fast, 1),
        "relay_rss_growth_mb_with_50_slow": round(median(w["rss_growth"]), 1),
        "detail": {
            "fps": figure(w["fps"], 1),
            "latency_p95_ms_per_round": figure(w["p95_rounds"], 1),
            "painted_fps": figure(w["painted_fps"], 1),
            "latency_arrival_p50_ms": round(_percentile(w["arrival"], 0.5), 2),
            "latency_arrival_p95_ms": round(_percentile(w["arrival"], 0.95), 2),
            "fast_client_fps_with_50_slow": figure(w["slow_fps"], 1),
            "relay_rss_growth_mb_with_50_slow": figure(w["rss_growth"], 1),
            "frames_measured": w["frames_seen"],
            "latency_samples": len(lat),
        },
    }
    per_body = figures["bytes_per_body"]
    rows = [
        ("sim steps/s, bare loop", f"{bare:,.0f}", ""),
        ("sim steps/s, viewer attached", f"{attached:,.0f}", f"overhead {overhead:.1%} (< 5%)"),
        headline("fps in CoSim's widget (hub+proxy)", w["fps"], ">= 60"),
        ("frames painted by the widget per s", f"{figures['painted_fps']:.1f}",
         f"spread {spread(w['painted_fps']):.0%} over {len(w['painted_fps'])}"),
        ("sync() -> paint p50", f"{figures['latency_p50_ms']:.1f} ms", ""),
        ("sync() -> paint p95", f"{figures['latency_p95_ms']:.1f} ms",
         f"goal < 30; per-round p95 spread {spread(w['p95_rounds']):.0%}"),
        ("  of which sync() -> in the widget, p50/p95",
         f"{_percentile(w['arrival'], 0.5):.1f}/{_percentile(w['arrival'], 0.95):.1f} ms", ""),
        ("bytes per body, received frames", f"{per_body} B",
         f"goal <= 28; frame {frame_bytes:.0f} B for {w['bodies']:.0f} bodies"),
        headline("fast client fps, 50 slow attached", w["slow_fps"], f">= {0.9 * fps:.1f}"),
        headline("relay RSS growth, 50 slow (MiB)", w["rss_growth"], "< 50"),
        (f"humanoid.xml: pose frame ({humanoid} bodies)", f"{humanoid_frame:,} B", ""),
        ("humanoid.xml: 640x480 JPEG q80", f"{humanoid_jpeg:,} B",
         f"x{humanoid_jpeg / humanoid_frame:.0f} (>= 50)"),
        ("box pile: 640x480 JPEG q80", f"{jpeg:,} B", f"x{figures['jpeg_ratio_box_pile']:.0f}"),
    ]  # fmt: skip
    report(rows, figures, args.json)


if __name__ == "__main__":
    main()
