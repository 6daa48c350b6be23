"""Sim recordings: bytes on disk, size against meshcat, cost to the sim loop, seeking.

Every figure is taken against a baseline in the same run:
- bytes_per_body_frame: a ``.cosimrec`` file (scene, index and all) / (frames x moving bodies)
  for Gymnasium's humanoid.xml, 60 s of sim time at 60 frames/s, recorded through
  ``cosim.viewer(..., record=...)``; the humanoid is driven by random controls (uniform in
  +-0.4, a random policy), so it falls and keeps flailing: every body moves in every frame.
  bytes_per_body_frame_passive (full runs only): the same with zero controls (it falls, then
  lies still).
- size_ratio_vs_meshcat: that file / the same motion as a meshcat-python ``Animation`` (one
  ``set_transform`` per body per frame, as meshcat's own examples do), serialized the way
  ``Visualizer.set_animation`` sends it (umsgpack of ``SetAnimation(...).lower()``).
- record_overhead: humanoid steps/s with ``v.sync()`` every step and a recording vs the same
  viewer without one (many short alternating rounds, median of the per-round ratios)
- seek_p95_ms: the user's real path: `cosim up`, the admin logs in to Lab in headless Chromium
  and opens a 10-minute recording (the 60 s run repeated, 36,000 frames) from the file browser;
  the player's scrub bar is set to a random frame (an `input` event, as a drag sends) and the
  time runs until the view has rendered that frame (the next animation frame after the render,
  so the wait for the display's refresh is included). p95 of each round of seeks; the median
  of the rounds' p95s, with their spread. Full runs only: `cosim up` alone takes most of the
  60 s that --quick allows.
- seek_applied_p95_ms: the part of seek_p95_ms up to the frame decoded and handed to the view
  (before three.js renders it, in software here: SwiftShader).
- seek_p95_ms_python: the same file, ``pose_at`` at random times with the block cache emptied
  first (one block read, decompressed, decoded).

    python benchmarks/recording.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _harness  # noqa: F401 - tests/ on sys.path, for cosim_testing
from _report import figure, median, report, spread
from _sim_rate import steps_per_second

import cosim
from cosim.recording import Recorder, Recording
from cosim_hub.redis_server import RedisServer

HUMANOID = Path(cosim.model_path("humanoid.xml"))
FPS = 60


def record_run(path: Path, url: str, seconds: float, controls: bool) -> tuple[int, list[Any]]:
    """Record ``seconds`` of sim time, one published frame every 1/FPS s of sim time; return
    the frame count and each frame's (xpos, xmat) for the meshcat animation."""
    model = mujoco.MjModel.from_xml_path(str(HUMANOID))
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    states = []
    v = cosim.viewer(model, data, redis_url=url, display=False, rate=1000, record=path)
    next_t = 0.0
    while data.time < seconds:
        if controls:
            data.ctrl[:] = rng.uniform(-0.4, 0.4, size=model.nu)
        mujoco.mj_step(model, data)
        if data.time + 1e-9 < next_t:
            continue
        next_t += 1.0 / FPS
        before = v.frame_number
        while v.frame_number == before:  # the viewer caps at 1000 frames/s of wall time
            v.sync()
            if v.frame_number == before:
                time.sleep(0.0002)
        states.append((data.xpos[1:].copy(), data.xmat[1:].copy()))
    v.stop_recording()
    v.close()
    return v.frame_number, states


def meshcat_bytes(states: list[Any], names: list[str]) -> int:
    import meshcat
    import umsgpack
    from meshcat.animation import Animation
    from meshcat.commands import SetAnimation

    class Window:  # what meshcat's ViewerWindow.send() puts on its socket, without a server
        sent = 0

        def send(self, command: Any) -> None:
            lowered = command.lower()
            parts = [lowered["type"].encode(), lowered["path"].encode(), umsgpack.packb(lowered)]
            Window.sent += sum(len(p) for p in parts)

    vis = meshcat.Visualizer(window=Window())
    anim = Animation(default_framerate=FPS)
    transform = np.eye(4)
    for i, (xpos, xmat) in enumerate(states):
        with anim.at_frame(vis, i) as frame:
            for b, name in enumerate(names):
                transform[:3, :3] = xmat[b].reshape(3, 3)
                transform[:3, 3] = xpos[b]
                frame[name].set_transform(transform)
    vis.window.send(SetAnimation(anim))
    return Window.sent


