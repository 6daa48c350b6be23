"""The C++ kernel through the whole stack: Lab's launcher card, a cell run in headless Chromium,
and the build endpoint through the hub's proxy with hub auth (user server as its own account)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import requests

from cosim_hub.stack import CoSimStack
from cosim_server.pytest_plugin import VISIBLE_NOTEBOOK as PANEL
from cosim_server.pytest_plugin import lab_login, open_notebook, put_notebook

LAB_TIMEOUT = 120_000
CPP_KERNELSPEC = {"name": "cosim-cpp", "display_name": "C++ (CoSim)", "language": "c++"}
HELLO = """#include <iostream>
int main() {
  for (int i = 1; i <= 3; i++) std::cout << "tick " << i << std::endl;
}"""


def test_launcher_card_and_a_cpp_cell_runs(
    cosim_stack: CoSimStack, cosim_context: Any, cosim_artifacts: Path
) -> None:
    name = put_notebook(cosim_stack, HELLO, prefix="cpp", kernelspec=CPP_KERNELSPEC)
    page = cosim_context.new_page()
    lab_login(page, cosim_stack, cosim_stack.admin, cosim_stack.admin_password)
    card = page.locator(".jp-LauncherCard", has_text="C++ (CoSim)")
    card.first.wait_for(timeout=LAB_TIMEOUT)

    open_notebook(page, cosim_stack, name)
    page.get_by_text("C++ (CoSim) | Idle").wait_for(timeout=LAB_TIMEOUT)
    page.locator(f"{PANEL} .jp-Cell .cm-content").first.click()
    page.keyboard.press("Shift+Enter")
    output = page.locator(f"{PANEL} .jp-OutputArea-output", has_text="tick 3")
    output.first.wait_for(timeout=LAB_TIMEOUT)
    assert "tick 1" in output.first.inner_text()
    page.screenshot(path=str(cosim_artifacts / "lab-cpp-cell.png"))


def put_folder(stack: CoSimStack, files: dict[str, str]) -> tuple[str, Any]:
    """A new folder with ``files`` in the admin's running server: its name and the admin's
    logged-in client (with the server's XSRF cookie)."""
    admin = stack.admin_client()
    admin.spawn()
    admin.open_lab()
    folder = f"cpp-{secrets.token_hex(3)}"
    bodies = [(folder, {"type": "directory"})] + [
        (f"{folder}/{name}", {"type": "file", "format": "text", "content": text})
        for name, text in files.items()
    ]
    for path, body in bodies:
        resp = admin.request("PUT", f"user/{stack.admin}/api/contents/{path}", json=body)
        assert resp.status_code in (200, 201), resp.text
    return folder, admin


def test_build_endpoint_through_the_hub(cosim_stack: CoSimStack) -> None:
    folder, admin = put_folder(cosim_stack, {"main.cpp": HELLO})
    base = f"user/{cosim_stack.admin}"
    started = admin.request("POST", f"{base}/cosim/api/build", json={"path": folder})
    assert started.status_code == 202, started.text
    build_id = started.json()["id"]
    deadline = time.monotonic() + 120
    while True:
        status = admin.request("GET", f"{base}/cosim/api/build/{build_id}").json()
        if status["status"] != "building" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert status["status"] == "succeeded", status
    assert status["binary"] == f"{folder}/.cosim/build/bin/app"

    # Without the hub's cookie the same URL is refused, never answered.
    anonymous = requests.get(
        f"{cosim_stack.url}/{base}/cosim/api/build/{build_id}", allow_redirects=False, timeout=30
    )
    assert anonymous.status_code in (302, 401, 403)
    assert "succeeded" not in anonymous.text


def test_build_panel_builds_the_file_browser_folder_and_runs_it(
    cosim_stack: CoSimStack, cosim_context: Any, cosim_artifacts: Path
) -> None:
    folder, _ = put_folder(cosim_stack, {"main.cpp": HELLO})
    page = cosim_context.new_page()
    lab_login(page, cosim_stack, cosim_stack.admin, cosim_stack.admin_password)
    page.goto(f"{cosim_stack.url}/user/{cosim_stack.admin}/lab/tree/{folder}?reset")
    card = page.locator(".jp-LauncherCard", has_text="Build C++ Folder")
    card.first.click(timeout=LAB_TIMEOUT)
    state = page.locator(".cosim-BuildPanel-state[data-state='succeeded']")
    state.wait_for(timeout=LAB_TIMEOUT)
    assert f"{folder}/.cosim/build/bin/app" in state.inner_text()
    page.locator(".cosim-BuildPanel-run").click()
    page.locator(".cosim-BuildPanel-runOutput", has_text="tick 3").wait_for(timeout=60_000)
    page.locator(".cosim-BuildPanel-state[data-state='finished']").wait_for(timeout=30_000)
    page.screenshot(path=str(cosim_artifacts / "lab-cpp-build-panel.png"))


def test_build_panel_shows_diagnostics(cosim_stack: CoSimStack, cosim_context: Any) -> None:
    folder, _ = put_folder(cosim_stack, {"main.cpp": "int main() {\n  return nope;\n}\n"})
    page = cosim_context.new_page()
    lab_login(page, cosim_stack, cosim_stack.admin, cosim_stack.admin_password)
    page.goto(f"{cosim_stack.url}/user/{cosim_stack.admin}/lab/tree/{folder}?reset")
    page.locator(".jp-LauncherCard", has_text="Build C++ Folder").first.click(timeout=LAB_TIMEOUT)
    page.locator(".cosim-BuildPanel-state[data-state='failed']").wait_for(timeout=LAB_TIMEOUT)
    diagnostic = page.locator(".cosim-BuildPanel-diagnostic.cosim-BuildPanel-error").first
    assert "main.cpp:2:" in diagnostic.inner_text() and "nope" in diagnostic.inner_text()
    run = page.locator(".cosim-BuildPanel-run")
    assert run.is_disabled()
    assert float(run.evaluate("b => getComputedStyle(b).opacity")) < 0.6, "looks enabled"
    # The diagnostic opens the file in Lab's editor with the cursor on its line.
    diagnostic.locator("a.cosim-BuildPanel-where").click()
    page.locator(".jp-FileEditor:visible").first.wait_for(timeout=LAB_TIMEOUT)
    page.locator(".jp-StatusBar-Item", has_text="Ln 2, Col 10").wait_for(timeout=30_000)
