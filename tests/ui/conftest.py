from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    """No in-process Jupyter server here, and Playwright's sync API owns this thread's loop."""


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    """pytest-jupyter's loop would close the loop Playwright is running; UI tests need none."""
