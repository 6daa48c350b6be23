"""Fixtures that start CoSim's real parts, for CoSim's own tests and for extensions of it.

Loaded with ``-p cosim_server.pytest_plugin`` (CoSim's pytest config does this).

- ``cosim_redis`` (session): a real ``redis-server`` on a free port; ``cosim_redis_url`` gives a
  flushed database per test.
- ``cosim_stack`` (session): the whole ``cosim up`` stack (redis, hub, proxy; user servers on
  demand) in a temp state dir, torn down with a check that no process survives.
- ``cosim_browser`` (session) + ``cosim_context``: headless Debian Chromium through Playwright.
- ``cosim_artifacts``: a folder for screenshots and other files a test leaves for people.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cosim_hub.redis_server import RedisServer
from cosim_hub.stack import (
    CoSimStack,
    cosim_up_command,
    make_state_dir,
    start_cosim_up,
    stop_cosim_up,
)

__all__ = ["CoSimStack", "cosim_up_command", "lab_login", "make_state_dir"]

# ---- Redis -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cosim_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), persist=False).start()
    yield server
    server.stop()


@pytest.fixture
def cosim_redis_url(cosim_redis: RedisServer) -> str:
    import redis

    client = redis.Redis.from_url(cosim_redis.url)
    client.flushall()
    client.close()
    return cosim_redis.url


# ---- cosim up ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cosim_stack() -> Iterator[CoSimStack]:
    state_dir = make_state_dir()
    stack = start_cosim_up(state_dir)
    yield stack
    survivors = stop_cosim_up(stack)
    shutil.rmtree(state_dir.parent, ignore_errors=True)
    assert stack.proc.returncode == 0, "".join(stack.output)
    assert survivors == [], f"processes outlived cosim up: {survivors}"


# ---- browser -----------------------------------------------------------------------------

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def cosim_browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed; `make test` installs it")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def cosim_context(cosim_browser: Any) -> Iterator[Any]:
    """A fresh browser context (own cookies) per test; more with ``cosim_browser.new_context``."""
    context = cosim_browser.new_context(viewport={"width": 1400, "height": 900})
    yield context
    context.close()


@pytest.fixture(scope="session")
def cosim_artifacts(pytestconfig: pytest.Config) -> Path:
    path = Path(os.environ.get("COSIM_TEST_ARTIFACTS", pytestconfig.rootpath / "tests/artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def lab_login(page: Any, stack: CoSimStack, name: str, password: str) -> None:
    """Log in through the hub's login page and wait until JupyterLab has started."""
    page.goto(f"{stack.url}/hub/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(f"**/user/{name}/lab**", timeout=120_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)


# A fresh workspace (?reset) so Lab restores no earlier tab beside the notebook a test opens.
VISIBLE_NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def put_notebook(
    stack: CoSimStack,
    source: str = "",
    prefix: str = "nb",
    kernelspec: dict[str, str] | None = None,
) -> str:
    """Create a one-cell notebook (Python unless ``kernelspec`` says otherwise) in the admin's
    (running) server; returns its name."""

    admin = stack.admin_client()
    admin.spawn()
    admin.open_lab()  # sets the server's own _xsrf cookie, as a browser visit does
    name = f"{prefix}-{secrets.token_hex(3)}.ipynb"
    cell: dict[str, Any] = {"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
            "execution_count": None}  # fmt: skip
    kernelspec = kernelspec or {"name": "python3", "display_name": "Python 3", "language": "python"}
    content = {"cells": [cell], "metadata": {"kernelspec": kernelspec}, "nbformat": 4,
               "nbformat_minor": 5}  # fmt: skip
    resp = admin.request(
        "PUT",
        f"user/{stack.admin}/api/contents/{name}",
        data=json.dumps({"type": "notebook", "format": "json", "content": content}),
    )
    if resp.status_code not in (200, 201):
        raise RuntimeError(f"could not create {name}: {resp.status_code} {resp.text[:200]}")
    return name


def open_notebook(page: Any, stack: CoSimStack, name: str) -> Any:
    """Open ``name`` in Lab and return the locator of its first cell's editor."""
    page.goto(f"{stack.url}/user/{stack.admin}/lab/tree/{name}?reset")
    editor = page.locator(f"{VISIBLE_NOTEBOOK} .jp-Cell .cm-content").first
    editor.wait_for(timeout=120_000)
    return editor
