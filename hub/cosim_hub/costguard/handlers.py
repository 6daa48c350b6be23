"""The service's routes, all under its hub prefix and all behind hub OAuth with custom scopes.

- ``GET  /``                      the "CoSim usage" page (read scope)
- ``GET  api/usage``              the same figures as JSON (read scope)
- ``GET  api/quotas``             every quota; ``PUT/DELETE api/quotas/<kind>[/<name>]`` set or
                                  drop one (write scope); kind: user, group, default, cluster
- ``GET  metrics``                Prometheus text (read scope; use an API token)
- ``GET  api/self?server=<name>`` the caller's own spend, cap, reservation and notice (a user's
                                  token with the self scope: what each user server's token has)
- ``GET  oauth_callback``         the hub's OAuth redirect
"""

from __future__ import annotations

import json
import os
from http import HTTPStatus
from typing import Any

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from redis.exceptions import RedisError
from tornado import web

from .ledger import Quota
from .metrics import render
from .page import render_page
from .settings import READ_SCOPE, SELF_SCOPE, WRITE_SCOPE
from .usage import own_status, usage_report


class GuardHandler(HubOAuthenticated, web.RequestHandler):
    hub_scopes = {READ_SCOPE}
    write_methods = frozenset({"PUT", "POST", "PATCH", "DELETE"})

    @property
    def guard(self) -> Any:
        return self.settings["cosim_guard"]

    # API routes answer 403 to an anonymous request; only the page redirects to the hub login.
    is_api = True

    def prepare(self) -> None:
        if self.current_user is None:
            if self.is_api:
                raise web.HTTPError(403, "authentication required (hub token or login)")
            return
        if self.request.method in self.write_methods and not self.hub_auth.check_scopes(
            {WRITE_SCOPE}, self.current_user
        ):
            raise web.HTTPError(403, f"needs scope {WRITE_SCOPE}")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        message = HTTPStatus(status_code).phrase
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        if isinstance(exc, RedisError | OSError):
            self.set_status(503)
            message = "the cost guard's ledger (Redis) is unreachable; try again shortly"
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "status": self.get_status()}))

    async def report(self) -> dict[str, Any]:
        try:
            return await usage_report(self.guard.ledger, self.guard.settings)
        except (RedisError, OSError) as err:
            raise web.HTTPError(503, "the cost guard's ledger (Redis) is unreachable") from err


class PageHandler(GuardHandler):
    is_api = False

    @web.authenticated
    async def get(self) -> None:
        report = await self.report()
        can_write = bool(self.hub_auth.check_scopes({WRITE_SCOPE}, self.current_user))
        token = self.xsrf_token
        xsrf = token.decode() if isinstance(token, bytes) else str(token)
        hub_home = os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/home"
        self.finish(render_page(report, xsrf, self.request.path, can_write, hub_home))


class UsageHandler(GuardHandler):
    @web.authenticated
    async def get(self) -> None:
        self.finish(await self.report())


def _scope(kind: str, name: str | None) -> str:
    if kind == "cluster":
        if name:
            raise web.HTTPError(400, "the cluster quota has no name: use api/quotas/cluster")
        return "cluster"
    if not name:
        raise web.HTTPError(400, "name the %s: api/quotas/%s/<name>", kind, kind)
    if kind == "default" and name not in ("user", "group"):
        raise web.HTTPError(400, "default quotas are api/quotas/default/user or .../group")
    if len(name) > 255:
        raise web.HTTPError(400, "name too long")
    return f"{kind}:{name}"


class QuotasHandler(GuardHandler):
    @web.authenticated
    async def get(self, kind: str | None = None, name: str | None = None) -> None:
        quotas = await self.guard.ledger.quotas()
        body = {s: {"gpu_limit": q.gpu_limit, "spend_cap": q.spend_cap} for s, q in quotas.items()}
        if kind:
            scope = _scope(kind, name)
            if scope not in body:
                raise web.HTTPError(404, "no quota set for %s", scope)
            self.finish(body[scope])
            return
        self.finish(body)

    @web.authenticated
    async def put(self, kind: str | None = None, name: str | None = None) -> None:
        if not kind:
            raise web.HTTPError(405, "PUT a single quota: api/quotas/<kind>/<name>")
        scope = _scope(kind, name)
        try:
            data = json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise web.HTTPError(400, "body must be JSON: {gpu_limit, spend_cap}") from None
        try:
            quota = Quota.parse(data)
        except ValueError as err:
            raise web.HTTPError(400, "%s", str(err)) from None
        await self.guard.ledger.set_quota(scope, quota)
        self.finish({"scope": scope, "gpu_limit": quota.gpu_limit, "spend_cap": quota.spend_cap})

    @web.authenticated
    async def delete(self, kind: str | None = None, name: str | None = None) -> None:
        if not kind:
            raise web.HTTPError(405, "DELETE a single quota: api/quotas/<kind>/<name>")
        scope = _scope(kind, name)
        if not await self.guard.ledger.delete_quota(scope):
            raise web.HTTPError(404, "no quota set for %s", scope)
        self.set_status(204)
        self.finish()


class SelfHandler(GuardHandler):
    """A user's own figures, for the Lab banner: the caller is who the token belongs to, and the
    token must carry the self scope for that user (every user's server token does)."""

    async def prepare(self) -> None:  # type: ignore[override]
        token = self.hub_auth.get_token(self, in_cookie=False)
        model = await self.hub_auth.user_for_token(token, sync=False) if token else None
        if not model or model.get("kind", "user") != "user":
            raise web.HTTPError(403, "a user's hub token is required")
        self.caller = str(model["name"])
        scopes = set(model.get("scopes") or [])
        if not scopes & {SELF_SCOPE, f"{SELF_SCOPE}!user={self.caller}"}:
            raise web.HTTPError(403, f"needs scope {SELF_SCOPE} for {self.caller}")

    async def get(self) -> None:
        server = self.get_argument("server", "")
        if len(server) > 255 or "/" in server:
            raise web.HTTPError(400, "server must be a server name (no '/', at most 255)")
        try:
            self.finish(await own_status(self.guard.ledger, self.caller, server))
        except (RedisError, OSError) as err:
            raise web.HTTPError(503, "the cost guard's ledger (Redis) is unreachable") from err


class MetricsHandler(GuardHandler):
    @web.authenticated
    async def get(self) -> None:
        collector = self.guard.collector
        collector.report = await self.report()
        collector.meter_lag = self.guard.meter_lag
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(render(collector))


def routes(prefix: str) -> list[tuple[str, type]]:
    return [
        (prefix, PageHandler),
        (prefix + "api/usage", UsageHandler),
        (prefix + "api/quotas", QuotasHandler),
        (prefix + r"api/quotas/(user|group|default|cluster)(?:/([^/]+))?", QuotasHandler),
        (prefix + "api/self", SelfHandler),
        (prefix + "metrics", MetricsHandler),
        (prefix + "oauth_callback", HubOAuthCallbackHandler),
    ]