def overhead(url: str, tmp: Path, rounds: int, seconds: float) -> tuple[float, float, float, str]:
    model = mujoco.MjModel.from_xml_path(str(HUMANOID))
    data = mujoco.MjData(model)
    plain, recorded, ratios = [], [], []
    with cosim.viewer(model, data, redis_url=url, display=False, rate=60) as v:
        for i in range(rounds):
            pair = {}
            for record in (False, True) if i % 2 == 0 else (True, False):
                mujoco.mj_resetData(model, data)
                if record:
                    v.record(tmp / f"overhead{i}.cosimrec")
                pair[record] = steps_per_second(model, data, seconds, v)
                if record:
                    v.stop_recording()
            plain.append(pair[False])
            recorded.append(pair[True])
            ratios.append(1 - pair[True] / pair[False])
    span = f"rounds {min(ratios):+.1%} .. {max(ratios):+.1%}"
    return statistics.median(plain), statistics.median(recorded), statistics.median(ratios), span


def seek_p95(source: Path, tmp: Path, minutes: int, seeks: int) -> tuple[float, float, int, Path]:
    """p95 and p50 ms of a cold ``pose_at`` in a recording ``minutes`` long, its size and path."""
    with Recording(source) as rec:
        track = rec.to_numpy()
        header, scene = rec.header, rec.scene_bytes
    long_path = tmp / "long.cosimrec"
    writer = Recorder(long_path, header, scene)
    from cosim_protocol.viewer import encode_poses

    number, span = 0, float(track.time[-1]) + 1.0 / FPS
    while number < minutes * 60 * FPS:
        lap = number // len(track.time)
        for j in range(len(track.time)):
            number += 1
            t = float(track.time[j]) + lap * span
            frame = encode_poses(header["sim_id"], number, t, time.time(), track.poses[j])
            writer.add_frame(frame)
        writer.pump()
    writer.pump(final=True)
    times = []
    rng = random.Random(0)
    with Recording(long_path) as rec:
        for _ in range(seeks):
            rec._block.cache_clear()
            t = rng.uniform(rec.start_time, rec.end_time)
            start = time.perf_counter()
            rec.pose_at(t)
            times.append((time.perf_counter() - start) * 1000)
        size = rec.size
    times.sort()
    return times[int(0.95 * (len(times) - 1))], statistics.median(times), size, long_path


# Runs in the page: seek the player to random frames; ms from the scrub's input event to the
# animation frame right after the view rendered the new frame.
SEEK_JS = """async ([count, seed]) => {
  const root = document.querySelector('.cosim-RecordingPlayer');
  const scrub = root.querySelector('.cosim-Timeline-scrub');
  const timeline = root.querySelector('.cosim-Timeline');
  const view = root.querySelector('.cosim-Viewer');
  const frames = Number(scrub.max) + 1;
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const times = [];
  for (let i = 0; i < count; i++) {
    const j = Math.floor(rand() * frames);
    const before = view.cosimStats().renders;
    const t0 = performance.now();
    scrub.value = String(j);
    scrub.dispatchEvent(new Event('input'));
    const applied = performance.now() - t0;
    while (view.cosimStats().renders === before) {
      await new Promise(r => requestAnimationFrame(r));
    }
    times.push([performance.now() - t0, applied]);
    if (timeline.dataset.frame !== String(j)) {
      throw new Error(`asked for frame ${j}, shown ${timeline.dataset.frame}`);
    }
  }
  return times;
}"""


