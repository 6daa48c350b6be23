"""Headless Chromium through the hub's login page into Lab: CoSim is there, and RTC works."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cosim_testing.plugin import lab_login, open_notebook, put_notebook
from cosim_testing.stack import CoSimStack

LAB_TIMEOUT = 120_000


def test_lab_shows_cosim_launcher_and_status(
    cosim_stack: CoSimStack, cosim_context: Any, cosim_artifacts: Path
) -> None:
    page = cosim_context.new_page()
    lab_login(page, cosim_stack, cosim_stack.admin, cosim_stack.admin_password)
    section = page.locator(".jp-Launcher-sectionTitle", has_text="CoSim")
    section.first.wait_for(timeout=LAB_TIMEOUT)
    cards = page.locator(".jp-LauncherCard[data-category='CoSim']")
    assert cards.count() >= 2
    status = page.locator(".cosim-StatusItem[data-redis='up']")
    status.wait_for(timeout=30_000)
    assert "Redis up" in status.inner_text()
    page.screenshot(path=str(cosim_artifacts / "lab-cosim.png"))


def test_two_browsers_share_edits(
    cosim_stack: CoSimStack, cosim_browser: Any, cosim_artifacts: Path
) -> None:
    name = put_notebook(cosim_stack, prefix="rtc")

    contexts = [cosim_browser.new_context(viewport={"width": 1200, "height": 800}) for _ in "ab"]
    try:
        pages = [ctx.new_page() for ctx in contexts]
        for page in pages:
            lab_login(page, cosim_stack, cosim_stack.admin, cosim_stack.admin_password)
        editor_a, editor_b = (open_notebook(p, cosim_stack, name) for p in pages)

        editor_a.click()
        pages[0].keyboard.type("x = 'typed in browser A'")
        editor_b.filter(has_text="typed in browser A").wait_for(timeout=30_000)

        editor_b.click()
        pages[1].keyboard.press("End")
        pages[1].keyboard.type("  # and B")
        editor_a.filter(has_text="# and B").wait_for(timeout=30_000)
        pages[1].screenshot(path=str(cosim_artifacts / "lab-rtc.png"))
    finally:
        for ctx in contexts:
            ctx.close()
