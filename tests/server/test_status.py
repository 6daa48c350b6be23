from __future__ import annotations

import json
import time
from typing import Any

import pytest

from cosim_hub.procs import free_port


async def test_status_reports_redis_up(jp_fetch: Any) -> None:
    resp = await jp_fetch("cosim", "api", "status")
    body = json.loads(resp.body)
    assert body["redis"] == {"reachable": True, "url": body["redis"]["url"], "error": None}
    assert "status" in body["features"]
    assert body["version"]


class TestRedisDown:
    @pytest.fixture
    def jp_server_config(self) -> dict[str, Any]:
        # Nothing listens on this port: Redis is down from the server's point of view.
        return {
            "ServerApp": {"jpserver_extensions": {"cosim_server": True}},
            "CoSimServer": {
                "redis_url": f"redis://:secret@127.0.0.1:{free_port()}/0",
                "redis_timeout": 1.0,
            },
        }

    async def test_status_reports_redis_down_quickly(self, jp_fetch: Any) -> None:
        start = time.monotonic()
        resp = await jp_fetch("cosim", "api", "status")
        body = json.loads(resp.body)
        assert resp.code == 200
        assert body["redis"]["reachable"] is False
        assert "Connection" in body["redis"]["error"]
        assert "secret" not in resp.body.decode(), "the Redis password must never be shown"
        assert time.monotonic() - start < 5


async def test_errors_are_json_without_traceback(jp_fetch: Any) -> None:
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cosim", "api", "status", method="POST", body="{}")
    assert err.value.code == 405
    assert err.value.response is not None
    body = json.loads(err.value.response.body)
    assert set(body) == {"message", "reason"}
    assert "Traceback" not in body["message"]
