"""Hub API of the OIDC mode: block and unblock users, revoke sessions, hand out provider tokens.

- ``GET /hub/api/cosim/oidc/blocked`` (admin): the block list.
- ``POST|DELETE /hub/api/cosim/oidc/users/<name>/block`` (admin): block (and log out everywhere)
  or unblock a user.
- ``POST /hub/api/cosim/oidc/users/<name>/revoke`` (admin): log a user out everywhere.
- ``GET /hub/api/cosim/oidc/users/<name>/token``: the user's provider access token, refreshed if
  it is about to expire (token exchange for servers and services). Needs
  ``custom:cosim-oidc:provider-token`` for that user (user servers hold it for their owner) or
  ``admin:auth_state``.
"""

from __future__ import annotations

import json
from typing import Any

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.scopes import Scope, needs_scope
from tornado import web

PROVIDER_TOKEN_SCOPE = "custom:cosim-oidc:provider-token"
CUSTOM_SCOPES = {
    PROVIDER_TOKEN_SCOPE: {
        "description": "Read a user's current OpenID Connect provider access token.",
    }
}


def _grants(parsed: dict[str, Any], scope: str, user_name: str) -> bool:
    filters = parsed.get(scope)
    if filters is None:
        return False
    if filters == Scope.ALL:
        return True
    return user_name in filters.get("user", ())


class _OIDCHandler(APIHandler):
    def _user(self, name: str) -> Any:
        user = self.find_user(name)
        if user is None:
            raise web.HTTPError(404, f"no user {name}")
        return user


class BlockedListHandler(_OIDCHandler):
    @needs_scope("admin:users")
    async def get(self) -> None:
        blocked = await self.authenticator.revocations.blocked()
        self.write(json.dumps({"blocked": sorted(blocked)}))


class BlockHandler(_OIDCHandler):
    @needs_scope("admin:users")
    async def post(self, user_name: str) -> None:
        await self.authenticator.revocations.block(user_name)
        user = self.find_user(user_name)
        if user is not None:
            await self.authenticator.revoke_user(user, reason="blocked by an admin")
        self.write(json.dumps({"name": user_name, "blocked": True}))

    @needs_scope("admin:users")
    async def delete(self, user_name: str) -> None:
        await self.authenticator.revocations.unblock(user_name)
        self.write(json.dumps({"name": user_name, "blocked": False}))


class RevokeHandler(_OIDCHandler):
    @needs_scope("admin:users")
    async def post(self, user_name: str) -> None:
        await self.authenticator.revoke_user(self._user(user_name), reason="revoked by an admin")
        self.write(json.dumps({"name": user_name, "revoked": True}))


class ProviderTokenHandler(_OIDCHandler):
    def _check_reader(self, user_name: str) -> None:
        """Refuse a caller holding neither scope for ``user_name``. (A method of its own, not
        ``needs_scope``: the custom scope is defined only once the hub has read its config.)"""
        if self.current_user is None:
            raise web.HTTPError(403, "Missing or invalid credentials.")
        parsed = self.parsed_scopes
        if not (
            _grants(parsed, PROVIDER_TOKEN_SCOPE, user_name)
            or _grants(parsed, "admin:auth_state", user_name)
        ):
            raise web.HTTPError(403, f"not allowed to read the provider token of {user_name}")

    async def get(self, user_name: str) -> None:
        self._check_reader(user_name)
        user = self._user(user_name)
        if await self.authenticator.revocations.is_blocked(user_name):
            raise web.HTTPError(403, f"{user_name} is blocked")
        state = await self.authenticator.fresh_state(user)
        if not state:
            raise web.HTTPError(409, f"{user_name} has no provider session; log in again")
        self.set_header("Cache-Control", "no-store")
        self.write(
            json.dumps(
                {
                    "access_token": state["access_token"],
                    "token_type": (state.get("token_response") or {}).get("token_type", "Bearer"),
                    "expires_at": state.get("cosim_expires_at"),
                    "scope": state.get("scope") or [],
                }
            )
        )


def oidc_handlers() -> list[tuple[str, Any]]:
    name = r"([^/]+)"
    return [
        (r"/api/cosim/oidc/blocked", BlockedListHandler),
        (rf"/api/cosim/oidc/users/{name}/block", BlockHandler),
        (rf"/api/cosim/oidc/users/{name}/revoke", RevokeHandler),
        (rf"/api/cosim/oidc/users/{name}/token", ProviderTokenHandler),
    ]