def browser_seek(long_path: Path, rounds: int, seeks: int) -> tuple[list[float], list[float]]:
    """p95 ms of seek-to-drawn-frame in the Lab player, one per round, and the same up to the
    frame decoded and applied (before the render)."""
    import base64
    import json

    from playwright.sync_api import sync_playwright

    from cosim_testing.plugin import CHROMIUM_ARGS, lab_login
    from cosim_testing.stack import make_state_dir, start_cosim_up, stop_cosim_up

    stack = start_cosim_up(make_state_dir("cosim-bench-rec-"))
    try:
        admin = stack.admin_client()
        admin.spawn()
        admin.open_lab()
        name = "ten-minutes.cosimrec"
        body = {"type": "file", "format": "base64",
                "content": base64.b64encode(long_path.read_bytes()).decode()}  # fmt: skip
        resp = admin.request("PUT", f"user/{stack.admin}/api/contents/{name}",
                             data=json.dumps(body))  # fmt: skip
        resp.raise_for_status()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"),
                                         args=CHROMIUM_ARGS)  # fmt: skip
            page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
            lab_login(page, stack, stack.admin, stack.admin_password)
            page.goto(stack.public_url(f"user/{stack.admin}/lab/tree/{name}?reset"))
            page.locator(".cosim-RecordingPlayer canvas").first.wait_for(timeout=120_000)
            page.evaluate(SEEK_JS, [20, 1])  # warm-up: JIT, shaders
            p95s, applied = [], []
            for r in range(rounds):
                pairs = page.evaluate(SEEK_JS, [seeks, 1000 + r])
                for column, out in ((0, p95s), (1, applied)):
                    times = sorted(pair[column] for pair in pairs)
                    out.append(times[int(0.95 * (len(times) - 1))])
            browser.close()
    finally:
        stop_cosim_up(stack)
        shutil.rmtree(stack.state_dir.parent, ignore_errors=True)
    return p95s, applied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (under 60 s)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    rounds, seconds = (3, 1.0) if args.quick else (5, 3.0)
    warnings.simplefilter("ignore", DeprecationWarning)

    tmp = Path(tempfile.mkdtemp(prefix="cosim-bench-rec-"))
    redis = RedisServer(tmp / "redis", persist=False).start()
    try:
        run = tmp / "humanoid.cosimrec"
        frames, states = record_run(run, redis.url, 60.0, controls=True)
        with Recording(run) as rec:
            names, size, n = rec.bodies, rec.size, len(rec.bodies)
        passive_per_body = None
        if not args.quick:  # a side figure: full runs only, to keep --quick under 60 s
            passive = tmp / "passive.cosimrec"
            passive_frames, _ = record_run(passive, redis.url, 60.0, controls=False)
            passive_per_body = round(passive.stat().st_size / (passive_frames * n), 2)
        meshcat = meshcat_bytes(states, names)
        plain, recorded, cost, cost_rounds = overhead(redis.url, tmp, rounds * 4, seconds / 4)
        seek95, seek50, long_size, long_path = seek_p95(run, tmp, 10, 200 if args.quick else 400)
        browser_p95s, applied_p95s = ([], []) if args.quick else browser_seek(long_path, 3, 100)
    finally:
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    per_body = size / (frames * n)
    figures = {
        "bytes_per_body_frame": round(per_body, 2),
        "bytes_per_body_frame_passive": passive_per_body,
        "size_ratio_vs_meshcat": round(size / meshcat, 4),
        "record_overhead": round(cost, 4),
        "seek_p95_ms": round(median(browser_p95s), 2) if browser_p95s else None,
        "seek_p95_ms_python": round(seek95, 2),
        "seek_applied_p95_ms": round(median(applied_p95s), 2) if applied_p95s else None,
    }
    if browser_p95s:
        figures["detail"] = {"seek_p95_ms": figure(browser_p95s, 2)}
    browser_note = (
        f"median of {len(browser_p95s)} rounds' p95 (< 50), spread {spread(browser_p95s):.0%}"
        if browser_p95s
        else "not measured with --quick"
    )
    rows = [
        ("humanoid 60 s at 60 fps: frames x bodies", f"{frames} x {n}", "random controls"),
        ("  .cosimrec file", f"{size:,} B", f"{per_body:.2f} B per body-frame (<= 14)"),
        ("  same model, zero controls", "", f"{passive_per_body} B per body-frame (full run)"),
        (
            "  meshcat Animation (umsgpack)",
            f"{meshcat:,} B",
            f"ratio {size / meshcat:.4f} (<= 0.05)",
        ),
        ("steps/s, viewer only", f"{plain:,.0f}", ""),
        (
            "steps/s, viewer + recording",
            f"{recorded:,.0f}",
            f"overhead {cost:.1%} (< 2%), {cost_rounds}",
        ),
        (
            "10-min recording: cold seek p50 / p95",
            f"{seek50:.2f} / {seek95:.2f} ms",
            f"Python reader, {long_size:,} B file",
        ),
        (
            "10-min recording: seek to drawn frame in Lab",
            f"{median(browser_p95s):.1f} ms" if browser_p95s else "",
            browser_note,
        ),
        (
            "  of which: input -> frame decoded and applied",
            f"{median(applied_p95s):.1f} ms" if applied_p95s else "",
            "p95, before the render",
        ),
    ]
    report(rows, figures, args.json)


if __name__ == "__main__":
    main()
