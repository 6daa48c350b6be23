"""Every handler CoSim adds to the hub, and every handler of CoSim's hub services, refuses what the
caller may not do, in a real ``cosim up`` stack.

The routes come from the routing tables themselves: the handlers the authenticator gives the hub
(``get_handlers``, as JupyterHub calls it), the cost guard's ``routes(prefix)`` and the course
exchange's ``make_app(...)`` router. A handler added to any of them is covered without editing
this test. Requests that write carry the hub's real XSRF pair (the ``_xsrf`` cookie of a login
page and the ``X-XSRFToken`` header), so a refusal is the handler's own check, not XSRF's: the
two are told apart by the refusal's message, not by its status.

``test_removing_the_checks_is_caught`` runs the same enumeration against a ``cosim up`` whose
CoSim handlers lost their checks (``unchecked_site/sitecustomize.py``) and shows it names every
handler and every write.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from tornado.web import RequestHandler

from cosim_hub.auth import CoSimNativeAuthenticator
from cosim_hub.costguard.handlers import routes as costguard_routes
from cosim_hub.costguard.settings import READ_SCOPE
from cosim_hub.costguard.settings import SERVICE_NAME as GUARD
from cosim_hub.courses.exchange import make_app as exchange_app
from cosim_hub.oidc import CoSimOIDCAuthenticator
from cosim_testing.hub_client import HubClient
from cosim_testing.stack import CoSimStack, make_state_dir, start_cosim_up, stop_cosim_up

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
EXCHANGE = "cosim-courses"
# What the XSRF checks of tornado.web and jupyterhub._xsrf_utils say when they refuse.
XSRF_REFUSAL = re.compile(r"'_xsrf' argument|XSRF cookie does not match", re.IGNORECASE)
UNCHECKED_SITE = Path(__file__).parent / "unchecked_site"


def _walk(router: Any) -> Iterator[Any]:
    for rule in getattr(router, "rules", []):
        if isinstance(rule.target, type):
            yield rule
        else:
            yield from _walk(rule.target)


def _sample_path(pattern: str) -> str:
    """A path the route matches: optional groups dropped, each group a value it accepts (the
    first word of an alternation such as ``(user|group)``, else "sample")."""
    path = pattern.rstrip("$")
    innermost = re.compile(r"\((\?:|\?P<\w+>)?([^()]*)\)(\?)?")

    def value(m: re.Match[str]) -> str:
        if m.group(3):  # optional: leave it out
            return ""
        words = m.group(2).split("|")
        return words[0] if all(re.fullmatch(r"[\w-]+", w) for w in words) else "sample"

    while innermost.search(path):
        path = innermost.sub(value, path)
    return path.replace("\\", "").replace("/?", "/").replace("?", "")


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
    exchange = [(r.matcher.regex.pattern, r.target) for r in _walk(app.wildcard_router)]
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


def anonymous_problems(stack: CoSimStack, routes: list[tuple[str, type]]) -> list[str]:
    """(verb, path) that a caller without credentials was not refused, XSRF pair sent."""
    client = stack.client()
    problems = []
    for pattern, handler in routes:
        path = _sample_path(pattern)
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
            if not (refused or (method == "GET" and login)):
                where = resp.headers.get("Location", "")
                problems.append(f"{method} {path} ({handler.__name__}): {resp.status_code} {where}")
    return problems


def user_problems(
    client: HubClient, routes: list[tuple[str, type]], headers: dict[str, str] | None = None
) -> list[str]:
    """Write verbs a user without the scope for them was not refused (cookie + XSRF, or token)."""
    problems = []
    for pattern, handler in routes:
        path = _sample_path(pattern)
        for method in sorted(WRITES):
            if not implemented(handler, method):
                continue
            resp = client.request(method, path, json={}, headers=dict(headers or {}))
            if resp.status_code != 403 or not refused_by_check(resp):
                why = f"{resp.status_code} {refusal_message(resp) or resp.text[:80]}"
                problems.append(f"{method} {path} ({handler.__name__}): {why}")
    return problems


def test_routes_are_enumerated() -> None:
    names = {h.__name__ for _, h in hub_routes(CoSimNativeAuthenticator)}
    assert {"CoursesAPIHandler", "CourseAPIHandler", "CoursesPageHandler"} <= names
    names = {h.__name__ for _, h in hub_routes(CoSimOIDCAuthenticator)}
    assert {"BlockHandler", "RevokeHandler", "ProviderTokenHandler"} <= names
    names = {h.__name__ for _, h in service_routes()}
    assert {"QuotasHandler", "UsageHandler", "SubmissionHandler", "FeedbackReturnHandler"} <= names


def test_hub_and_services_refuse_anonymous_callers(cosim_stack: CoSimStack) -> None:
    routes = hub_routes(CoSimNativeAuthenticator) + service_routes()
    assert anonymous_problems(cosim_stack, routes) == []


def test_hub_handlers_refuse_writes_without_admin(cosim_stack: CoSimStack) -> None:
    """A logged-in user (session cookie + XSRF header) cannot change courses."""
    una, _ = cosim_stack.new_user("una")
    assert una.api("GET", "cosim/courses").status_code == 200  # reading is allowed
    assert user_problems(una, hub_routes(CoSimNativeAuthenticator)) == []


def test_costguard_refuses_writes_with_a_read_only_token(cosim_stack: CoSimStack) -> None:
    """A token holding only the cost guard's read scope reads usage but changes no quota."""
    admin = cosim_stack.admin_client()
    resp = admin.api(
        "POST", f"users/{admin.user}/tokens", json={"note": "read-only", "scopes": [READ_SCOPE]}
    )
    assert resp.status_code == 201, resp.text
    headers = {"Authorization": f"token {resp.json()['token']}"}
    reader = cosim_stack.client()
    usage = reader.request("GET", f"services/{GUARD}/api/usage", headers=dict(headers))
    assert usage.status_code == 200, usage.text
    guard = [r for r in service_routes() if f"/services/{GUARD}/" in r[0]]
    assert user_problems(reader, guard, headers) == []


