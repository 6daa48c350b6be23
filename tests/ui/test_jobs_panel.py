"""The CoSim Jobs UI in headless Chromium against a real user server: click a template's
launcher card, fill its parameter dialog, watch the job's step count rise in the Jobs panel,
close the browser and find it still running from a new one, open its TensorBoard in a Lab tab,
stop it, and watch its policy in the live viewer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cosim_testing.plugin import lab_login
from cosim_testing.stack import CoSimStack

LAB_TIMEOUT = 120_000
PANEL = "#cosim-jobs-panel"


def _steps(card: Any) -> int:
    return int(card.get_attribute("data-timesteps") or 0)


def test_launcher_card_dialog_job_in_panel(
    cosim_stack: CoSimStack, cosim_context: Any, cosim_browser: Any, cosim_artifacts: Path
) -> None:
    from playwright.sync_api import expect

    user = cosim_stack.admin
    page = cosim_context.new_page()
    lab_login(page, cosim_stack, user, cosim_stack.admin_password)
    page.goto(cosim_stack.public_url(f"user/{user}/lab?reset"))
    card = page.locator(".jp-LauncherCard[data-category='CoSim']", has_text="MuJoCo PPO")
    card.wait_for(timeout=LAB_TIMEOUT)
    card.click()

    form = page.locator(".jp-Dialog .cosim-TemplateForm[data-template='mujoco-ppo']")
    form.wait_for(timeout=30_000)
    expect(form.locator("select[name=env]")).to_have_value("InvertedPendulum-v5")
    n_envs = form.locator("input[name=n_envs]")
    assert n_envs.get_attribute("min") == "1" and n_envs.get_attribute("max") == "64"
    form.locator("input[name=total_timesteps]").fill("200000")
    n_envs.fill("1")
    form.locator("input[name=n_steps]").fill("256")
    form.locator("input[name=learning_rate]").fill("0.0005")
    page.locator(".jp-Dialog button", has_text="Start").click()

    # The panel opens with the new job; its step count rises while it runs.
    panel = page.locator(PANEL)
    expect(panel).to_be_visible(timeout=30_000)
    running = panel.locator(".cosim-Jobs-item[data-state='running']").first
    running.wait_for(timeout=60_000)
    job_id = running.get_attribute("data-job-id")
    assert job_id and "mujoco-ppo" in job_id
    job = panel.locator(f".cosim-Jobs-item[data-job-id='{job_id}']")
    expect(job).not_to_have_attribute("data-timesteps", "0", timeout=90_000)
    first = _steps(job)
    page.wait_for_function(
        "([sel, n]) => Number(document.querySelector(sel)?.dataset.timesteps) > n",
        arg=[f"{PANEL} [data-job-id='{job_id}']", first],
        timeout=60_000,
    )
    assert _steps(job) > first
    expect(job.locator(".cosim-Jobs-stats")).to_contain_text(re.compile(r"steps/s.*ETA"))
    expect(job.locator(".cosim-Jobs-log")).to_contain_text("steps")
    page.screenshot(path=str(cosim_artifacts / "lab-jobs.png"))

    # Close the browser; a new one (new login) finds the job still running, further along.
    seen = _steps(job)
    cosim_context.close()
    context = cosim_browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    lab_login(page, cosim_stack, user, cosim_stack.admin_password)
    page.goto(cosim_stack.public_url(f"user/{user}/lab?reset"))  # panels closed, then open Jobs
    page.locator(".jp-LauncherCard[data-category='CoSim']").first.wait_for(timeout=LAB_TIMEOUT)
    page.locator(".jp-SideBar [data-id='cosim-jobs-panel']").click()
    panel = page.locator(PANEL)
    job = panel.locator(f".cosim-Jobs-item[data-job-id='{job_id}']")
    expect(job).to_have_attribute("data-state", "running", timeout=60_000)
    page.wait_for_function(
        "([sel, n]) => Number(document.querySelector(sel)?.dataset.timesteps) > n",
        arg=[f"{PANEL} [data-job-id='{job_id}']", seen],
        timeout=60_000,
    )

    # TensorBoard opens in a Lab tab, served through the authenticated proxy.
    job.locator(".cosim-Jobs-tensorboard").click()
    frame = page.locator(".cosim-TensorBoard iframe")
    frame.wait_for(timeout=60_000)
    src = frame.get_attribute("src") or ""
    assert src.endswith(f"/user/{user}/cosim/tensorboard/{job_id}/"), src
    # Fetched by the page itself: Chromium resolves *.localhost (the user's own origin), Node's
    # request context does not.
    url = cosim_stack.public_url(src) if src.startswith("/") else src
    status, body = page.evaluate(
        "async u => { const r = await fetch(u); return [r.status, await r.text()]; }", url
    )
    assert status == 200 and "tb-relative-root" in body

    # Stop from the panel: the job saves a checkpoint and ends as stopped, resumable.
    job.locator(".cosim-Jobs-stop").click()
    expect(job).to_have_attribute("data-state", "stopped", timeout=60_000)
    expect(job.locator(".cosim-Jobs-resume")).to_be_visible()

    # Watch the policy: the latest checkpoint plays in a live viewer tab.
    job.locator(".cosim-Jobs-watch").click()
    viewer = page.locator(".jp-MainAreaWidget .cosim-Viewer").first
    viewer.wait_for(timeout=60_000)
    assert viewer.get_attribute("data-sim-id")
    page.screenshot(path=str(cosim_artifacts / "lab-jobs-watch.png"))
    job.locator(".cosim-Jobs-delete").click()
    expect(panel.locator(f"[data-job-id='{job_id}']")).to_have_count(0, timeout=30_000)

    # Leave the launcher-only workspace later tests expect (Lab restores open tabs).
    for title in ("TensorBoard", "policy"):
        tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=title)
        tab.locator(".lm-TabBar-tabCloseIcon").click()
        expect(tab).to_have_count(0)
    page.goto(cosim_stack.public_url(f"user/{user}/lab?reset"))
    page.locator(".jp-LauncherCard[data-category='CoSim']").first.wait_for(timeout=LAB_TIMEOUT)
    context.close()
