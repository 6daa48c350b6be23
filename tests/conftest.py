"""CoSim's test suite: every test drives real parts.

Fixtures (from ``cosim_testing.plugin``, the test harness in tests/cosim_testing, unless noted):

- ``cosim_redis`` / ``cosim_redis_url``: a real redis-server (session) and a flushed DB per test.
- ``cosim_stack``: ``cosim up`` (redis + JupyterHub + proxy) in a temp state dir, one per session;
  ``.admin_client()`` and ``.new_user(name)`` return logged-in ``HubClient`` objects.
- ``cosim_guard_stack``: a second ``cosim up`` with test profiles and a fast cost-guard clock
  (1 s meter intervals, 12 s grace, one cluster GPU at $0.10 per second).
- ``cosim_browser`` / ``cosim_context``: headless Debian Chromium via Playwright;
  ``lab_login(page, stack, name, password)`` logs in through the hub page and waits for Lab.
- ``cosim_artifacts``: where screenshots go (tests/artifacts, or $COSIM_TEST_ARTIFACTS).
- ``jp_*`` (pytest-jupyter): an in-process Jupyter server; tests/server/conftest.py loads
  ``cosim_server`` into it.
"""

import os

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server", "cosim_testing.plugin"]


# `make test` runs the files on two pytest-xdist workers, handing out whole files in collection
# order. Browser files go last: Playwright's sync API keeps an event loop running in the worker's
# thread for the rest of the session, and a later test that calls asyncio.run (or starts
# pytest-jupyter's loop) in that worker would fail.
def _browser_last(item: pytest.Item) -> int:
    return 1 if f"{os.sep}tests{os.sep}ui{os.sep}" in str(item.path) else 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_browser_last)  # stable: every file keeps its place and its own order
