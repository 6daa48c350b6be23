"""Every handler cosim_server registers refuses, by CoSim's own check, what the caller may not do.

The handlers come from the running server's routing table (and the extension's own handler
list), so an endpoint added later is covered without touching this test. Each request that
writes carries a valid XSRF pair (cookie + header), so Jupyter's XSRF check lets it through and
the refusal seen is CoSim's: its message is asserted, not just "some 401/403".

The server runs with ``ReadOnlyAuthorizer``, a real async authorizer (jupyter_server allows
``is_authorized`` to be a coroutine): it grants "read" and refuses "write" until a test turns
writes on. ``test_removing_any_check_is_caught`` removes each handler's check in turn and shows
that the enumeration then fails.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis
from jupyter_server.auth.authorizer import Authorizer
from test_viewer_relay import PublishedSim
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from tornado.simple_httpclient import HTTPStreamClosedError
from tornado.web import RequestHandler
from tornado.websocket import WebSocketHandler, websocket_connect

from cosim_server.base import action_for
from cosim_testing.routing import router_rules, sample_path

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
NO_AUTH = "authentication required"


class ReadOnlyAuthorizer(Authorizer):
    """Async authorizer of a read-only share: "read" yes, "write" only while ``writes`` is on."""

    writes = False

    async def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return action == "read" or ReadOnlyAuthorizer.writes


@pytest.fixture
def jp_server_config(cosim_redis_url: str) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"cosim_server": True},
            "authorizer_class": ReadOnlyAuthorizer,
        },
        "CoSimServer": {"redis_url": cosim_redis_url, "redis_timeout": 1.0},
    }


@pytest.fixture(autouse=True)
def read_only() -> Iterator[None]:
    ReadOnlyAuthorizer.writes = False
    yield
    ReadOnlyAuthorizer.writes = False


def cosim_routes(serverapp: Any) -> list[tuple[str, type]]:
    """(pattern, handler) of every route the cosim_server extension put in the routing table."""
    registered: set[type] = set()
    for ext in serverapp.extension_manager.extension_apps.get("cosim_server", set()):
        registered.update(spec[1] for spec in ext.handlers)
    # user_content only narrows jupyter-server-proxy's own routes (closed ports, sandboxed
    # content; tests/ui/test_cross_user_origin.py): they take host:port paths this probe's
    # sample paths do not make, and jupyter-server-proxy's own auth applies to them.
    return [
        (rule.matcher.regex.pattern, rule.target)
        for rule in router_rules(serverapp.web_app.default_router)
        if (rule.target in registered or rule.target.__module__.startswith("cosim_server"))
        and rule.target.__module__ != "cosim_server.user_content"
    ]


@dataclass
class Probe:
    """Sends requests to the test server: with the token or with nothing, always an XSRF pair."""

    port: int
    token_header: dict[str, str]

    async def send(self, method: str, path: str, *, auth: bool, upgrade: bool = False) -> Any:
        xsrf = secrets.token_hex(16)
        headers = {"Cookie": f"_xsrf={xsrf}", "X-XSRFToken": xsrf}
        if auth:
            headers.update(self.token_header)
        if upgrade:
            return await self._upgrade(path, headers)
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        request = HTTPRequest(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            headers=headers,
            body=body,
            follow_redirects=False,
            allow_nonstandard_methods=True,
        )
        return await AsyncHTTPClient().fetch(request, raise_error=False)

    async def _upgrade(self, path: str, headers: dict[str, str]) -> Any:
        """A WebSocket handshake: a refusal comes back with its body; an accepted socket (one
        that stays open too) is closed at once and reads as 101."""
        request = HTTPRequest(f"ws://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            ws = await websocket_connect(request)
        except HTTPClientError as err:
            if err.response is None:
                raise
            return err.response
        except HTTPStreamClosedError:  # upgraded, then closed by the server
            return HTTPResponse(request, 101)
        ws.close()
        return HTTPResponse(request, 101)


def _refusal(resp: Any) -> str | None:
    """CoSim's refusal message of a 403 answer, else None."""
    if resp.code != 403:
        return None
    try:
        return str(json.loads(resp.body)["message"])
    except (ValueError, KeyError, TypeError):
        return None


def socket_only(handler: type) -> bool:
    """A WebSocket that serves no plain HTTP verb (a proxy handler serves both)."""
    return issubclass(handler, WebSocketHandler) and all(
        getattr(handler, m.lower()) is getattr(RequestHandler, m.lower()) for m in METHODS[1:]
    )


def probes(handler: type) -> list[tuple[str, str, bool]]:
    """(verb, permission it needs, as a WebSocket upgrade) to try on a handler."""
    reads = getattr(handler, "every_verb_reads", False)  # a read-only upstream (TensorBoard)
    checks = (
        []
        if socket_only(handler)
        else [(m, "read" if reads else action_for(m), False) for m in METHODS]
    )
    if issubclass(handler, WebSocketHandler):
        checks.append(("GET", getattr(handler, "action", action_for("GET")), True))
    return checks


