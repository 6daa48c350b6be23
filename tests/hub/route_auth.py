"""Enumerate CoSim's hub and hub-service handlers from their routing tables and probe them.

Used by ``test_hub_routes_auth.py`` (local accounts, services, the mutation stacks) and
``test_oidc.py`` (the OIDC handlers on the OIDC stack). Requests that write carry the hub's real
XSRF pair (the ``_xsrf`` cookie of a login page and the ``X-XSRFToken`` header), so a refusal is
the handler's own check, not XSRF's: the two are told apart by the refusal's message.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass

import requests
from tornado.web import RequestHandler

from cosim_hub.costguard.handlers import routes as costguard_routes
from cosim_hub.costguard.settings import SERVICE_NAME as GUARD
from cosim_hub.courses.exchange import make_app as exchange_app
from cosim_testing.hub_client import HubClient
from cosim_testing.routing import router_rules, sample_path
from cosim_testing.stack import CoSimStack

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
EXCHANGE = "cosim-courses"
# What the XSRF checks of tornado.web and jupyterhub._xsrf_utils say when they refuse.
XSRF_REFUSAL = re.compile(r"'_xsrf' argument|XSRF cookie does not match", re.IGNORECASE)
# Set by unchecked_site/sitecustomize.py on every answer of a handler whose checks it stripped:
# the name of the handler class the request reached (not importable here: it patches tornado).
REACHED_HEADER = "X-CoSim-Unchecked"


def _cosim_only(routes: list[tuple[str, type]]) -> list[tuple[str, type]]:
    return [(p, h) for p, h in routes if h.__module__.startswith("cosim_hub")]


def hub_routes(authenticator: type) -> list[tuple[str, type]]:
    """CoSim's handlers among those the authenticator gives the hub (under /hub)."""
    # An instance without __init__ (which opens the hub database); no token-refresh sweeper.
    instance = authenticator.__new__(authenticator)
    if instance.has_trait("refresh_interval"):
        instance.refresh_interval = 0
    routes = authenticator.get_handlers(instance, None)
    return [("/hub" + p, h) for p, h in _cosim_only(routes)]


def service_routes() -> list[tuple[str, type]]:
    guard = costguard_routes(f"/services/{GUARD}/")
    app = exchange_app(f"/services/{EXCHANGE}/", None, None)  # type: ignore[arg-type]
    exchange = [(r.matcher.regex.pattern, r.target) for r in router_rules(app.wildcard_router)]
    return _cosim_only(guard) + _cosim_only(exchange)


def implemented(handler: type, method: str) -> bool:
    """Whether the handler defines the verb (tornado answers 405 for the others)."""
    return getattr(handler, method.lower()) is not getattr(RequestHandler, method.lower())


def refusal_message(resp: requests.Response) -> str:
    """The reason a 401/403 gives: ``message`` of a JSON error, the hub error page's text."""
    try:
        return str(json.loads(resp.text).get("message", ""))
    except (ValueError, AttributeError):
        pass
    # The hub's error page: <h1>403 : Forbidden</h1> then <p>message</p>. The page also carries
    # the hub's xsrf_token in its script, so "xsrf" anywhere in the body tells nothing.
    match = re.search(r"</h1>\s*<p>(.*?)</p>", resp.text, re.DOTALL)
    return html.unescape(match.group(1)).strip() if match else ""


def refused_by_check(resp: requests.Response) -> bool:
    """Refused by the handler's own check: 401/403 with a reason that is not XSRF's."""
    reason = refusal_message(resp)
    return resp.status_code in (401, 403) and bool(reason) and not XSRF_REFUSAL.search(reason)


@dataclass
class Probe:
    """One anonymous request to one verb of one route, and whether it was let through."""

    method: str
    path: str
    handler: type
    resp: requests.Response
    let_through: bool

    def __str__(self) -> str:
        answer = f"{self.resp.status_code} {self.resp.headers.get('Location', '')}"
        return f"{self.method} {self.path} ({self.handler.__name__}): {answer}"


def probe_anonymously(stack: CoSimStack, routes: list[tuple[str, type]]) -> list[Probe]:
    """Every verb each handler implements, asked by a caller without credentials, XSRF pair sent."""
    client = stack.client()
    probes = []
    for pattern, handler in routes:
        path = sample_path(pattern)
        for method in METHODS:
            if not implemented(handler, method):
                continue
            resp = client.request(method, path, json={}, allow_redirects=False)
            login = resp.status_code == 302 and (
                "/hub/login" in resp.headers.get("Location", "")
                or "/hub/api/oauth2/authorize" in resp.headers.get("Location", "")
            )
            refused = refused_by_check(resp)
            # A GET of a state-changing page is refused outright (405, see native_handlers).
            refused = refused or (method == "GET" and resp.status_code == 405)
            let_through = not (refused or (method == "GET" and login))
            probes.append(Probe(method, path, handler, resp, let_through))
    return probes


def anonymous_problems(stack: CoSimStack, routes: list[tuple[str, type]]) -> list[str]:
    """(verb, path) that a caller without credentials was not refused, XSRF pair sent."""
    return [str(p) for p in probe_anonymously(stack, routes) if p.let_through]


def user_problems(
    client: HubClient, routes: list[tuple[str, type]], headers: dict[str, str] | None = None
) -> list[str]:
    """Write verbs a user without the scope for them was not refused (cookie + XSRF, or token)."""
    problems = []
    for pattern, handler in routes:
        path = sample_path(pattern)
        for method in sorted(WRITES):
            if not implemented(handler, method):
                continue
            resp = client.request(method, path, json={}, headers=dict(headers or {}))
            if resp.status_code != 403 or not refused_by_check(resp):
                why = f"{resp.status_code} {refusal_message(resp) or resp.text[:80]}"
                problems.append(f"{method} {path} ({handler.__name__}): {why}")
    return problems
