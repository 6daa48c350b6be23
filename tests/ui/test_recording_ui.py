"""A recorded humanoid run opened from Lab's file tree in headless Chromium: the playback view
shows the scene, plays, scrubs to the middle (the canvas changes and the shown time is the
recording's), and a damaged file shows the reader's message without breaking the page."""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import warnings
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

import cosim
from cosim.recording import Recording
from cosim_testing.plugin import lab_login
from cosim_testing.stack import CoSimStack

LAB_TIMEOUT = 120_000
PLAYER = ".cosim-RecordingPlayer"


def _record(path: Path) -> None:
    model = mujoco.MjModel.from_xml_path(cosim.model_path("humanoid.xml"))
    data = mujoco.MjData(model)
    rng = np.random.default_rng(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no Redis here: recording only
        v = cosim.viewer(model, data, redis_url="redis://127.0.0.1:1/0", display=False,
                         rate=1000, record=path)  # fmt: skip
    while data.time < 3.0:
        data.ctrl[:] = rng.uniform(-0.4, 0.4, size=model.nu)
        mujoco.mj_step(model, data)
        v.sync()
    v.close()


def _upload(stack: CoSimStack, name: str, data: bytes) -> None:
    admin = stack.admin_client()
    admin.spawn()
    admin.open_lab()
    body = {"type": "file", "format": "base64", "content": base64.b64encode(data).decode()}
    resp = admin.request("PUT", f"user/{stack.admin}/api/contents/{name}", data=json.dumps(body))
    assert resp.status_code in (200, 201), resp.text[:200]


def _state(page: Any) -> dict[str, str]:
    return page.locator(f"{PLAYER} .cosim-Timeline").first.evaluate("el => ({...el.dataset})")


def test_open_play_and_scrub_a_recording(
    cosim_stack: CoSimStack, cosim_context: Any, cosim_artifacts: Path, tmp_path: Path
) -> None:
    path = tmp_path / "walk.cosimrec"
    _record(path)
    with Recording(path) as rec:
        frames = rec.frame_count
        middle = frames // 2
        middle_time = float(rec.to_numpy().time[middle])
    name = f"walk-{secrets.token_hex(3)}.cosimrec"
    _upload(cosim_stack, name, path.read_bytes())
    bad = f"bad-{secrets.token_hex(3)}.cosimrec"
    _upload(cosim_stack, bad, path.read_bytes()[:8] + b"\x09\x00" + path.read_bytes()[10:])

    page = cosim_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    lab_login(page, cosim_stack, cosim_stack.admin, cosim_stack.admin_password)
    page.goto(cosim_stack.public_url(f"user/{cosim_stack.admin}/lab/tree/{name}?reset"))
    timeline = page.locator(f"{PLAYER} .cosim-Timeline").first
    timeline.wait_for(timeout=LAB_TIMEOUT)
    canvas = page.locator(f"{PLAYER} canvas").first
    canvas.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    assert _state(page)["frame"] == "0"
    first = canvas.screenshot()

    page.locator(f"{PLAYER} .cosim-Timeline-play").click()
    page.wait_for_function(
        f"() => Number(document.querySelector('{PLAYER} .cosim-Timeline').dataset.frame) > 5",
        timeout=30_000,
    )
    page.locator(f"{PLAYER} .cosim-Timeline-play").click()  # pause
    assert _state(page)["playing"] == "false"

    page.locator(f"{PLAYER} .cosim-Timeline-scrub").evaluate(
        "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }", middle
    )
    state = _state(page)
    assert int(state["frame"]) == middle
    assert abs(float(state["time"]) - middle_time) < 1e-5
    assert (
        f"frame {middle + 1} / {frames}"
        in page.locator(f"{PLAYER} .cosim-Timeline-time").text_content()
    )
    page.wait_for_timeout(500)
    assert canvas.screenshot() != first, "the canvas did not change after scrubbing"
    shot = cosim_artifacts / "recording-playback.png"
    page.locator(f"{PLAYER}").first.screenshot(path=str(shot))
    docs = Path(__file__).resolve().parents[2] / "docs" / "recording-playback.png"
    shutil.copyfile(shot, docs)

    page.goto(cosim_stack.public_url(f"user/{cosim_stack.admin}/lab/tree/{bad}"))
    error = page.locator(".cosim-RecordingPlayer-error").first
    error.wait_for(timeout=LAB_TIMEOUT)
    assert "newer than this CoSim reads" in (error.text_content() or "")
    assert page.locator("#jp-main-dock-panel").is_visible()
    assert not errors, errors
