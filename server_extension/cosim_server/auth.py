"""The user server's authorizer under JupyterHub: view-only shares become read-only.

A share that carries ``custom:cosim:view!server=<owner>/<server>`` (Lab's Share dialog,
"view only") lets its holder in, but only to read: no edits (jupyter-collaboration then opens
documents read-only), no kernels or terminals, no sim control. The owner is never view-only.

JupyterHub puts only role scopes, not share scopes, into the browser's token, so the server
asks the hub which shares of this server are view-only (:class:`ViewOnlyShares`, refreshed every
few seconds and right after each change made through the Share dialog) and the authorizer reads
that list. Until the first answer arrives, visitors may only read (fail closed).
Spawned servers use it through ``--ServerApp.authorizer_class`` (``cosim_hub.sharing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from jupyterhub.singleuser.extension import JupyterHubAuthorizer
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from cosim_protocol.sharing import VIEW_SCOPE

from .access_watch import SETTING as ACCESS_WATCH_SETTING
from .user_sockets import SETTING as USER_SOCKETS_SETTING

SETTING = "cosim_view_only"
REFRESH_S = 5.0
log = logging.getLogger("cosim_server.auth")


class ViewOnlyShares:
    """Users and groups whose share of this server is view-only, as the hub last said."""

    def __init__(self, changed: Callable[..., object] = lambda user=None, group=None: 0) -> None:
        self.users: set[str] = set()
        self.groups: set[str] = set()
        self.loaded = False
        # Told ``changed(user=...)`` / ``changed(group=...)`` for each share that became
        # view-only or editable, however it changed (Share dialog, the hub's API or admin
        # page): the app closes their sockets with "access changed" so Lab re-reads its access.
        self._changed = changed
        self._task: asyncio.Task[None] | None = None

    def applies_to(self, hub_user: dict[str, Any]) -> bool:
        if not self.loaded:
            return True
        return hub_user.get("name") in self.users or bool(
            set(hub_user.get("groups") or []) & self.groups
        )

    async def refresh(self) -> None:
        base = os.environ.get("JUPYTERHUB_API_URL", "")
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        owner = quote(os.environ.get("JUPYTERHUB_USER", ""))
        server = quote(os.environ.get("JUPYTERHUB_SERVER_NAME", ""))
        request = HTTPRequest(
            f"{base.rstrip('/')}/shares/{owner}/{server}",
            headers={"Authorization": f"token {token}"},
            request_timeout=10,
        )
        reply = json.loads((await AsyncHTTPClient().fetch(request)).body)
        users: set[str] = set()
        groups: set[str] = set()
        shared: set[tuple[str, str]] = set()
        for share in reply.get("items", []) if isinstance(reply, dict) else reply:
            kind = "user" if share.get("user") else "group"
            name = str((share.get(kind) or {}).get("name", ""))
            shared.add((kind, name))
            if any(s.startswith(VIEW_SCOPE) for s in share.get("scopes", [])):
                (users if kind == "user" else groups).add(name)
        was_loaded, old_users, old_groups = self.loaded, self.users, self.groups
        self.users, self.groups, self.loaded = users, groups, True
        if was_loaded:  # before the first answer every visitor was read-only anyway
            # Shares gone altogether are revocations: their sockets close as revoked elsewhere.
            for user in sorted(u for u in users ^ old_users if ("user", u) in shared):
                self._changed(user=user)
            for group in sorted(g for g in groups ^ old_groups if ("group", g) in shared):
                self._changed(group=group)

    def start(self) -> None:
        if os.environ.get("JUPYTERHUB_API_URL"):
            self._task = asyncio.ensure_future(self._run())
        else:
            self.loaded = True  # not under a hub: nobody shares this server

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as err:  # the hub restarting: keep the last answer
                log.warning("CoSim: could not read this server's shares from the hub: %s", err)
            await asyncio.sleep(REFRESH_S)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


class CoSimHubAuthorizer(JupyterHubAuthorizer):
    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if not super().is_authorized(handler, user, action, resource):
            return False
        if user.username == os.environ.get("JUPYTERHUB_USER"):
            return True
        watch = handler.settings.get(ACCESS_WATCH_SETTING)
        if watch is not None:  # a visitor: re-checked with the hub while they are active
            watch.seen(handler, user.username)
        sockets = handler.settings.get(USER_SOCKETS_SETTING)
        if sockets is not None:  # any WebSocket of theirs closes when their access ends
            sockets.add(user.username, handler)
        if action == "read" or _asks_for_a_room(handler):
            return True
        shares = handler.settings.get(SETTING)
        hub_user = getattr(user, "hub_user", {}) or {}
        if shares is None or shares.applies_to(hub_user):
            self.log.info("view-only: %s may not %s %s", user.username, action, resource)
            return False
        return True


def _asks_for_a_room(handler: Any) -> bool:
    """jupyter-collaboration's session request (PUT /api/collaboration/session/<path>) only looks
    up an existing file's room id, yet it is checked as a contents write: a view-only visitor's
    Lab could then not open any document live. The room itself drops what such a visitor sends
    (cosim_server.rtc_origin), so the request counts as reading here."""
    cls = type(handler)
    return cls.__name__ == "DocSessionHandler" and cls.__module__.startswith("jupyter_server_ydoc")


async def refresh_soon(settings: dict[str, Any]) -> None:
    shares = settings.get(SETTING)
    if shares is not None:
        with contextlib.suppress(Exception):
            await shares.refresh()
