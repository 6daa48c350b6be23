"""Headless Chromium: the spawn page's profiles and prices, its refusal, and Lab's spend banner."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from cosim_testing.hub_client import HubClient
from cosim_testing.stack import CoSimStack

LAB_TIMEOUT = 120_000
SERVICE = "services/cosim-costguard"


def _set_cap(stack: CoSimStack, user: str, cap: float) -> None:
    admin = stack.admin_client()
    token = admin.api("POST", "users/admin/tokens", json={"note": "ui test"}).json()["token"]
    resp = requests.put(
        stack.public_url(f"{SERVICE}/api/quotas/user/{user}"),
        json={"spend_cap": cap},
        headers={"Authorization": f"token {token}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text


def _running(client: HubClient) -> bool:
    info = client.api("GET", f"users/{client.user}").json()
    return bool((info.get("servers") or {}).get(""))


def test_spawn_page_refusal_and_spend_banner(
    cosim_guard_stack: CoSimStack, cosim_context: Any, cosim_artifacts: Path
) -> None:
    stack = cosim_guard_stack
    _, password = stack.new_user("uma")
    otto, _ = stack.new_user("otto")
    page = cosim_context.new_page()
    page.goto(f"{stack.url}/hub/login")
    page.fill("input[name=username]", "uma")
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_selector("#spawn_form", timeout=LAB_TIMEOUT)

    # The profiles uma's groups may use, each with its price; gpu-large is research-only.
    rows = page.locator(".cosim-profile")
    names = [rows.nth(i).get_attribute("data-profile") for i in range(rows.count())]
    assert names == ["cpu", "gpu-small", "cpu-idle"]
    assert "$0.36/h" in page.locator(".cosim-profile[data-profile=cpu]").inner_text()
    gpu = page.locator(".cosim-profile[data-profile=gpu-small]")
    assert "GPU small (1 GPU)" in gpu.inner_text() and "$360.00/h" in gpu.inner_text()

    # Someone else holds the cluster's only GPU: the page says so, and refuses with the reason.
    resp = otto.api("POST", "users/otto/server", json={"profile": "gpu-small"})
    assert resp.status_code in (201, 202), resp.text
    try:
        page.goto(f"{stack.url}/hub/spawn")
        assert "Not now: all 1 GPU(s) of the cluster are in use" in gpu.inner_text()
        gpu.locator("input").check()
        page.click("#spawn_form button[type=submit]")
        error = page.locator(".spawn-error-msg")
        error.wait_for(timeout=30_000)
        text = error.inner_text()
        assert "GPU small (1 GPU) cannot start now: all 1 GPU(s) of the cluster are in use" in text
        assert "You may start instead: CPU (1 core, 4 GB) ($0.36/h)" in text
        page.screenshot(path=str(cosim_artifacts / "spawn-refused.png"))
    finally:
        otto.stop()

    # The GPU is free again: start it; Lab shows spend against the cap.
    page.goto(f"{stack.url}/hub/spawn")
    page.locator(".cosim-profile[data-profile=gpu-small] input").check()
    page.click("#spawn_form button[type=submit]")
    page.wait_for_url("**/user/uma/lab**", timeout=LAB_TIMEOUT)
    banner = page.locator("#cosim-cost-banner")
    banner.filter(has_text="GPU server (gpu-small at $360.00/h)").wait_for(timeout=LAB_TIMEOUT)
    assert "of $1000.00 spent this month" in banner.inner_text()
    page.screenshot(path=str(cosim_artifacts / "lab-gpu-banner.png"))

    # Past the cap: a warning with the countdown, then the server stops after the grace period.
    _set_cap(stack, "uma", 0.05)
    warning = page.locator("#cosim-cost-banner.cosim-mod-warning")
    warning.filter(has_text="monthly spend cap is reached").wait_for(timeout=30_000)
    assert "This GPU server stops in" in warning.inner_text()
    assert "your files are kept" in warning.inner_text()
    page.screenshot(path=str(cosim_artifacts / "lab-spend-warning.png"))
    uma = stack.client().login("uma", password)
    deadline = time.monotonic() + 60
    while _running(uma) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _running(uma), "the cost guard did not stop uma's server after the grace period"


def test_admin_sets_a_quota_on_the_usage_page(
    cosim_guard_stack: CoSimStack, cosim_context: Any, cosim_artifacts: Path
) -> None:
    stack = cosim_guard_stack
    page = cosim_context.new_page()
    page.goto(f"{stack.url}/hub/login")
    page.fill("input[name=username]", stack.admin)
    page.fill("input[name=password]", stack.admin_password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()
    page.goto(stack.public_url(f"{SERVICE}/"))
    page.locator("h1", has_text="CoSim usage").wait_for(timeout=60_000)
    assert page.locator("#quotas").is_visible() and page.locator("#spend-users").is_visible()
    form = page.locator("#quota-form")
    form.locator("select[name=kind]").select_option("group")
    form.locator("input[name=name]").fill("research")
    form.locator("input[name=gpu_limit]").fill("3")
    form.locator("input[name=spend_cap]").fill("250")
    form.locator("button[type=submit]").click()
    page.locator("#quota-result", has_text="saved group:research").wait_for(timeout=30_000)
    page.wait_for_load_state()
    row = page.locator("#quotas tr", has_text="group:research")
    row.wait_for(timeout=30_000)
    assert "3" in row.inner_text() and "$250.00" in row.inner_text()
    form = page.locator("#quota-form")
    form.locator("select[name=kind]").select_option("user")
    form.locator("input[name=name]").fill("zed")
    form.locator("input[name=gpu_limit]").fill("-1")
    form.locator("button[type=submit]").click()
    page.locator("#quota-result", has_text="error: gpu_limit must be").wait_for(timeout=30_000)
    page.screenshot(path=str(cosim_artifacts / "costguard-usage-page.png"))
