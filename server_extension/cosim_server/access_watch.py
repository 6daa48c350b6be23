"""Visitors lose their way in promptly, however their access to this server was taken away.

JupyterHub's single-user auth caches the hub's answer about a token for minutes, and a WebSocket
(viewer, document, kernel), once open, is never asked again. The Share dialog's revoke drops
both itself (``cosim_server.shares``), but access also ends elsewhere: a share revoked through
the hub's REST API or admin page, a visitor removed from a group the server is shared with, a
group share revoked, a token revoked. Rather than trying to catch every such path in the hub,
this server re-asks the hub, every ``interval`` seconds, about each visitor token it has seen
within the auth cache's lifetime (the owner's are skipped): one hub request per active visitor
per interval. A token the hub no longer lets in has its cached answer dropped (its next request
is checked afresh and refused) and every WebSocket of its user closed
(``cosim_server.user_sockets``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jupyterhub.services.auth import check_scopes

log = logging.getLogger("cosim_server.access_watch")

SETTING = "cosim_access_watch"


@dataclass
class _Visitor:
    user: str
    token: str
    session_id: str
    seen: float


def _cache_key(token: str, session_id: str) -> str:
    # How HubAuth.user_for_token keys its cache.
    return f"token:{session_id}:{hashlib.sha256(token.encode('utf8', 'replace')).hexdigest()}"


class AccessWatch:
    """Visitor tokens seen lately, re-checked with the hub on a short interval."""

    def __init__(
        self,
        interval: float,
        close_user: Callable[[str], object],
        connected: Callable[[str], bool] = lambda user: False,
    ) -> None:
        self.interval = interval
        self._close_user = close_user
        self._connected = connected  # whether a user has sockets open (kept watched)
        self._visitors: dict[tuple[str, str], _Visitor] = {}
        self._hub_auth: Any = None
        self._task: asyncio.Task[None] | None = None

    def seen(self, handler: Any, user: str) -> None:
        """Remember the token behind a visitor's request (called by the authorizer)."""
        hub_auth = getattr(getattr(handler, "identity_provider", None), "hub_auth", None)
        if hub_auth is None:
            return
        with contextlib.suppress(Exception):  # a request without a hub token: nothing to watch
            token = hub_auth.get_token(handler)
            if token:
                session_id = hub_auth.get_session_id(handler) or ""
                self._hub_auth = hub_auth
                self._visitors[(token, session_id)] = _Visitor(
                    user, token, session_id, time.monotonic()
                )

    async def check(self) -> list[str]:
        """Ask the hub about every visitor token; returns the users who were shut out."""
        hub_auth = self._hub_auth
        if hub_auth is None:
            return []
        horizon = time.monotonic() - max(float(hub_auth.cache_max_age), self.interval)
        out: list[str] = []
        for key, visitor in list(self._visitors.items()):
            if visitor.seen < horizon and not self._connected(visitor.user):
                # Its cached answer has expired and no socket of theirs is open: the hub is
                # asked afresh at their next request anyway.
                self._visitors.pop(key, None)
                continue
            if await self._still_allowed(hub_auth, visitor):
                continue
            self._visitors.pop(key, None)
            hub_auth.cache.pop(_cache_key(visitor.token, visitor.session_id), None)
            log.info("CoSim: %s no longer has access to this server", visitor.user)
            self._close_user(visitor.user)
            out.append(visitor.user)
        return out

    async def _still_allowed(self, hub_auth: Any, visitor: _Visitor) -> bool:
        try:
            model = await hub_auth.user_for_token(
                visitor.token, use_cache=False, session_id=visitor.session_id, sync=False
            )
        except Exception as err:  # the hub restarting: keep the visitor until it answers
            log.warning("CoSim: could not re-check %s's access with the hub: %s", visitor.user, err)
            return True
        if not model:
            return False
        required = hub_auth.access_scopes
        return not required or bool(check_scopes(required, set(model.get("scopes", []))))

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception:
                log.exception("CoSim: re-checking visitors' access failed")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
