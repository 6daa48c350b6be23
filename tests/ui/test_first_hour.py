"""A new user's first hour, in headless Chromium through the hub: the starter notebooks open from
the launcher and run on a fresh install; the viewer frames the robot (not the floor), keeps the
eye above the ground, resets its view, pans on right-drag without a context menu, and keeps the
keys pressed over it away from the notebook's shortcuts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from cosim_hub.stack import CoSimStack
from cosim_server.pytest_plugin import VISIBLE_NOTEBOOK as PANEL
from cosim_server.pytest_plugin import lab_login

LAB_TIMEOUT = 120_000
VIEWER = f"{PANEL} .jp-OutputArea .cosim-Viewer"


def _open_starter(page: Any, label: str, shortcut: bool = False) -> None:
    if not page.locator(".jp-Launcher:visible").count():
        if shortcut:
            page.keyboard.press("Control+Shift+L")  # File > New Launcher
        else:
            page.locator(".lm-TabBar-addButton:visible").first.click()
        page.locator(".jp-Launcher:visible").first.wait_for(timeout=30_000)
    page.locator(".jp-Launcher:visible .jp-LauncherCard", has_text=label).first.click()
    page.locator(f"{PANEL} .jp-CodeCell").first.wait_for(timeout=LAB_TIMEOUT)


def _run_code_cell(page: Any) -> None:
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=LAB_TIMEOUT)
    page.locator(f"{PANEL} .jp-CodeCell .cm-content").first.click()
    page.keyboard.press("Shift+Enter")


def _wait_frames(page: Any, selector: str, frames: int = 5) -> Any:
    page.locator(selector).first.wait_for(timeout=90_000)
    page.wait_for_function(
        f"() => Number(document.querySelector({selector!r})?.dataset.frame) > {frames}",
        timeout=90_000,
    )
    return page.locator(selector).first


def _camera(viewer: Any) -> dict[str, Any]:
    state = viewer.evaluate("el => el.cosimCamera()")
    assert state is not None, "the viewer has no scene"
    return state


def _drag(page: Any, box: dict[str, float], dx: float, dy: float, button: str = "left") -> None:
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down(button=button)
    for i in range(1, 11):
        page.mouse.move(x + dx * i / 10, y + dy * i / 10)
    page.mouse.up(button=button)


def _notebook_shape(page: Any) -> list[str]:
    """The visible notebook's cell kinds, in order (a Raw cell would be 'raw')."""
    return page.locator(f"{PANEL} .jp-Cell").evaluate_all(
        "cells => cells.map(c => c.classList.contains('jp-RawCell') ? 'raw' :"
        " c.classList.contains('jp-MarkdownCell') ? 'markdown' : 'code')"
    )


def test_starters_run_and_the_viewer_keeps_its_input(
    cosim_stack: CoSimStack, cosim_browser: Any, cosim_artifacts: Path
) -> None:
    context = cosim_browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    try:
        lab_login(page, cosim_stack, cosim_stack.admin, cosim_stack.admin_password)
        _open_starter(page, "New Sim Notebook")
        _run_code_cell(page)
        viewer = _wait_frames(page, VIEWER)
        canvas = viewer.locator("canvas").first
        first = _camera(viewer)

        # The humanoid fills a real share of the view on the first frame (a floor-sized framing
        # made it a speck of a few percent).
        left, top, right, bottom = first["focusRect"]
        assert bottom - top > 0.35, f"the robot covers {bottom - top:.0%} of the view's height"
        assert 0 <= (left + right) / 2 <= 1 and 0 <= (top + bottom) / 2 <= 1, first["focusRect"]
        page.screenshot(path=str(cosim_artifacts / "first-hour-humanoid.png"))

        # Orbiting down, as far as the mouse goes, stops above the floor.
        box = canvas.bounding_box()
        for dy in (-600, 600, -600):
            _drag(page, box, 0, dy)
            eye = _camera(viewer)
            assert eye["position"][2] >= eye["groundTop"], f"under the floor: {eye}"

        # Reset view (button and double-click) returns to the first framing.
        page.locator(f"{PANEL} .cosim-Viewer-resetView").first.click()
        assert math.dist(_camera(viewer)["position"], first["position"]) < 1e-6
        _drag(page, box, 150, 40)
        assert math.dist(_camera(viewer)["position"], first["position"]) > 1e-3
        canvas.dblclick()
        assert math.dist(_camera(viewer)["position"], first["position"]) < 1e-6

        # Right-drag pans (the target moves) and opens no context menu.
        _drag(page, box, 120, 60, button="right")
        assert math.dist(_camera(viewer)["target"], first["target"]) > 1e-3, "no pan"
        assert page.locator(".lm-Menu:visible").count() == 0, "a context menu opened"

        # Keys over the view stay there: no Raw cell, no cell added, cut or deleted.
        shape = _notebook_shape(page)
        canvas.click()
        for key in ["r", "a", "b", "d", "d", "x", "m"]:
            page.keyboard.press(key)
        page.wait_for_timeout(300)
        assert _notebook_shape(page) == shape
        assert page.locator(VIEWER).count() == 1, "the live viewer left the notebook"
        page.keyboard.press("?")
        assert viewer.locator(".cosim-Viewer-help").is_visible()
        page.screenshot(path=str(cosim_artifacts / "first-hour-viewer-help.png"))

        # Help: the Help menu's CoSim entry, and the status item opening the status page.
        page.locator(".lm-MenuBar-itemLabel", has_text="Help").click()
        page.locator(".lm-Menu-itemLabel", has_text="CoSim Help").click()
        page.locator(".cosim-Help h2", has_text="The live viewer").wait_for(timeout=30_000)
        page.locator(".cosim-StatusItem").click()
        dialog = page.locator(".jp-Dialog", has_text="CoSim Status")
        dialog.locator(".cosim-StatusTable", has_text="up at").wait_for(timeout=30_000)
        dialog.locator(".jp-Dialog-button", has_text="Ok").click()
        # One icon per feature in the left side bar: no two CoSim panels look alike.
        icons = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab").evaluate_all(
            "tabs => tabs.filter(t => (t.dataset.id || '').startsWith('cosim'))"
            ".map(t => t.querySelector('svg')?.outerHTML)"
        )
        assert len(icons) >= 4 and len(set(icons)) == len(icons), icons

        # Chords still reach Lab from the view: Ctrl+Shift+L opens a launcher.
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Untitled.ipynb").click()
        canvas.click()
        # The other starters run too: PyBullet from pybullet_data, and a camera stream.
        _open_starter(page, "PyBullet Arm", shortcut=True)
        _run_code_cell(page)
        _wait_frames(page, VIEWER)
        page.screenshot(path=str(cosim_artifacts / "first-hour-pybullet.png"))
        _open_starter(page, "MuJoCo Camera Stream")
        _run_code_cell(page)
        _wait_frames(page, f"{VIEWER}:has(.cosim-Viewer-pixels:not([hidden]))", frames=2)
        page.screenshot(path=str(cosim_artifacts / "first-hour-camera.png"))
    except Exception:
        page.screenshot(path=str(cosim_artifacts / "failed-first-hour.png"))
        raise
    finally:
        context.close()
