"""The CoSim Courses panel in headless Chromium: an instructor releases a folder to the class,
a student submits (through their own server), the instructor collects it from the panel."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from cosim_testing.hub_client import HubClient
from cosim_testing.plugin import lab_login
from cosim_testing.stack import CoSimStack

LAB_TIMEOUT = 120_000
PANEL = "#cosim-courses-panel"


def _put_text(client: HubClient, path: str, text: str) -> None:
    parts = path.split("/")
    for i in range(1, len(parts)):
        client.request("PUT", f"user/{client.user}/api/contents/{'/'.join(parts[:i])}",
                       data=json.dumps({"type": "directory"}))  # fmt: skip
    body = {"type": "file", "format": "text", "content": text}
    resp = client.request("PUT", f"user/{client.user}/api/contents/{path}", data=json.dumps(body))
    assert resp.status_code in (200, 201), resp.text[:300]


def _act(client: HubClient, course: str, assignment: str, action: str) -> None:
    resp = client.request(
        "POST", f"user/{client.user}/cosim/api/courses/{course}/assignments/{assignment}/{action}"
    )
    assert resp.status_code == 200, resp.text[:300]


def test_instructor_panel_release_and_collect(
    cosim_stack: CoSimStack, cosim_context: Any, cosim_artifacts: Path
) -> None:
    from playwright.sync_api import expect

    tag = secrets.token_hex(2)
    ivy, ivy_password = cosim_stack.new_user(f"prof{tag}")
    stu, _ = cosim_stack.new_user(f"kid{tag}")
    course = f"ui{tag}"
    roster = {"id": course, "title": "Robot Lab", "instructors": [ivy.user], "students": [stu.user]}
    assert cosim_stack.admin_client().api("POST", "cosim/courses", json=roster).status_code == 201
    for client in (ivy, stu):
        client.spawn()
        client.open_lab()
    _put_text(ivy, "lab1/sim.ipynb", json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                                  "nbformat_minor": 5}))  # fmt: skip

    page = cosim_context.new_page()
    lab_login(page, cosim_stack, ivy.user, ivy_password)
    page.goto(cosim_stack.public_url(f"user/{ivy.user}/lab?reset"))
    page.wait_for_selector("#jp-main-dock-panel", timeout=LAB_TIMEOUT)
    tab = page.locator(".jp-SideBar [data-id='cosim-courses-panel']")
    tab.wait_for(timeout=LAB_TIMEOUT)
    tab.click()
    section = page.locator(f"{PANEL} section[data-course='{course}']")
    expect(section).to_have_attribute("data-role", "instructor", timeout=30_000)
    expect(section.locator(".cosim-Courses-empty")).to_be_visible()

    section.locator(".cosim-Courses-assignmentName").fill("lab1")
    section.locator("button.cosim-Courses-release").click()
    status = page.locator(f"{PANEL} .cosim-Courses-status")
    expect(status).to_contain_text("Released lab1 (1 files)", timeout=30_000)
    item = section.locator("li[data-assignment='lab1']")
    expect(item.locator(".cosim-Courses-facts")).to_have_text("0 submitted, 0 returned")

    # The student works in their own server (no shared filesystem), then hands in.
    _act(stu, course, "lab1", "fetch")
    _put_text(stu, f"courses/{course}/lab1/answer.py", "K_P = 2.5\n")
    _act(stu, course, "lab1", "submit")

    page.locator(f"{PANEL} button.cosim-Courses-refresh").click()
    expect(item.locator(".cosim-Courses-facts")).to_have_text("1 submitted, 0 returned")
    item.locator("button.cosim-Courses-collect").click()
    expect(status).to_contain_text("Collected 1 submissions of lab1", timeout=30_000)
    resp = ivy.request(
        "GET", f"user/{ivy.user}/api/contents/courses/{course}/collected/lab1/{stu.user}/answer.py"
    )
    assert resp.status_code == 200 and resp.json()["content"] == "K_P = 2.5\n"

    # Errors are shown, not thrown: releasing a folder that does not exist.
    section.locator(".cosim-Courses-assignmentName").fill("nothing-here")
    section.locator("button.cosim-Courses-release").click()
    expect(status).to_contain_text("no folder", timeout=30_000)
    expect(status).to_have_class("cosim-Courses-status cosim-mod-error")
    page.screenshot(path=str(cosim_artifacts / "lab-courses-panel.png"))
