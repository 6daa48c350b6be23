"""Every handler cosim_server registers must refuse a request without Jupyter auth.

The handlers are enumerated from the running server's routing table, so a handler added by a
later feature is covered without touching this test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.websocket import WebSocketHandler, websocket_connect

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _sample_path(pattern: str) -> str:
    """Turn a route regex into a concrete path: each group becomes a harmless sample value."""
    path = pattern.rstrip("$")
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "sample", path)
    path = re.sub(r"\([^)]*\)", "sample", path)
    return path.replace("\\", "")


def _walk(router: Any) -> Iterator[Any]:
    """Rules of a tornado router, descending into nested routers (host-pattern groups)."""
    for rule in getattr(router, "rules", []):
        if isinstance(rule.target, type):
            yield rule
        else:
            yield from _walk(rule.target)


def cosim_routes(serverapp: Any) -> list[tuple[str, type]]:
    return [
        (rule.matcher.regex.pattern, rule.target)
        for rule in _walk(serverapp.web_app.default_router)
        if rule.target.__module__.startswith("cosim_server")
    ]


def test_cosim_registers_handlers(jp_serverapp: Any) -> None:
    names = {h.__name__ for _, h in cosim_routes(jp_serverapp)}
    assert "StatusHandler" in names


async def test_every_handler_rejects_missing_auth(
    jp_serverapp: Any, http_server_client: Any, jp_http_port: int
) -> None:
    # http_server_client makes the server listen; requests carry no token and no cookie.
    routes = cosim_routes(jp_serverapp)
    assert routes, "no cosim_server handlers found"
    client = AsyncHTTPClient()
    checked = 0
    for pattern, handler in routes:
        path = _sample_path(pattern)
        if issubclass(handler, WebSocketHandler):
            with pytest.raises(HTTPClientError) as err:
                await websocket_connect(f"ws://127.0.0.1:{jp_http_port}{path}")
            assert err.value.code in (401, 403), (path, err.value.code)
            checked += 1
            continue
        for method in METHODS:
            resp = await client.fetch(
                f"http://127.0.0.1:{jp_http_port}{path}",
                method=method,
                body=b"{}" if method in ("POST", "PUT", "PATCH") else None,
                raise_error=False,
                follow_redirects=False,
            )
            assert resp.code in (401, 403, 405), (method, path, resp.code)
            if resp.code != 405:
                checked += 1
    assert checked >= len(routes)


async def test_auth_check_can_fail(jp_fetch: Any) -> None:
    """With a token the same endpoint answers, so the test above checks auth, not a 404."""
    resp = await jp_fetch("cosim", "api", "status")
    assert resp.code == 200
