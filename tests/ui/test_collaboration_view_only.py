"""A view-only visitor's Lab shows alice's notebook read-only, and says why; Lab's menus, context
menus and file browser offer him nothing that acts; alice makes the share editable and bob edits
the same open notebook without a reload, with those commands back (two different hub users, real
Chromium). What he tried while view-only (collapsing a cell writes its metadata) is not sent
again once he may write. The server refuses a view-only visitor's edits anyway
(tests/hub/test_sharing.py, tests/server/test_lab_writes.py); this is what bob sees."""

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


def _saved_cell(alice: HubClient, name: str) -> dict[str, Any]:
    resp = alice.request("GET", f"user/{alice.user}/api/contents/{name}?content=1")
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["content"]["cells"][0])


def _saved_source(alice: HubClient, name: str) -> str:
    return "".join(_saved_cell(alice, name)["source"])


# Commands that act (disabled for a view-only visitor) and one that only looks (never disabled),
# as Lab's menus name them (Lumino menu items carry data-command).
CELL_ACTS = ["notebook:delete-cell", "notebook:cut-cell", "notebook:paste-cell-below"]
CELL_LOOKS = "notebook:copy-cell"
FILE_ACTS = ["filebrowser:rename", "filebrowser:delete", "filebrowser:duplicate"]
FILE_LOOKS = "filebrowser:download"
MENUS = {"Edit": ["notebook:delete-cell", "editmenu:undo"], "File": ["docmanager:save"],
         "Run": ["runmenu:run"], "Kernel": ["kernelmenu:restart"]}  # fmt: skip


def _menu_items(page: Any, open_menu: Any) -> dict[str, bool]:
    """Open a menu (``open_menu()``) and return each command's "enabled" as the menu shows it."""
    open_menu()
    menu = page.locator(".lm-Menu").last
    menu.wait_for(timeout=10_000)
    items = menu.locator(".lm-Menu-item[data-command]")
    found = {
        str(item.get_attribute("data-command")): item.get_attribute("aria-disabled") != "true"
        for item in items.all()
    }
    page.keyboard.press("Escape")
    menu.wait_for(state="detached", timeout=10_000)
    return found


def _offered(page: Any, name: str) -> dict[str, bool]:
    """What the notebook cell's and the file's context menus and the main menus offer."""
    cell = page.locator(f"{PANEL} .jp-Cell .jp-InputPrompt").first  # not the 3D view: its own
    file = page.locator(f".jp-DirListing-item:has-text('{name}')").first
    offered = _menu_items(page, lambda: cell.click(button="right"))
    offered.update(_menu_items(page, lambda: file.click(button="right")))
    for title in MENUS:
        label = page.locator(".lm-MenuBar-itemLabel", has_text=title).first
        offered.update(_menu_items(page, label.click))
    return offered


def _upload_enabled(page: Any) -> bool:
    """The file browser's upload button (a toolkit web component) as it shows."""
    button = page.locator(".jp-FileBrowser [data-jp-item-name='uploader'] jp-button").first
    return button.get_attribute("disabled") is None


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
    # Lab offers him no command that acts: cell and file context menus, Edit/File/Run/Kernel.
    offered = _offered(page, name)
    acts = CELL_ACTS + FILE_ACTS + [c for commands in MENUS.values() for c in commands]
    assert [c for c in acts if offered.get(c) is not False] == [], offered
    assert offered[CELL_LOOKS] and offered[FILE_LOOKS], offered
    assert not _upload_enabled(page)
    # Collapsing a cell is his own view: Lab would write it into the cell's metadata, which the
    # server drops now and would take from the room's resync once he may write.
    page.locator(f"{PANEL} .jp-Cell .jp-InputCollapser").first.click()
    page.locator(f"{PANEL} .jp-Cell .jp-InputPlaceholder").first.wait_for(timeout=10_000)

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
    # The commands are back, without a reload; the cell shows as the document says.
    page.locator(f"{PANEL} .jp-Cell .jp-InputPlaceholder").wait_for(state="detached")
    offered = _offered(page, name)
    assert [c for c in acts if offered.get(c) is not True] == [], offered
    assert _upload_enabled(page)
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
    # His view-only collapse never reached alice's file, then or at the resync.
    assert "source_hidden" not in json.dumps(_saved_cell(alice, name)["metadata"])

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
