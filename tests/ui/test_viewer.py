"""The live viewer through the hub in headless Chromium: a real kernel drives MuJoCo or PyBullet,
two browsers see the same frames, the side panel lists the sim, reconnect and stop work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cosim_testing.plugin import VISIBLE_NOTEBOOK as PANEL
from cosim_testing.plugin import lab_login, open_notebook, put_notebook
from cosim_testing.stack import CoSimStack

LAB_TIMEOUT = 120_000

MUJOCO_CELL = """\
import time, mujoco, cosim
xml = '''<mujoco><worldbody><light pos="0 0 3"/><geom type="plane" size="2 2 .1"/>
<body pos="0 0 1"><freejoint/><geom type="box" size=".1 .1 .1" rgba=".9 .2 .2 1"/></body>
<body pos=".3 0 1.5"><freejoint/><geom type="sphere" size=".1" rgba=".2 .4 .9 1"/></body>
<body pos="-.3 0 .5"><joint type="hinge" axis="0 1 0"/>
  <geom type="capsule" fromto="0 0 0 .4 0 0" size=".05" rgba=".2 .8 .3 1"/></body>
</worldbody></mujoco>'''
model = mujoco.MjModel.from_xml_string(xml)
data = mujoco.MjData(model)
deadline = time.time() + 90
with cosim.viewer(model, data, title="ui-test-mujoco") as v:
    while v.running and time.time() < deadline:
        mujoco.mj_step(model, data)
        if data.time > 1.0:
            mujoco.mj_resetData(model, data)
        v.sync()
        time.sleep(0.002)
print("loop done", v.running)
"""

PYBULLET_CELL = """\
import math, time, pybullet as p, pybullet_data, cosim
cid = p.connect(p.DIRECT)
p.setAdditionalSearchPath(pybullet_data.getDataPath())
p.setGravity(0, 0, -9.8, physicsClientId=cid)
p.loadURDF("plane.urdf", physicsClientId=cid)
kuka = p.loadURDF("kuka_iiwa/model.urdf", useFixedBase=True, physicsClientId=cid)
deadline = time.time() + 90
with cosim.viewer(cid, title="ui-test-pybullet") as v:
    while v.running and time.time() < deadline:
        t = time.time()
        for j in range(p.getNumJoints(kuka, physicsClientId=cid)):
            p.setJointMotorControl2(kuka, j, p.POSITION_CONTROL,
                                    targetPosition=0.8 * math.sin(t + j), physicsClientId=cid)
        p.stepSimulation(physicsClientId=cid)
        v.sync()
        time.sleep(1 / 240)
