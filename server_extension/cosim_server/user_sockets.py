"""Every WebSocket a visitor holds on this server, so that a revoke closes all of them.

A visitor may hold many sockets at once: CoSim's viewers, jupyter-collaboration's document rooms
(``/api/collaboration/room/...``), kernel channels (``/api/kernels/<id>/channels``), terminals,
the event stream. Each of them asks Jupyter's authorizer before its upgrade, so CoSim's
authorizer (``cosim_server.auth``) hands every WebSocket handler of a visitor to
:class:`UserSockets`; nothing else needs to know about it. Handlers are held weakly: a closed
socket's handler goes away with the socket.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

from tornado.websocket import WebSocketHandler

from cosim_protocol.sharing import CLOSE_ACCESS_CHANGED, CLOSE_ACCESS_REVOKED

SETTING = "cosim_user_sockets"


class UserSockets:
    """Visitors' WebSocket handlers on this server, by hub user name."""

    def __init__(self) -> None:
        self._by_user: dict[str, weakref.WeakSet[WebSocketHandler]] = {}

    def add(self, user: str, handler: Any) -> None:
        """Remember ``handler`` if it is a WebSocket (called before its upgrade)."""
        if isinstance(handler, WebSocketHandler):
            self._by_user.setdefault(user, weakref.WeakSet()).add(handler)

    def open_sockets(self, user: str) -> list[WebSocketHandler]:
        handlers = self._by_user.get(user)
        if handlers is None:
            return []
        found = [
            h
            for h in list(handlers)
            if h.ws_connection is not None and not h.ws_connection.is_closing()
        ]
        if not handlers:
            self._by_user.pop(user, None)
        return found

    def has_open(self, user: str) -> bool:
        return bool(self.open_sockets(user))

    def close(self, user: str) -> int:
        """Close every open socket of ``user`` with "access revoked"; returns how many."""
        return _close(self.open_sockets(user), CLOSE_ACCESS_REVOKED, "access revoked")

    def reconnect(self, user: str | None = None, group: str | None = None) -> int:
        """Close the sockets of ``user``, or of the members of ``group``, with "access changed",
        so that they reconnect under their new permissions; returns how many."""
        users = [user] if user is not None else list(self._by_user)
        sockets = [
            handler
            for name in users
            for handler in self.open_sockets(name)
            if group is None or group in _groups(handler)
        ]
        return _close(sockets, CLOSE_ACCESS_CHANGED, "access changed")


def _groups(handler: Any) -> list[str]:
    """The hub groups of a handler's user, as the hub said when it let them in."""
    hub_user = getattr(handler.current_user, "hub_user", None) or {}
    return list(hub_user.get("groups") or [])


def _close(sockets: list[WebSocketHandler], code: int, reason: str) -> int:
    for handler in sockets:
        with contextlib.suppress(Exception):  # already going away
            handler.close(code, reason)
    return len(sockets)