async def auth_problems(probe: Probe, routes: list[tuple[str, type]]) -> list[str]:
    """Every (verb, path) where CoSim's own check did not refuse what it must refuse."""
    problems = []
    for pattern, handler in routes:
        path = sample_path(pattern)
        resource = getattr(handler, "auth_resource", "cosim")
        for method, action, upgrade in probes(handler):
            where = f"{method}{' upgrade' * upgrade} {path} ({handler.__name__})"
            anonymous = await probe.send(method, path, auth=False, upgrade=upgrade)
            if _refusal(anonymous) != NO_AUTH:
                problems.append(f"{where} without auth: {anonymous.code} {anonymous.body[:80]!r}")
            reader = await probe.send(method, path, auth=True, upgrade=upgrade)
            denied = f"not allowed to write {resource}"
            if action == "write" and _refusal(reader) != denied:
                problems.append(f"{where} read-only: {reader.code} {reader.body[:80]!r}")
            if action == "read" and _refusal(reader) is not None:
                problems.append(f"{where} read-only refused a read: {reader.body[:80]!r}")
    return problems


@pytest.fixture
def probe(jp_http_port: int, jp_auth_header: dict[str, str], http_server_client: Any) -> Probe:
    # http_server_client makes the server listen.
    return Probe(jp_http_port, jp_auth_header)


def test_cosim_registers_handlers(jp_serverapp: Any) -> None:
    names = {h.__name__ for _, h in cosim_routes(jp_serverapp)}
    assert {"StatusHandler", "BuildsHandler", "SimWebSocket", "BuildRunHandler"} <= names


async def test_every_handler_refuses_by_cosims_check(jp_serverapp: Any, probe: Probe) -> None:
    routes = cosim_routes(jp_serverapp)
    assert len(routes) >= 20, routes
    problems = await auth_problems(probe, routes)
    assert problems == [], "\n".join(problems)


async def test_writers_get_past_the_check(jp_serverapp: Any, probe: Probe) -> None:
    """With "write" granted the same requests are not refused by CoSim: the refusals above come
    from the missing permission, not from a broken route."""
    ReadOnlyAuthorizer.writes = True
    for pattern, handler in cosim_routes(jp_serverapp):
        for method, _, upgrade in probes(handler):
            resp = await probe.send(method, sample_path(pattern), auth=True, upgrade=upgrade)
            if getattr(handler, "refuses_every_caller", False) and action_for(method) == "write":
                # Past the check, it gives its own reason, not the permission's.
                refusal = _refusal(resp)
                assert refusal and "not allowed to" not in refusal, (method, pattern, resp.body)
                continue
            assert _refusal(resp) is None, (method, pattern, resp.code, resp.body)


async def test_removing_any_check_is_caught(
    jp_serverapp: Any, probe: Probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutation: with one handler's permission check removed, the enumeration reports it."""
    routes = cosim_routes(jp_serverapp)

    async def no_check(self: Any, action: str) -> None:
        return None

    for pattern, handler in routes:
        assert hasattr(handler, "check_permission"), f"{handler.__name__} has no CoSim check"
        with monkeypatch.context() as patched:
            patched.setattr(handler, "check_permission", no_check)
            problems = await auth_problems(probe, [(pattern, handler)])
        assert problems, f"removing {handler.__name__}'s check went unnoticed"
        if not issubclass(handler, WebSocketHandler):
            assert any(p.startswith("POST ") and "read-only" in p for p in problems), problems


async def test_acting_sockets_need_write(
    jp_serverapp: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    cosim_redis_url: str,
    http_server_client: Any,
) -> None:
    """Running a build's binary needs "write" at the upgrade; a read-only viewer of a sim sees
    it but its "stop" is refused and never reaches the sim."""
    routes = {h.__name__: h for _, h in cosim_routes(jp_serverapp)}
    assert routes["BuildRunHandler"].action == "write"
    redis = aioredis.Redis.from_url(cosim_redis_url)
    sim = await PublishedSim(redis).start()
    pubsub = redis.pubsub()
    await pubsub.subscribe(sim.keys.control(sim.sim_id))
    url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}cosim/api/sims/{sim.sim_id}/ws"
    ws = await websocket_connect(HTTPRequest(url, headers=jp_auth_header))
    assert json.loads(await asyncio.wait_for(ws.read_message(), 10))["type"] == "hello"
    await ws.write_message(json.dumps({"type": "stop"}))
    reply = None
    while reply is None or isinstance(reply, bytes):  # skip the scene and frame
        reply = await asyncio.wait_for(ws.read_message(), 10)
    assert json.loads(reply) == {
        "type": "error",
        "message": "not allowed to stop this sim: you have read-only access",
    }
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        assert await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2) is None
    ws.close()
    await pubsub.aclose()
    await redis.aclose()
