"""Log in with any OpenID Connect provider: GenericOAuthenticator plus what a campus needs.

- Endpoints from the provider's discovery document (``discovery_url``), checked at hub start.
- Claims -> hub user name (``username_claim``) and hub groups (``groups_claim``), merged with the
  user's course groups so logging in never drops a student from a course.
- Tokens are refreshed *before* they expire (``refresh_margin``), by requests and by a background
  sweep every ``refresh_interval`` seconds, so a running server's provider token keeps working.
  A rotated refresh token replaces the old one.
- Revocation: when the provider refuses a refresh, or an admin blocks the user, the hub revokes
  every hub token of the user, invalidates their login cookies and stops their servers. The block
  list and revocation times live in Redis so every hub replica honours them.
- Secrets (client secret, tokens) come from env or files and are never logged.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from oauthenticator.generic import GenericOAuthenticator
from tornado import web
from tornado.httpclient import HTTPClientError, HTTPRequest
from traitlets import Float, Unicode, default

from .handlers_mixin import CoSimHandlersMixin
from .revocation import RevocationList, revocation_list

OBTAINED_AT = "cosim_obtained_at"
EXPIRES_AT = "cosim_expires_at"


class ProviderRefused(Exception):
    """The provider said no to a refresh token (revoked, expired or unknown)."""


def fetch_discovery(url: str, timeout: float = 10.0) -> dict[str, Any]:
    """The provider's discovery document; a clear error if it cannot be had."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            doc = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise ValueError(f"OIDC discovery document {url} could not be read: {err}") from None
    missing = [k for k in ("authorization_endpoint", "token_endpoint") if k not in doc]
    if missing:
        raise ValueError(f"OIDC discovery document {url} lacks {', '.join(missing)}")
    return dict(doc)


