"""Fixtures that start CoSim's real parts, for CoSim's own tests and for extensions of it.

Loaded by tests/conftest.py (``pytest_plugins``).

- ``cosim_redis`` (session): a real ``redis-server`` on a free port; ``cosim_redis_url`` gives a
  flushed database per test.
- ``cosim_stack`` (session): the whole ``cosim up`` stack (redis, hub, proxy; user servers on
  demand) in a temp state dir, torn down with a check that no process survives. It declares one
  dataset, ``STACK_DATASET`` (folder: ``stack_dataset(stack.state_dir)``, empty until filled).
- ``cosim_guard_stack`` (session): another ``cosim up`` with the cost guard on a fast clock.
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
from cosim_testing.stack import (
    CoSimStack,
    cosim_up_command,
    make_state_dir,
    start_cosim_up,
    stop_cosim_up,
)

from .hub_client import HubClient, resolve_localhost_subdomains

# Stacks serve <user>.cosim.localhost (one origin per user server): every test resolves those
# names to loopback as a browser does, whichever client (requests, urllib, redis) it uses.
resolve_localhost_subdomains()

__all__ = [
    "STACK_DATASET", "CoSimStack", "cosim_up_command", "lab_login", "make_state_dir",
    "stack_dataset",
]  # fmt: skip

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

STACK_DATASET = "shared-seq"  # the dataset ``cosim_stack`` declares


def stack_dataset(state_dir: Path) -> Path:
    """The folder behind ``cosim_stack``'s dataset (next to its state dir, root's)."""
    return state_dir.parent / "datasets" / STACK_DATASET


@pytest.fixture(scope="session")
def cosim_stack() -> Iterator[CoSimStack]:
    state_dir = make_state_dir()
    # One admin dataset (empty until a test fills it), read-only in every user server.
    dataset = stack_dataset(state_dir)
    dataset.mkdir(parents=True, mode=0o755)
    config = f"c.CoSimHub.datasets = {{{STACK_DATASET!r}: {str(dataset)!r}}}\n"
    # A server takes 20-30 s to answer on 2 loaded cores: the hub's 30 s default failed spawns.
    config += "c.Spawner.http_timeout = 120\nc.Spawner.start_timeout = 180\n"
    stack = start_cosim_up(state_dir, extra_config=config)
    yield stack
    survivors = stop_cosim_up(stack)
    shutil.rmtree(state_dir.parent, ignore_errors=True)
    assert stack.proc.returncode == 0, "".join(stack.output)
    assert survivors == [], f"processes outlived cosim up: {survivors}"


# ---- cost guard --------------------------------------------------------------------------

# Prices and intervals that make caps, grace periods and culls happen within seconds.
GUARD_TEST_PROFILES = """
[[profile]]
name = "cpu"
display_name = "CPU (1 core, 4 GB)"
cpu_request = 0.5
cpu_limit = 1
mem_limit = "4G"
price_per_hour = 0.36
default = true

[[profile]]
name = "gpu-small"
display_name = "GPU small (1 GPU)"
mem_limit = "8G"
gpus = 1
price_per_hour = 360.0

[[profile]]
name = "gpu-large"
display_name = "GPU large (2 GPUs)"
gpus = 2
price_per_hour = 720.0
groups = ["research"]

