"""The CoSim Snapshots side panel in headless Chromium against a real user server: take a
snapshot, see the diff of a later edit, export it, and restore it behind a safety snapshot."""

from __future__ import annotations

import json
import re
import secrets
import tarfile
from pathlib import Path
from typing import Any

from cosim_testing.hub_client import HubClient
from cosim_testing.plugin import lab_login, open_notebook, put_notebook
from cosim_testing.stack import CoSimStack

LAB_TIMEOUT = 120_000
FILE = "snapdemo.txt"
PANEL = "#cosim-snapshots-panel"


def _put_text(admin: HubClient, user: str, path: str, text: str) -> None:
    body = {"type": "file", "format": "text", "content": text}
    resp = admin.request("PUT", f"user/{user}/api/contents/{path}", data=json.dumps(body))
    assert resp.status_code in (200, 201), resp.text[:300]


def _get_text(admin: HubClient, user: str, path: str) -> str:
    resp = admin.request("GET", f"user/{user}/api/contents/{path}?content=1&format=text")
    assert resp.status_code == 200, resp.text[:300]
    return str(resp.json()["content"])


def _snapshots(admin: HubClient, user: str) -> list[dict[str, Any]]:
    resp = admin.request("GET", f"user/{user}/cosim/api/snapshots")
    assert resp.status_code == 200, resp.text[:300]
    return list(resp.json()["snapshots"])


def test_snapshots_panel_snapshot_diff_restore(
    cosim_stack: CoSimStack, cosim_context: Any, cosim_artifacts: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    user = cosim_stack.admin
    admin = cosim_stack.admin_client()
    admin.spawn()
    admin.open_lab()  # the server's own _xsrf cookie, as a browser visit sets it
    _put_text(admin, user, FILE, "v1\n")

    page = cosim_context.new_page()
    lab_login(page, cosim_stack, user, cosim_stack.admin_password)
    page.goto(cosim_stack.public_url(f"user/{user}/lab?reset"))
    page.wait_for_selector("#jp-main-dock-panel", timeout=LAB_TIMEOUT)

    tab = page.locator(".jp-SideBar [data-id='cosim-snapshots-panel']")
    tab.wait_for(timeout=LAB_TIMEOUT)
    assert tab.get_attribute("title") == "CoSim Snapshots"
    tab.click()
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()

    # Take a snapshot from the panel; it heads the list.
    message = f"ui demo {secrets.token_hex(3)}"
    panel.locator(".cosim-Snapshots-message").fill(message)
    panel.locator(".cosim-Snapshots-create").click()
    item = panel.locator(".cosim-Snapshots-item", has_text=message)
    item.wait_for(timeout=60_000)
    expect(panel.locator(".cosim-Snapshots-item").first).to_contain_text(message)
    expect(item).to_have_attribute("data-auto", "false")
    snapshot_id = item.get_attribute("data-snapshot-id")
    assert snapshot_id and snapshot_id in {s["id"] for s in _snapshots(admin, user)}

    # Edit the file behind Lab's back; the diff against the working tree shows the edit.
    _put_text(admin, user, FILE, "v2\n")
    item.locator(".cosim-Snapshots-diff").click()
    diff = page.locator(f".cosim-SnapshotDiff[data-snapshot-id='{snapshot_id}']")
    expect(diff).to_have_attribute("data-state", "loaded", timeout=60_000)
    expect(diff.locator(f".cosim-SnapshotDiff-changed [data-path='{FILE}']")).to_be_visible()
    patch = diff.locator(f".cosim-SnapshotDiff-patch[data-path='{FILE}']")
    expect(patch.locator(".cosim-SnapshotDiff-remove")).to_have_text("-v1\n")
    expect(patch.locator(".cosim-SnapshotDiff-add")).to_have_text("+v2\n")
    expect(diff.locator(".cosim-SnapshotDiff-packages")).to_be_visible()

    # Export: a plain download link through the hub's proxy, with the browser's cookie.
    with page.expect_download(timeout=60_000) as download_info:
        item.locator(".cosim-Snapshots-export").click()
    download = download_info.value
    assert download.suggested_filename == f"cosim-snapshot-{snapshot_id}.tar"
    archive = tmp_path / download.suggested_filename
    download.save_as(archive)
    with tarfile.open(archive) as tar:
        assert "manifest.json" in tar.getnames()

    # Restore: Lab's confirm dialog, then the file is back and a safety snapshot is listed.
    item.locator(".cosim-Snapshots-restore").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Restore snapshot")
    expect(dialog).to_contain_text("a safety snapshot is taken first")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    toast = page.locator(".jp-toast-message", has_text=re.compile("^Restore(d snapshot| failed)"))
    toast.wait_for(timeout=60_000)
    assert toast.inner_text().startswith(f"Restored snapshot {snapshot_id}."), toast.inner_text()

    safety = [
        s for s in _snapshots(admin, user) if s["message"] == f"before restoring {snapshot_id}"
    ]
    assert len(safety) == 1 and safety[0]["auto"] is True
    assert safety[0]["id"] in toast.inner_text()
    auto_item = panel.locator(f".cosim-Snapshots-item[data-snapshot-id='{safety[0]['id']}']")
    expect(auto_item).to_have_attribute("data-auto", "true", timeout=30_000)
    expect(auto_item.locator(".cosim-Snapshots-badge")).to_have_text("auto")
    expect(panel.locator(".cosim-Snapshots-item").first).to_have_attribute(
        "data-snapshot-id", safety[0]["id"]
    )
    assert _get_text(admin, user, FILE) == "v1\n"
    # The open diff reloads after the restore: the file matches the snapshot again.
    expect(diff.locator(f".cosim-SnapshotDiff-file[data-path='{FILE}']")).to_have_count(0)
    page.wait_for_timeout(500)  # the toast's slide-in, for the screenshot only
    page.screenshot(path=str(cosim_artifacts / "lab-snapshots.png"))

    # The restore swapped the workspace's files under the running server: Lab still opens and
    # edits a notebook (file ids, runtime files and RTC all depend on files in the home folder).
    name = put_notebook(cosim_stack, prefix="after-restore")
    open_notebook(page, cosim_stack, name).click()