class CoSimOIDCAuthenticator(CoSimHandlersMixin, GenericOAuthenticator):
    """OpenID Connect login with refresh, revocation and a shared block list."""

    discovery_url = Unicode(
        "",
        help="""The provider's discovery document, e.g.
        https://login.example.edu/realms/campus/.well-known/openid-configuration (Keycloak),
        https://TENANT.auth0.com/.well-known/openid-configuration (Auth0),
        https://accounts.google.com/.well-known/openid-configuration (Google).
        authorize_url, token_url, userdata_url and the revocation endpoint are taken from it
        unless set explicitly. Read once at hub start; the hub does not start if it cannot be.""",
    ).tag(config=True)

    client_secret_file = Unicode(
        "",
        help="""File holding the OAuth client secret (a Kubernetes secret mount, say). Used when
        client_secret is empty; the secret may also come from $OAUTH_CLIENT_SECRET.""",
    ).tag(config=True)

    groups_claim = Unicode(
        "",
        help="""Claim of the userinfo response listing the user's groups (e.g. 'groups').
        Empty: the provider does not manage hub groups. When set, hub group membership follows
        the claim at each login and refresh, plus the user's CoSim course groups.""",
    ).tag(config=True)

    refresh_margin = Float(
        60.0,
        help="""Seconds before an access token expires at which the hub refreshes it with the
        refresh token.""",
    ).tag(config=True)

    refresh_interval = Float(
        60.0,
        help="""Seconds between background sweeps that refresh expiring tokens and enforce
        blocks and revocations for users who are not making requests (0: no sweep). A revoked
        or blocked user is logged out within one interval.""",
    ).tag(config=True)

    revocation_url = Unicode(
        "",
        help="RFC 7009 token revocation endpoint (default: from the discovery document).",
    ).tag(config=True)

    redis_url = Unicode(
        help="Redis holding the block list and revocation times (default: $REDIS_URL; "
        "empty: kept in this hub process only).",
    ).tag(config=True)

    @default("redis_url")
    def _default_redis_url(self) -> str:
        return os.environ.get("REDIS_URL", "")

    @default("login_service")
    def _default_login_service(self) -> str:
        return os.environ.get("LOGIN_SERVICE", "your institution")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.discovery_url:
            self._apply_discovery(fetch_discovery(self.discovery_url))
        if not self.trait_values().get("client_secret") and self.client_secret_file:
            with open(self.client_secret_file) as f:
                self.set_trait("client_secret", f.read().strip())
        if self.groups_claim:
            self.manage_groups = True
            self.auth_state_groups_key = f"{self.user_auth_state_key}.{self.groups_claim}"
        self.revocations: RevocationList = revocation_list(self.redis_url)
        self._app: Any = None
        self._sweeper: asyncio.Task[None] | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    def _apply_discovery(self, doc: dict[str, Any]) -> None:
        """Fill the endpoints the deployment left empty from the discovery document."""
        for trait, key in [
            ("authorize_url", "authorization_endpoint"),
            ("token_url", "token_endpoint"),
            ("userdata_url", "userinfo_endpoint"),
            ("revocation_url", "revocation_endpoint"),
        ]:
            if not self.trait_values().get(trait) and doc.get(key):
                self.set_trait(trait, doc[key])

    # ---- hub wiring ------------------------------------------------------------------------
    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        from .oidc_handlers import oidc_handlers

        self._app = app
        if self.refresh_interval > 0 and self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())
        return [*super().get_handlers(app), *oidc_handlers()]

    # ---- auth state ------------------------------------------------------------------------
    def build_auth_state_dict(self, token_info: dict[str, Any], user_info: Any) -> dict[str, Any]:
        state: dict[str, Any] = super().build_auth_state_dict(token_info, user_info)
        now = time.time()
        state[OBTAINED_AT] = now
        expires_in = token_info.get("expires_in")
        state[EXPIRES_AT] = now + float(expires_in) if expires_in else None
        return state

    def user_info_to_username(self, user_info: dict[str, Any]) -> str:
        try:
            return str(super().user_info_to_username(user_info))
        except ValueError:
            # A provider-side gap, not our crash: a clear 403 instead of a 500 and a traceback.
            raise web.HTTPError(
                403,
                f"The login provider sent no {self.username_claim!r} claim for this account; "
                "ask your administrator to release it (or to set username_claim).",
            ) from None

    async def get_user_groups(self, auth_state: dict[str, Any]) -> set[str]:
        groups: set[str] = set(await super().get_user_groups(auth_state))
        name = self.user_info_to_username(auth_state.get(self.user_auth_state_key) or {})
        return groups | self.course_groups(self.normalize_username(name))

    async def check_blocked_users(self, username: str, authentication: Any = None) -> bool:
        if not super().check_blocked_users(username, authentication):
            return False
        if await self.revocations.is_blocked(username):
            self.log.warning("Refusing login of blocked user %s", username)
            return False
        return True

    async def _revoked_since(self, name: str, state: dict[str, Any]) -> bool:
        """Was the user revoked (on any replica) after these tokens were obtained?"""
        revoked_at = await self.revocations.revoked_at(name)
        return revoked_at > 0 and float(state.get(OBTAINED_AT) or 0) <= revoked_at

    def _expiring(self, state: dict[str, Any]) -> bool:
        expires_at = state.get(EXPIRES_AT)
        return bool(expires_at) and float(expires_at or 0) - time.time() <= self.refresh_margin

    # ---- refresh ---------------------------------------------------------------------------
    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        """True: still fine; False: log in again; a dict: fresh tokens and groups."""
        if await self.revocations.is_blocked(user.name):
            await self.revoke_user(user, reason="blocked by an admin")
            return False
        state = await user.get_auth_state()
        if not state:
            return False
        if await self._revoked_since(user.name, state):
            await self.end_sessions(user)  # revoked on another replica
            return False
        if not self._expiring(state):
            return True
        try:
            model = await self.refresh_locked(user)
            return model or True
        except ProviderRefused as err:
            await self.revoke_user(user, reason=str(err))
            return False
        except Exception as err:  # the provider is down: keep the session until it answers
            self.log.warning("Could not refresh tokens of %s: %s", user.name, _short(err))
            still_valid = float(state.get(EXPIRES_AT) or 0) > time.time()
            return still_valid

    async def refresh_tokens(self, name: str, state: dict[str, Any]) -> dict[str, Any]:
        """Exchange the refresh token; returns a new auth model or raises ProviderRefused."""
        refresh_token = state.get("refresh_token")
        if not refresh_token:
            raise ProviderRefused("no refresh token (ask the provider for offline access)")
        params = self.build_refresh_token_request_params(refresh_token)
        try:
            token_info = await self.get_token_info(None, params)
        except HTTPClientError as err:
            # Only invalid_grant speaks about the user's grant (revoked, expired, unknown);
            # invalid_client and the like are the hub's own misconfiguration: log, don't log out.
            if _oauth_error(err) == "invalid_grant":
                raise ProviderRefused(
                    f"the provider refused the refresh token ({err.code})"
                ) from None
            raise
        if not token_info.get("refresh_token"):
            token_info["refresh_token"] = refresh_token  # no rotation: the old one stays valid
        try:
            model: dict[str, Any] = await self._token_to_auth_model(token_info)
        except HTTPClientError as err:
            raise ProviderRefused(f"the fresh access token was refused ({err.code})") from None
        if model["name"] != name:
            raise ProviderRefused("the provider returned another user for this refresh token")
        self.log.info("Refreshed provider tokens of %s", name)
        return model

    async def fresh_state(self, user: Any) -> dict[str, Any] | None:
        """The user's auth state with an access token that is not about to expire."""
        state = await user.get_auth_state()
        if not state:
            return None
        if self._expiring(state):
            try:
                model = await self.refresh_locked(user)
            except ProviderRefused as err:
                await self.revoke_user(user, reason=str(err))
                return None
            state = model["auth_state"] if model else await user.get_auth_state()
        return dict(state) if state else None

    async def refresh_locked(self, user: Any) -> dict[str, Any] | None:
        """Refresh once even when a request and the sweep want to at the same moment (a
        rotating provider would refuse the second use of a refresh token)."""
        lock = self._locks.setdefault(user.name, asyncio.Lock())
        async with lock:
            state = await user.get_auth_state()
            if not state or not self._expiring(state):
                return None  # refreshed meanwhile
            model = await self.refresh_tokens(user.name, state)
            await self._apply_model(user, model)
            return model

    async def _apply_model(self, user: Any, model: dict[str, Any]) -> None:
        await user.save_auth_state(model["auth_state"])
        if self.manage_groups and "groups" in model:
            user.sync_groups(model["groups"])

    # ---- revocation ------------------------------------------------------------------------
    async def revoke_user(self, user: Any, reason: str) -> None:
        """Log ``user`` out everywhere, on every replica, and tell the provider."""
        self.log.warning("Revoking all sessions of %s: %s", user.name, reason)
        await self.revocations.mark_revoked(user.name)
        await self.end_sessions(user)

    async def end_sessions(self, user: Any) -> None:
        """Stop the user's servers, delete their hub tokens and invalidate their cookies."""
        state = await user.get_auth_state()
        if state and state.get("refresh_token"):
            await self._revoke_at_provider(state["refresh_token"])
        app = self._app
        for server_name, spawner in list(user.spawners.items()):
            if spawner.active and not spawner.pending:
                try:
                    if app is not None:
                        await app.proxy.delete_user(user, server_name)
                    await user.stop(server_name)
                except Exception as err:
                    self.log.error("Stopping %s's server failed: %s", user.name, _short(err))
        from jupyterhub.utils import new_token

        await user.save_auth_state(None)
        orm_user = user.orm_user
        for token in list(orm_user.api_tokens):
            user.db.delete(token)
        orm_user.cookie_id = new_token()  # every login cookie of the user stops matching
        user.db.commit()

    async def _revoke_at_provider(self, token: str) -> None:
        if not self.revocation_url:
            return
        body = urlencode(
            {
                "token": token,
                "token_type_hint": "refresh_token",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            }
        )
        req = HTTPRequest(self.revocation_url, method="POST", body=body, request_timeout=10)
        try:
            await self.http_client.fetch(req)
        except Exception as err:
            self.log.warning("Provider token revocation failed: %s", _short(err))

    # ---- background sweep ------------------------------------------------------------------
    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval)
            try:
                await self.sweep()
            except Exception:
                self.log.exception("OIDC refresh sweep failed")

    async def sweep(self) -> None:
        """Refresh expiring tokens; end the sessions of blocked and revoked users."""
        from jupyterhub import orm

        app = self._app
        if app is None:
            return
        blocked = await self.revocations.blocked()
        for orm_user in list(app.db.query(orm.User)):
            user = app.users[orm_user]
            if user.name in blocked:
                if orm_user.api_tokens or orm_user.encrypted_auth_state or user.active:
                    await self.revoke_user(user, reason="blocked by an admin")
                continue
            if orm_user.encrypted_auth_state is None:
                continue
            state = await user.get_auth_state() or {}
            if await self._revoked_since(user.name, state):
                await self.end_sessions(user)
            elif self._expiring(state):
                try:
                    await self.refresh_locked(user)
                except ProviderRefused as err:
                    await self.revoke_user(user, reason=str(err))
                except Exception as err:
                    self.log.warning("Refresh of %s failed: %s", user.name, _short(err))


def _oauth_error(err: HTTPClientError) -> str:
    """The ``error`` code of an OAuth error response (RFC 6749 5.2), or ''."""
    try:
        body = json.loads(err.response.body) if err.response is not None else {}
    except (ValueError, TypeError):
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def _short(err: BaseException) -> str:
    """An error for the log without any request body (which may hold a secret)."""
    text = f"{type(err).__name__}: {err}"
    return text[:200]
