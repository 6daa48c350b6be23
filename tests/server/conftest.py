from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def jp_server_config(cosim_redis_url: str) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"cosim_server": True}},
        "CoSimServer": {"redis_url": cosim_redis_url, "redis_timeout": 1.0},
    }
