"""A view-only visitor's Lab shows alice's notebook read-only, and says why; alice makes the share
editable and bob edits the same open notebook without a reload (two different hub users, real
Chromium). The server refuses a view-only visitor's edits anyway (tests/hub/test_sharing.py);
this is what bob sees."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

from cosim_testing.hub_client import HubClient
from cosim_testing.plugin import VISIBLE_NOTEBOOK as PANEL
from cosim_testing.plugin import hub_login, open_lab_url, write_notebook
from cosim_testing.sims import fake_sim
from cosim_testing.stack import CoSimStack

LAB_TIMEOUT = 120_000
SOURCE = "print('hello from alice')"


def _notebook(alice: HubClient, sim_id: str) -> str:
    """One code cell whose output is a live viewer of ``sim_id`` (as cosim.viewer leaves it)."""
    viewer = {"output_type": "display_data", "metadata": {},
              "data": {"application/vnd.cosim.viewer+json": {"sim_id": sim_id, "title": "shared"},
                       "text/plain": "viewer"}}  # fmt: skip
    return write_notebook(alice, SOURCE, "view", outputs=[viewer])


def _share(alice: HubClient, visitor: str, view_only: bool) -> None:
    body = json.dumps({"user": visitor, "view_only": view_only})
    resp = alice.request("POST", f"user/{alice.user}/cosim/api/shares", data=body)
    assert resp.status_code == 200, resp.text


def _saved_source(alice: HubClient, name: str) -> str:
    resp = alice.request("GET", f"user/{alice.user}/api/contents/{name}?content=1")
    assert resp.status_code == 200, resp.text
    return "".join(resp.json()["content"]["cells"][0]["source"])


def test_view_only_visitor_sees_a_read_only_notebook_until_made_an_editor(
    cosim_stack: CoSimStack, cosim_context: Any, cosim_artifacts: Path
) -> None:
    tag = secrets.token_hex(2)
    alice, _ = cosim_stack.new_user(f"alice{tag}")
    bob, bob_pw = cosim_stack.new_user(f"bob{tag}")
    a, b = str(alice.user), str(bob.user)
    alice.spawn()
    alice.open_lab()
    home = cosim_stack.state_dir / "users" / a
    name = _notebook(alice, fake_sim(cosim_stack, a, control=home / f"{tag}-control.json"))
    _share(alice, b, view_only=True)

    page = cosim_context.new_page()
    hub_login(page, cosim_stack, b, bob_pw)
    open_lab_url(page, f"{cosim_stack.url}/user/{a}/lab/tree/{name}?reset", LAB_TIMEOUT)
    editor = page.locator(f"{PANEL} .jp-Cell .cm-content").first
    editor.wait_for(timeout=LAB_TIMEOUT)
    # bob sees why: the notebook's toolbar says "View only", with the server's reason.
    badge = page.locator(f"{PANEL} .cosim-ViewOnly-badge")
    badge.wait_for(timeout=30_000)
    why = str(badge.get_attribute("title"))
    assert "view-only" in why and a in why, why
    page.get_by_text(SOURCE).first.wait_for(timeout=30_000)

    # He cannot type into the cell, nor add one with the notebook's own keys.
    dialogs = page.locator(".jp-Dialog")
    if dialogs.count():
        raise AssertionError(dialogs.first.inner_text())
    editor.click()
    page.keyboard.type("BOB")
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    assert "BOB" not in editor.inner_text()
    assert page.locator(f"{PANEL} .jp-Cell").count() == 1
    assert editor.get_attribute("aria-readonly") == "true"
    # The sim's control row is there, disabled, saying "view only".
    control = page.locator(f"{PANEL} .cosim-Control")
    control.and_(page.locator("[data-access='view-only']")).wait_for(timeout=30_000)
    assert control.locator(".cosim-Control-viewOnly").is_visible()
    assert control.locator(".cosim-Control-pauseRun").is_disabled()
    stop = page.locator(f"{PANEL} .cosim-Viewer-stop")
    assert stop.is_disabled()

    # alice makes the share editable: bob's open notebook turns editable, no reload.
    _share(alice, b, view_only=False)
    badge.wait_for(state="detached", timeout=30_000)
    page.wait_for_function(
        f"() => document.querySelector('{PANEL} .jp-Cell .cm-content')"
        "?.getAttribute('aria-readonly') !== 'true'",
        timeout=30_000,
    )
    control.and_(page.locator("[data-access='write']")).wait_for(timeout=30_000)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)  # his kernel now
    assert control.locator(".cosim-Control-pauseRun").is_enabled()
    assert stop.is_enabled()
    assert not control.locator(".cosim-Control-viewOnly").is_visible()
    editor.click()
    page.keyboard.press("End")
    page.keyboard.type("  # BOB")
    assert "# BOB" in editor.inner_text()
    # The server took his edit: the room saved it to alice's file.
    deadline = time.monotonic() + 30
    while "# BOB" not in _saved_source(alice, name):
        assert time.monotonic() < deadline, _saved_source(alice, name)
        time.sleep(0.2)
    assert _saved_source(alice, name).startswith(SOURCE)

    # Made view-only again: the open notebook turns read-only again, still without a reload.
    _share(alice, b, view_only=True)
    badge.wait_for(timeout=30_000)
    page.wait_for_function(
        f"() => document.querySelector('{PANEL} .jp-Cell .cm-content')"
        "?.getAttribute('aria-readonly') === 'true'",
        timeout=30_000,
    )
    control.and_(page.locator("[data-access='view-only']")).wait_for(timeout=30_000)
    # The kernel his editor share gave him is let go (not retried against the server's 403).
    page.get_by_text("No Kernel").first.wait_for(timeout=30_000)
    editor.click()
    page.keyboard.type("AGAIN")
    assert "AGAIN" not in editor.inner_text()
    page.screenshot(path=str(cosim_artifacts / "collab-view-only.png"))
