"""OIDC login in headless Chromium: the hub's login page -> the provider's page -> JupyterLab."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cosim_testing.oidc_provider import OIDCProvider, start_oidc_provider, start_oidc_stack
from cosim_testing.stack import CoSimStack, stop_cosim_up

LAB_TIMEOUT = 120_000
USERS = [{"sub": "uma", "preferred_username": "uma", "groups": ["robotics"]}]


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    provider = start_oidc_provider(USERS)
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def stack(provider: OIDCProvider) -> Iterator[CoSimStack]:
    stack = start_oidc_stack(provider)
    yield stack
    survivors = stop_cosim_up(stack)
    shutil.rmtree(stack.state_dir.parent, ignore_errors=True)
    assert survivors == []


def test_oidc_login_flow_into_lab(
    stack: CoSimStack, cosim_context: Any, cosim_artifacts: Path
) -> None:
    from playwright.sync_api import expect

    page = cosim_context.new_page()
    page.goto(f"{stack.url}/hub/login")
    sign_in = page.locator("a", has_text="Sign in with")
    expect(sign_in).to_be_visible(timeout=30_000)
    sign_in.click()
    page.wait_for_url("**/oauth2/authorize**", timeout=30_000)  # the provider's own page
    page.screenshot(path=str(cosim_artifacts / "oidc-provider-page.png"))
    page.fill("input[name=sub]", "uma")
    page.get_by_role("button", name="Authorize").click()
    # Back at the hub, logged in: pick a profile (the default is preselected), then Lab.
    page.wait_for_selector("#spawn_form, #jp-main-dock-panel", timeout=LAB_TIMEOUT)
    if page.locator("#spawn_form").count():
        page.click("#spawn_form button[type=submit]")
    page.wait_for_url("**/user/uma/lab**", timeout=LAB_TIMEOUT)
    page.wait_for_selector("#jp-main-dock-panel", timeout=LAB_TIMEOUT)
    page.screenshot(path=str(cosim_artifacts / "oidc-lab.png"))
    me = page.request.get(f"{stack.url}/hub/api/user").json()
    assert me["name"] == "uma" and "robotics" in me["groups"]