def test_oidc_handlers_refuse_anonymous_callers(oidc_stack: CoSimStack) -> None:
    routes = hub_routes(CoSimOIDCAuthenticator)
    assert anonymous_problems(oidc_stack, routes) == []


def test_xsrf_refusal_is_told_apart(cosim_stack: CoSimStack) -> None:
    """Without the pair the hub's XSRF check answers; with it, the handler's own check does."""
    client = cosim_stack.client()
    bare = client.request("POST", "hub/discard/sample", headers={"X-XSRFToken": "x"})
    assert bare.status_code == 403 and XSRF_REFUSAL.search(refusal_message(bare)), bare.text
    assert not refused_by_check(bare)
    paired = client.request("POST", "hub/discard/sample")
    assert refused_by_check(paired), paired.text
    assert refusal_message(paired) == "Missing or invalid credentials."


@pytest.fixture(scope="module")
def unchecked_stack() -> Iterator[CoSimStack]:
    """A ``cosim up`` (hub and services) whose CoSim handlers have no authorization checks."""
    state_dir = make_state_dir("cosim-unchecked-")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(UNCHECKED_SITE))  # the hub keeps it for its services
        stack = start_cosim_up(state_dir)
    yield stack
    survivors = stop_cosim_up(stack)
    shutil.rmtree(state_dir.parent, ignore_errors=True)
    assert survivors == [], f"processes outlived cosim up: {survivors}"


def test_removing_the_checks_is_caught(unchecked_stack: CoSimStack) -> None:
    """Mutation: with the checks removed, the enumeration names every handler and every write."""
    routes = hub_routes(CoSimNativeAuthenticator) + service_routes()
    problems = anonymous_problems(unchecked_stack, routes)
    for pattern, handler in routes:
        path = _sample_path(pattern)
        mine = [p for p in problems if f" {path} ({handler.__name__})" in p]
        assert mine, f"removing {handler.__name__}'s check went unnoticed"
        for method in sorted(WRITES):
            if implemented(handler, method):
                assert any(p.startswith(f"{method} ") for p in mine), (method, path, mine)
