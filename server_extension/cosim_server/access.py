"""What the person using this Lab may do on this server, as the server decides it.

Lab shows a view-only visitor's documents read-only and their sim controls disabled; it learns
that here, never decides it itself (the server's gates stay: the authorizer in ``auth.py``, the
document rooms' gate in ``rtc_origin.py``). ``GET /cosim/api/access`` answers once;
``/cosim/api/access/ws`` answers on open and is closed by the server whenever the visitor's
access changes (``CLOSE_ACCESS_CHANGED``: the share became view-only or editable; Lab reopens it
and reads the new answer) or ends (``CLOSE_ACCESS_REVOKED``), like every other socket of theirs
(``user_sockets.py``). Both only read, so a view-only visitor may ask.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.utils import ensure_async

from .base import CoSimHandler, CoSimWebSocketHandler


async def access_of(handler: Any) -> dict[str, Any]:
    """The current user's access: ``writable`` is the authorizer's answer to writing contents
    (the permission jupyter-collaboration's rooms and the Contents API need)."""
    user = handler.current_user
    owner = os.environ.get("JUPYTERHUB_USER") or None
    writable = bool(
        await ensure_async(handler.authorizer.is_authorized(handler, user, "write", "contents"))
    )
    return {
        "type": "access",
        "user": str(user.username),
        "owner": owner,
        "writable": writable,
        "reason": None if writable else _reason(owner),
    }


def _reason(owner: str | None) -> str:
    whose = f"{owner}'s server" if owner else "This server"
    return f"{whose} is shared with you view-only: you may read and watch, not edit or run."


class AccessHandler(CoSimHandler):
    async def get(self) -> None:
        self.finish(await access_of(self))


class AccessWebSocket(CoSimWebSocketHandler):
    """Sends the access once; the server closes it when that access changes."""

    action = "read"

    async def open(self) -> None:
        self.write_message(await access_of(self))

    def on_message(self, message: str | bytes) -> None:
        """Nothing to receive: the client only listens."""


def routes() -> list[tuple[str, type]]:
    return [
        (r"/cosim/api/access", AccessHandler),
        (r"/cosim/api/access/ws", AccessWebSocket),
    ]
