"""Lab's Share dialog: the server's owner shares it through JupyterHub's own sharing API.

The browser cannot call the hub API itself (the hub's XSRF cookie lives under /hub/), so these
handlers call it with this server's own hub token, which the hub gives ``shares!user`` and the
names of users and groups (``cosim_hub.sharing``). Only the owner manages shares: a visitor with
access to the server must not be able to pass it on. A revoke takes effect at once here: the
hub's cached answers about who may enter are dropped and every socket of the revoked user closes
(of a group's members: those the hub no longer lets in, asked at once).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote, urlencode

from cosim_protocol.sharing import VIEW_SCOPE

from .access_watch import SETTING as ACCESS_WATCH_SETTING
from .auth import refresh_soon
from .base import CoSimError, CoSimHandler, fetch_hub_json
from .user_sockets import SETTING as USER_SOCKETS_SETTING

MAX_NAME = 255


def _owner() -> str:
    return os.environ.get("JUPYTERHUB_USER", "")


def _server_name() -> str:
    return os.environ.get("JUPYTERHUB_SERVER_NAME", "")


def _name(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_NAME:
        raise CoSimError(400, f"{field} must be a hub {field} name (1-{MAX_NAME} characters)")
    return value


class _SharesHandler(CoSimHandler):
    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        owner = _owner()
        if not owner:
            raise CoSimError(503, "sharing needs JupyterHub: this server has no hub owner")
        if self.current_user.username != owner:
            raise CoSimError(403, f"only {owner}, the owner of this server, manages its shares")

    async def hub(self, method: str, path: str, body: Any = None) -> Any:
        base = os.environ.get("JUPYTERHUB_API_URL", "")
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        return await fetch_hub_json(
            base.rstrip("/") + "/" + path, method, body, service="the hub", timeout=30,
            token=token,
        )  # fmt: skip

    @property
    def server_path(self) -> str:
        return f"{quote(_owner())}/{quote(_server_name())}"

    def forget_access(self, user: str | None = None) -> None:
        """Drop cached hub answers (who may enter); with ``user``, close all their sockets."""
        hub_auth = getattr(self.identity_provider, "hub_auth", None)
        cache = getattr(hub_auth, "cache", None)
        if cache is not None:
            cache.clear()
        sockets = self.settings.get(USER_SOCKETS_SETTING)
        if user is not None and sockets is not None:
            sockets.close(user)

    async def recheck_visitors(self) -> None:
        """Ask the hub about every active visitor now, shutting out those it no longer lets
        in (a group's members, whom this server cannot list)."""
        watch = self.settings.get(ACCESS_WATCH_SETTING)
        if watch is not None:
            await watch.check()


def _items(reply: Any) -> list[Any]:
    return list(reply.get("items", [])) if isinstance(reply, dict) else list(reply or [])


class SharesHandler(_SharesHandler):
    async def get(self) -> None:
        """Who has access, and whom the owner may share with."""
        shares = _items(await self.hub("GET", f"shares/{self.server_path}"))
        codes = _items(await self.hub("GET", f"share-codes/{self.server_path}"))
        users = [u["name"] for u in _items(await self.hub("GET", "users")) if "name" in u]
        groups = [g["name"] for g in _items(await self.hub("GET", "groups")) if "name" in g]
        self.finish(
            {
                "owner": _owner(),
                "users": sorted(u for u in users if u != _owner()),
                "groups": sorted(groups),
                "shares": [
                    {
                        "kind": s.get("kind"),
                        "name": (s.get("user") or s.get("group") or {}).get("name"),
                        "view_only": any(x.startswith(VIEW_SCOPE) for x in s.get("scopes", [])),
                        "created_at": s.get("created_at"),
                    }
                    for s in shares
                ],
                "codes": [
                    {
                        "id": c.get("id"),
                        "expires_at": c.get("expires_at"),
                        "exchange_count": c.get("exchange_count", 0),
                    }
                    for c in codes
                ],
            }
        )

    async def post(self) -> None:
        """Share with ``{"user": name}`` or ``{"group": name}``; ``view_only`` for read-only."""
        body = self.read_json_body()
        if not isinstance(body, dict) or set(body) - {"user", "group", "view_only"}:
            raise CoSimError(400, 'body must be {"user" or "group": name, "view_only": bool}')
        user, group = _name(body, "user"), _name(body, "group")
        if (user is None) == (group is None):
            raise CoSimError(400, 'give exactly one of "user" or "group"')
        if user == _owner():
            raise CoSimError(400, "the owner already has access to their own server")
        view_only = body.get("view_only", False)
        if not isinstance(view_only, bool):
            raise CoSimError(400, "view_only must be true or false")
        target = {"user": user} if user else {"group": group}
        # A POST only adds scopes; making an existing share editable takes the view scope away
        # (PATCH), never the whole share, so its holder is not shut out in between.
        reply = await self.hub(
            "POST", f"shares/{self.server_path}", {**target, **_scopes(view_only)}
        )
        if not view_only:
            drop_view = {**target, "scopes": _view_scope()}
            reply = await self.hub("PATCH", f"shares/{self.server_path}", drop_view) or reply
        await refresh_soon(self.settings)
        sockets = self.settings.get(USER_SOCKETS_SETTING)
        if sockets is not None:
            # Open sockets were let in under the old share: a kernel socket would go on
            # executing, a document or viewer would stay read-only. They reconnect (a no-op when
            # the hub's answer above already made them: refresh_soon tells ViewOnlyShares).
            sockets.reconnect(user, group)
        self.finish({"shared": True, "kind": reply.get("kind"), "view_only": view_only})

    async def delete(self) -> None:
        """Revoke ``?user=name`` or ``?group=name``."""
        user, group = self.get_argument("user", None), self.get_argument("group", None)
        if (user is None) == (group is None):
            raise CoSimError(400, "give exactly one of ?user= or ?group=")
        await self._drop({"user": user} if user else {"group": group})
        await refresh_soon(self.settings)
        self.forget_access(user)
        if group is not None:
            await self.recheck_visitors()
        self.finish({"revoked": True})

    async def _drop(self, target: dict[str, Any]) -> None:
        await self.hub("PATCH", f"shares/{self.server_path}", target)


def _view_scope() -> list[str]:
    return [f"{VIEW_SCOPE}!server={_owner()}/{_server_name()}"]


def _scopes(view_only: bool) -> dict[str, Any]:
    scopes = [f"access:servers!server={_owner()}/{_server_name()}"]
    return {"scopes": scopes + _view_scope() if view_only else scopes}


class ShareCodesHandler(_SharesHandler):
    async def post(self) -> None:
        """A share link that expires after ``expires_in`` seconds (60 s to one year)."""
        body = self.read_json_body() or {}
        if not isinstance(body, dict) or set(body) - {"expires_in", "view_only"}:
            raise CoSimError(400, 'body must be {"expires_in": seconds, "view_only": bool}')
        expires_in = body.get("expires_in", 86400)
        if not isinstance(expires_in, int) or isinstance(expires_in, bool):
            raise CoSimError(400, "expires_in must be a whole number of seconds")
        if not 60 <= expires_in <= 365 * 86400:
            raise CoSimError(400, "expires_in must be between 60 s and one year (31536000 s)")
        view_only = body.get("view_only", False)
        if not isinstance(view_only, bool):
            raise CoSimError(400, "view_only must be true or false")
        reply = await self.hub(
            "POST",
            f"share-codes/{self.server_path}",
            {"expires_in": expires_in, **_scopes(view_only)},
        )
        self.finish(
            {
                "id": reply.get("id"),
                "expires_at": reply.get("expires_at"),
                "accept_url": reply.get("full_accept_url") or reply.get("accept_url"),
            }
        )

    async def delete(self) -> None:
        """Revoke one link (``?id=sc_N``) or, without an id, every link of this server."""
        code_id = self.get_argument("id", None)
        query = "?" + urlencode({"id": code_id}) if code_id else ""
        await self.hub("DELETE", f"share-codes/{self.server_path}{query}")
        self.forget_access()
        self.finish({"revoked": True})


def routes() -> list[tuple[str, type]]:
    return [
        (r"/cosim/api/shares", SharesHandler),
        (r"/cosim/api/share-codes", ShareCodesHandler),
    ]