print("loop done", v.running)
"""


def _js_viewer(sim_id: str) -> str:
    return f"document.querySelector(\".jp-OutputArea .cosim-Viewer[data-sim-id='{sim_id}']\")"


def _run_first_cell(page: Any) -> None:
    """Run the first cell once the kernel is idle (keys pressed earlier are lost)."""
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=LAB_TIMEOUT)
    page.locator(f"{PANEL} .jp-Cell .cm-content").first.click()
    page.keyboard.press("Shift+Enter")
    page.locator(f"{PANEL} .jp-InputPrompt", has_text="[*]").first.wait_for(timeout=30_000)


def _frame(viewer: Any) -> int:
    return int(viewer.get_attribute("data-frame") or 0)


def _canvas_png(viewer: Any) -> bytes:
    return viewer.locator("canvas").first.screenshot()


def _nonblank(png: bytes) -> bool:
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(png)).convert("RGB")
    colors = image.getcolors(maxcolors=1 << 16)
    return colors is None or len(colors) > 8


def _run_and_watch(stack: CoSimStack, browser: Any, artifacts: Path, source: str, tag: str) -> None:
    name = put_notebook(stack, source, prefix=f"viewer-{tag}")
    contexts = [browser.new_context(viewport={"width": 1300, "height": 900}) for _ in "ab"]
    pages = [ctx.new_page() for ctx in contexts]
    try:
        for page in pages:
            lab_login(page, stack, stack.admin, stack.admin_password)
        open_notebook(pages[0], stack, name)
        _run_first_cell(pages[0])

        viewer_a = pages[0].locator(f"{PANEL} .jp-OutputArea .cosim-Viewer").first
        viewer_a.wait_for(timeout=60_000)
        pages[0].wait_for_function(
            f"() => (v => v?.dataset.state === 'live' && Number(v.dataset.frame) > 5)"
            f"(document.querySelector('{PANEL} .jp-OutputArea .cosim-Viewer'))",
            timeout=60_000,
        )
        sim_id = viewer_a.get_attribute("data-sim-id")
        first = _canvas_png(viewer_a)
        pages[0].wait_for_timeout(700)
        second = _canvas_png(viewer_a)
        assert _nonblank(first) and _nonblank(second), "the canvas is blank"
        assert first != second, "the view does not move"
        # WebGL in software (SwiftShader: no GPU here): the view draws without MSAA, which
        # doubled each frame's cost; each painted frame has sync() -> arrival <= -> paint times.
        gl = viewer_a.evaluate(
            "el => (gl => ({aa: gl.getContextAttributes().antialias, renderer: gl.getParameter("
            "gl.getExtension('WEBGL_debug_renderer_info').UNMASKED_RENDERER_WEBGL), "
            "...el.cosimStats()}))(el.querySelector('canvas').getContext('webgl2'))"
        )
        assert gl["aa"] is not ("SwiftShader" in gl["renderer"]), gl["renderer"]
        assert gl["latencyMs"] and len(gl["receivedMs"]) == len(gl["latencyMs"])
        assert all(r <= p for r, p in zip(gl["receivedMs"], gl["latencyMs"], strict=True))
        pages[0].screenshot(path=str(artifacts / f"lab-viewer-{tag}.png"))

        # The collaborator opens the same notebook (RTC) and sees the same live sim.
        open_notebook(pages[1], stack, name)
        viewer_b = pages[1].locator(f".jp-OutputArea .cosim-Viewer[data-sim-id='{sim_id}']").first
        viewer_b.wait_for(timeout=LAB_TIMEOUT)
        pages[1].wait_for_function(
            f"() => Number({_js_viewer(sim_id)}?.dataset.frame) > 0",
            timeout=60_000,
        )
        a, b = _frame(viewer_a), _frame(viewer_b)
        assert abs(a - b) < 120, f"browsers are far apart: {a} vs {b}"

        # The side panel lists the sim.
        pages[1].locator(
            ".jp-SideBar [title='CoSim Viewer'], .jp-SideBar [data-id='cosim-viewer-panel']"
        ).first.click()
        pages[1].locator(f".cosim-SimList-item[data-sim-id='{sim_id}']").wait_for(timeout=30_000)

        # A dropped WebSocket reconnects.
        viewer_b.evaluate("el => el.cosimDrop()")
        pages[1].wait_for_function(
            f"() => Number({_js_viewer(sim_id)}?.dataset.reconnects) >= 1",
            timeout=60_000,
        )
        before = _frame(viewer_b)
        pages[1].wait_for_timeout(800)
        assert _frame(viewer_b) > before, "no frames after reconnecting"

        # Stop from the second browser ends the loop in the kernel; both views say ended.
        pages[1].locator(
            f".jp-OutputArea .cosim-ViewerWidget:has(.cosim-Viewer[data-sim-id='{sim_id}'])"
            " .cosim-Viewer-stop"
        ).first.click()
        for page in pages:
            page.wait_for_function(
                f"() => {_js_viewer(sim_id)}?.dataset.state === 'ended'",
                timeout=60_000,
            )
        pages[0].locator(f"{PANEL} .jp-OutputArea-output", has_text="loop done False").wait_for(
            timeout=60_000
        )
    except Exception:
        for i, page in enumerate(pages):
            page.screenshot(path=str(artifacts / f"failed-viewer-{tag}-{i}.png"))
        raise
    finally:
        for ctx in contexts:
            ctx.close()


def test_mujoco_viewer_live_in_two_browsers(
    cosim_stack: CoSimStack, cosim_browser: Any, cosim_artifacts: Path
) -> None:
    _run_and_watch(cosim_stack, cosim_browser, cosim_artifacts, MUJOCO_CELL, "mujoco")


def test_pybullet_viewer_live_in_two_browsers(
    cosim_stack: CoSimStack, cosim_browser: Any, cosim_artifacts: Path
) -> None:
    _run_and_watch(cosim_stack, cosim_browser, cosim_artifacts, PYBULLET_CELL, "pybullet")
