"""The SLAM template in headless Chromium against a real user server: click its launcher card,
fill the dialog (dataset, sensor, features, frame range), watch frames processed rise in the
Jobs panel, and when it ends see the metrics table and the trajectory and error plots."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cosim_testing.plugin import lab_login
from cosim_testing.stack import CoSimStack

LAB_TIMEOUT = 120_000
PANEL = "#cosim-jobs-panel"


def test_slam_template_from_launcher_to_plot(
    cosim_stack: CoSimStack, cosim_context: Any, cosim_artifacts: Path
) -> None:
    from playwright.sync_api import expect

    user = cosim_stack.admin
    page = cosim_context.new_page()
    lab_login(page, cosim_stack, user, cosim_stack.admin_password)
    page.goto(f"{cosim_stack.url}/user/{user}/lab?reset")
    card = page.locator(".jp-LauncherCard[data-category='CoSim']", has_text="SLAM baseline")
    card.wait_for(timeout=LAB_TIMEOUT)
    card.click()

    form = page.locator(".jp-Dialog .cosim-TemplateForm[data-template='slam-baseline']")
    form.wait_for(timeout=30_000)
    expect(form.locator("input[name=dataset]")).to_have_value("generated")
    expect(form.locator("select[name=sensor]")).to_have_value("rgbd")
    features = form.locator("input[name=n_features]")
    assert features.get_attribute("min") == "100" and features.get_attribute("max") == "10000"
    features.fill("1000")
    form.locator("input[name=last_frame]").fill("300")
    page.locator(".jp-Dialog button", has_text="Start").click()

    panel = page.locator(PANEL)
    expect(panel).to_be_visible(timeout=30_000)
    job = panel.locator(".cosim-Jobs-item[data-job-id*='slam-baseline']").first
    job.wait_for(timeout=60_000)
    job_id = job.get_attribute("data-job-id")
    sel = f"{PANEL} [data-job-id='{job_id}']"
    # The first run renders the generated sequence, then tracks: frames processed rise.
    expect(job).not_to_have_attribute("data-timesteps", "0", timeout=300_000)
    first = int(job.get_attribute("data-timesteps") or 0)
    page.wait_for_function(
        "([sel, n]) => Number(document.querySelector(sel)?.dataset.timesteps) > n",
        arg=[sel, first],
        timeout=120_000,
    )
    expect(job.locator(".cosim-Jobs-stats")).to_contain_text(re.compile(r"/ 300 frames"))
    expect(job.locator(".cosim-Jobs-stats")).to_contain_text(re.compile(r"frames/s.*ATE"))
    page.screenshot(path=str(cosim_artifacts / "lab-slam-running.png"))

    expect(job).to_have_attribute("data-state", "finished", timeout=300_000)
    table = job.locator(".cosim-Slam-metrics")
    expect(table).to_contain_text("ATE RMSE")
    expect(table).to_contain_text("RPE rotation")
    plot = job.locator("img.cosim-Slam-trajectory")
    expect(plot).to_have_attribute("src", re.compile(r"^blob:"), timeout=30_000)
    page.wait_for_function(
        "sel => document.querySelector(sel)?.naturalWidth > 100",
        arg=f"{sel} img.cosim-Slam-trajectory",
        timeout=30_000,
    )
    expect(job.locator("img.cosim-Slam-error")).to_have_attribute("src", re.compile(r"^blob:"))
    ate = re.search(r"ATE RMSE\s*([\d.]+) cm", table.inner_text())
    assert ate and float(ate.group(1)) < 5.0, table.inner_text()
    job.scroll_into_view_if_needed()
    page.screenshot(path=str(cosim_artifacts / "lab-slam.png"))

    job.locator(".cosim-Jobs-delete").click()
    expect(panel.locator(f"[data-job-id='{job_id}']")).to_have_count(0, timeout=30_000)
