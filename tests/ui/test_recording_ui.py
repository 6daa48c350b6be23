"""A recorded humanoid run opened from Lab's file tree in headless Chromium: the playback view
shows the scene, plays, scrubs to the middle (the canvas changes and the shown time is the
recording's), exports a WebM of the view, and a damaged file shows the reader's message without
breaking the page. Two different hub users open the same (shared) recording: the follower shows
the presenter's time."""

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
import requests

import cosim
from cosim.recording import Recording
from cosim_testing.hub_client import HubClient
from cosim_testing.plugin import hub_login, lab_login, open_lab_url
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


def _upload(stack: CoSimStack, name: str, data: bytes, client: HubClient | None = None) -> None:
    client = client or stack.admin_client()
    client.spawn()
    client.open_lab()
    body = {"type": "file", "format": "base64", "content": base64.b64encode(data).decode()}
    resp = client.request("PUT", f"user/{client.user}/api/contents/{name}", data=json.dumps(body))
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

    # At 0.25x the 3 s run plays for 12 s: a loaded machine cannot reach its end (which pauses
    # by itself) before the pause click below.
    page.locator(f"{PLAYER} .cosim-Timeline-speed").select_option("0.25")
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

    # Export video: playback starts, the WebM lands next to the recording.
    export = page.locator(f"{PLAYER} .cosim-Viewer-exportVideo")
    export.click()
    note = page.locator(f"{PLAYER} .cosim-Viewer-stateline").first
    assert export.get_attribute("data-exporting") == "true", (note.text_content(), errors)
    assert _state(page)["playing"] == "true", (note.text_content(), errors)
    page.wait_for_function(
        f"() => Number(document.querySelector('{PLAYER} .cosim-Viewer-exportVideo')"
        ".dataset.bytes) > 1000",
        timeout=30_000,
    )
    export.click()
    page.wait_for_function(
        f"() => !!document.querySelector('{PLAYER} .cosim-Viewer-exportVideo').dataset.saved",
        timeout=30_000,
    )
    saved = export.get_attribute("data-saved") or ""
    assert saved.startswith(name.removesuffix(".cosimrec")) and saved.endswith(".webm"), saved
    admin = cosim_stack.admin_client()
    admin.open_lab()
    resp = admin.request(
        "GET", f"user/{cosim_stack.admin}/api/contents/{saved}?format=base64&type=file"
    )
    assert resp.status_code == 200, resp.text[:200]
    video = base64.b64decode(resp.json()["content"])
    assert len(video) > 1000 and video[:4] == b"\x1a\x45\xdf\xa3", video[:16]

    page.goto(cosim_stack.public_url(f"user/{cosim_stack.admin}/lab/tree/{bad}"))
    error = page.locator(".cosim-RecordingPlayer-error").first
    error.wait_for(timeout=LAB_TIMEOUT)
    assert "newer than this CoSim reads" in (error.text_content() or "")
    assert page.locator("#jp-main-dock-panel").is_visible()
    assert not errors, errors


def _open_shared(page: Any, stack: CoSimStack, user: str, password: str, url: str) -> None:
    """Log in as ``user`` and open ``url`` (maybe on someone else's server, confirming the hub's
    "Authorize access" page a visitor sees once)."""
    hub_login(page, stack, user, password)
    open_lab_url(page, url, LAB_TIMEOUT)
    page.locator(f"{PLAYER} .cosim-Timeline").first.wait_for(timeout=LAB_TIMEOUT)


def _scrub(page: Any, frame: int) -> float:
    page.locator(f"{PLAYER} .cosim-Timeline-scrub").evaluate(
        "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input')); }", frame
    )
    return float(_state(page)["time"])


def _shows(page: Any, t: float) -> None:
    page.wait_for_function(
        f"() => Math.abs(Number(document.querySelector('{PLAYER} .cosim-Timeline')"
        f".dataset.time) - {t}) < 1e-5",
        timeout=15_000,
    )


def test_collaborator_follows_the_presenters_playhead(
    cosim_stack: CoSimStack, cosim_browser: Any, tmp_path: Path
) -> None:
    tag = secrets.token_hex(2)
    alice, alice_pw = cosim_stack.new_user(f"presenter{tag}")
    bob, bob_pw = cosim_stack.new_user(f"follower{tag}")
    a, b = str(alice.user), str(bob.user)
    path = tmp_path / "walk.cosimrec"
    _record(path)
    with Recording(path) as rec:
        frames = rec.frame_count
    name = f"talk-{secrets.token_hex(3)}.cosimrec"
    _upload(cosim_stack, name, path.read_bytes(), client=alice)
    token = alice.api("POST", f"users/{a}/tokens", json={"note": "follow test"}).json()["token"]
    shared = requests.post(alice.url(f"hub/api/shares/{a}/"), json={"user": b},
                           headers={"Authorization": f"token {token}"}, timeout=30)  # fmt: skip
    assert shared.status_code == 200, shared.text

    contexts = [cosim_browser.new_context(viewport={"width": 1200, "height": 800}) for _ in "ab"]
    page_a, page_b = (ctx.new_page() for ctx in contexts)
    try:
        url = cosim_stack.public_url(f"user/{a}/lab/tree/{name}?reset")
        _open_shared(page_a, cosim_stack, a, alice_pw, url)
        _open_shared(page_b, cosim_stack, b, bob_pw, url)
        page_a.locator(f"{PLAYER} .cosim-Follow-present").click()
        assert page_a.locator(f"{PLAYER} .cosim-Follow").get_attribute("data-presenting") == "true"
        # bob's list offers alice (her Lab's identity), and following her moves his playhead.
        follow = page_b.locator(f"{PLAYER} .cosim-Follow-select")
        follow.locator("option:nth-child(2)").wait_for(state="attached", timeout=30_000)
        assert a in (follow.locator("option:nth-child(2)").text_content() or "")
        follow.select_option(index=1)
        for frame in (frames // 2, frames // 5, frames - 1):
            t = _scrub(page_a, frame)
            _shows(page_b, t)
        # Playing moves the follower too; pausing leaves both on the same time. At 0.25x the
        # 3 s run cannot reach its end (which pauses by itself) before the pause click below.
        page_a.locator(f"{PLAYER} .cosim-Timeline-speed").select_option("0.25")
        _scrub(page_a, 0)
        page_a.locator(f"{PLAYER} .cosim-Timeline-play").click()
        page_b.wait_for_function(
            f"() => Number(document.querySelector('{PLAYER} .cosim-Timeline').dataset.frame) > 5",
            timeout=30_000,
        )
        page_a.locator(f"{PLAYER} .cosim-Timeline-play").click()
        page_a.wait_for_function(
            f"() => document.querySelector('{PLAYER} .cosim-Timeline').dataset.playing === 'false'"
        )
        _shows(page_b, float(_state(page_a)["time"]))
        # alice stops presenting: bob's list is empty again and his view stays where it was.
        page_a.locator(f"{PLAYER} .cosim-Follow-present").click()
        page_b.wait_for_function(
            f"() => document.querySelector('{PLAYER} .cosim-Follow').dataset.following === ''",
            timeout=15_000,
        )
    finally:
        for ctx in contexts:
            ctx.close()
