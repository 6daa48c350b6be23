"""Live rewind and video export in a running sim, in headless Chromium through the hub: dragging
the rewind bar back shows an earlier frame (and holds it) while the live sim's frame counter keeps
rising; Live jumps back; "Export video" writes a WebM into the workspace."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from cosim_testing.plugin import VISIBLE_NOTEBOOK as PANEL
from cosim_testing.plugin import lab_login, open_notebook, put_notebook
from cosim_testing.stack import CoSimStack

LAB_TIMEOUT = 120_000
WEBM_MAGIC = b"\x1a\x45\xdf\xa3"  # EBML header

CELL = """\
import time, mujoco, cosim
xml = '''<mujoco><worldbody><light pos="0 0 3"/><geom type="plane" size="2 2 .1"/>
<body pos="-.3 0 .5"><joint type="hinge" axis="0 1 0"/>
  <geom type="capsule" fromto="0 0 0 .4 0 0" size=".05" rgba=".2 .8 .3 1"/></body>
<body pos="0 0 1"><freejoint/><geom type="box" size=".1 .1 .1" rgba=".9 .2 .2 1"/></body>
</worldbody></mujoco>'''
model = mujoco.MjModel.from_xml_string(xml)
data = mujoco.MjData(model)
deadline = time.time() + 120
with cosim.viewer(model, data, title="rewind-test") as v:
    while v.running and time.time() < deadline:
        mujoco.mj_step(model, data)
        if data.time > 1.5:
            mujoco.mj_resetData(model, data)
        v.sync()
        time.sleep(0.002)
print("loop done", v.running)
"""

VIEWER = f"{PANEL} .jp-OutputArea .cosim-ViewerWidget"
JS_REWIND = f"document.querySelector('{VIEWER} .cosim-Rewind')"
JS_VIEW = f"document.querySelector('{VIEWER} .cosim-Viewer')"
JS_CANVAS = f"document.querySelector('{VIEWER} canvas')"


def test_live_rewind_and_video_export(
    cosim_stack: CoSimStack, cosim_context: Any, cosim_artifacts: Path
) -> None:
    name = put_notebook(cosim_stack, CELL, prefix="rewind")
    page = cosim_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        lab_login(page, cosim_stack, cosim_stack.admin, cosim_stack.admin_password)
        open_notebook(page, cosim_stack, name)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=LAB_TIMEOUT)
        page.locator(f"{PANEL} .jp-Cell .cm-content").first.click()
        page.keyboard.press("Shift+Enter")
        page.wait_for_function(
            f"() => {JS_VIEW}?.dataset.state === 'live' && "
            f"Number({JS_REWIND}?.dataset.buffered) > 30",
            timeout=LAB_TIMEOUT,
        )

        # Drag back to the oldest kept frame: the view shows it, the live counter runs on.
        page.locator(f"{VIEWER} .cosim-Rewind-scrub").evaluate(
            "el => { el.value = '0'; el.dispatchEvent(new Event('input')); }"
        )
        rewind = page.locator(f"{VIEWER} .cosim-Rewind")
        state = rewind.evaluate("el => ({...el.dataset})")
        assert state["live"] == "false"
        shown = int(state["shownFrame"])
        live = int(state["liveFrame"])
        assert 0 < shown < live, state
        view = page.locator(f"{VIEWER} .cosim-Viewer")
        assert int(view.get_attribute("data-frame") or 0) == shown
        page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        still = page.evaluate(f"() => {JS_CANVAS}.toDataURL()")
        page.wait_for_function(
            f"() => Number({JS_REWIND}.dataset.liveFrame) > {live + 30}", timeout=30_000
        )
        assert int(view.get_attribute("data-frame") or 0) == shown, "live frames moved the view"
        assert page.evaluate(f"() => {JS_CANVAS}.toDataURL()") == still
        assert rewind.get_attribute("data-live") == "false"
        page.screenshot(path=str(cosim_artifacts / "live-rewind.png"))

        # Back to live: the view follows the running sim again.
        page.locator(f"{VIEWER} .cosim-Rewind-live").click()
        page.wait_for_function(
            f"() => {JS_REWIND}.dataset.live === 'true' && "
            f"Number({JS_VIEW}.dataset.frame) > {live + 30}",
            timeout=30_000,
        )

        # Export video: a WebM of the view lands in the workspace.
        button = page.locator(f"{VIEWER} .cosim-Viewer-exportVideo")
        button.click()
        page.wait_for_function(
            f"() => Number(document.querySelector('{VIEWER} .cosim-Viewer-exportVideo')"
            ".dataset.bytes) > 2000",
            timeout=30_000,
        )
        button.click()
        page.wait_for_function(
            f"() => !!document.querySelector('{VIEWER} .cosim-Viewer-exportVideo').dataset.saved",
            timeout=30_000,
        )
        saved = button.get_attribute("data-saved") or ""
        assert saved.endswith(".webm"), saved
        admin = cosim_stack.admin_client()
        admin.open_lab()  # the server's own cookies, as a browser visit sets them
        resp = admin.request(
            "GET", f"user/{cosim_stack.admin}/api/contents/{saved}?format=base64&type=file"
        )
        assert resp.status_code == 200, resp.text[:200]
        video = base64.b64decode(resp.json()["content"])
        assert len(video) > 2000 and video[:4] == WEBM_MAGIC, video[:16]

        page.locator(f"{VIEWER} .cosim-Viewer-stop").click()
        page.locator(f"{PANEL} .jp-OutputArea-output", has_text="loop done False").wait_for(
            timeout=60_000
        )
        assert not errors, errors
    except Exception:
        page.screenshot(path=str(cosim_artifacts / "failed-live-rewind.png"))
        raise
    finally:
        page.close()