[[profile]]
name = "cpu-idle"
display_name = "CPU, culled when idle"
price_per_hour = 0.36
idle_timeout = 10
"""

GUARD_TEST_CONFIG = """
c.CoSimHub.profiles_file = {profiles!r}
c.CoSimCostGuard.meter_interval = 1.0
# Longer than two of Lab banner's 5 s polls: the UI test must see the warning before the stop.
c.CoSimCostGuard.grace_period = 12.0
c.CoSimCostGuard.cull_warning = 8.0
c.CoSimCostGuard.cluster_gpu_limit = 1
c.CoSimGpus.declared = ["0", "1"]
c.CoSimCostGuard.default_user_spend_cap = 1000.0
# Only the servers' own activity counts (not requests through the proxy), so culls are exact;
# servers report it every 2 s instead of 5 min.
c.JupyterHub.last_activity_interval = 3600
c.Spawner.environment = {{"JUPYTERHUB_ACTIVITY_INTERVAL": "2"}}
"""


@pytest.fixture(scope="session")
def cosim_guard_stack() -> Iterator[CoSimStack]:
    """A second ``cosim up`` whose cost guard runs on a fast clock: 1 s meter intervals, a 12 s
    grace period, one GPU in the cluster, and profiles priced at $0.10 per GPU-second."""
    state_dir = make_state_dir("cosim-guard-test-")
    profiles = state_dir.parent / "profiles.toml"
    profiles.write_text(GUARD_TEST_PROFILES)
    os.chmod(profiles, 0o644)
    stack = start_cosim_up(state_dir, extra_config=GUARD_TEST_CONFIG.format(profiles=str(profiles)))
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


# One Chromium per test module, not per session: Playwright's sync API marks its event loop as
# running in this thread between calls until it stops, and under pytest-xdist a worker runs other
# files after a browser file (an asyncio.run there would fail). Stopping it at the module's end
# clears that, for one Chromium start per UI file.
@pytest.fixture(scope="module")
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


def hub_login(page: Any, stack: CoSimStack, name: str, password: str) -> None:
    """Log in through the hub's login page, and nothing more (no server is started)."""
    page.goto(f"{stack.url}/hub/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()


def open_lab_url(page: Any, url: str, timeout: float = 120_000) -> None:
    """Open a Lab URL, maybe on someone else's server: a visitor confirms the hub's "Authorize
    access" page once, then Lab's main area appears."""
    page.goto(url)
    page.wait_for_function(
        "() => location.href.includes('oauth2/authorize') || "
        "document.querySelector('#jp-main-dock-panel')",
        timeout=timeout,
    )
    if "oauth2/authorize" in page.url:
        page.locator("form [type=submit]").first.click()
    page.wait_for_selector("#jp-main-dock-panel", timeout=timeout)


def lab_login(page: Any, stack: CoSimStack, name: str, password: str) -> None:
    """Log in through the hub's login page and wait until JupyterLab has started."""
    page.goto(f"{stack.url}/hub/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    # A user without a running server picks a profile first; the default is preselected.
    page.wait_for_selector("#spawn_form, #jp-main-dock-panel", timeout=120_000)
    if page.locator("#spawn_form").count():
        page.click("#spawn_form button[type=submit]")
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
    return write_notebook(admin, source, prefix, kernelspec)


def write_notebook(
    client: HubClient,
    source: str = "",
    prefix: str = "nb",
    kernelspec: dict[str, str] | None = None,
    outputs: list[dict[str, Any]] | None = None,
) -> str:
    """A one-cell notebook in ``client``'s own running server, through the Contents API;
    ``outputs`` as if the cell had run. Returns its name."""
    name = f"{prefix}-{secrets.token_hex(3)}.ipynb"
    cell: dict[str, Any] = {"cell_type": "code", "source": source, "metadata": {},
                            "outputs": outputs or [],
                            "execution_count": 1 if outputs else None}  # fmt: skip
    kernelspec = kernelspec or {"name": "python3", "display_name": "Python 3", "language": "python"}
    content = {"cells": [cell], "metadata": {"kernelspec": kernelspec}, "nbformat": 4,
               "nbformat_minor": 5}  # fmt: skip
    resp = client.request(
        "PUT",
        f"user/{client.user}/api/contents/{name}",
        data=json.dumps({"type": "notebook", "format": "json", "content": content}),
    )
    if resp.status_code not in (200, 201):
        raise RuntimeError(f"could not create {name}: {resp.status_code} {resp.text[:200]}")
    return name


def open_notebook(page: Any, stack: CoSimStack, name: str) -> Any:
    """Open ``name`` in Lab and return the locator of its first cell's editor."""
    page.goto(stack.public_url(f"user/{stack.admin}/lab/tree/{name}?reset"))
    editor = page.locator(f"{VISIBLE_NOTEBOOK} .jp-Cell .cm-content").first
    editor.wait_for(timeout=120_000)
    return editor
