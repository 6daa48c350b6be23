"""Every handler CoSim adds to the hub, and every handler of CoSim's hub services, refuses what the
caller may not do, in a real ``cosim up`` stack.

The routes come from the routing tables themselves (``route_auth.py``): the handlers each
authenticator gives the hub (``get_handlers``, as JupyterHub calls it), the cost guard's
``routes(prefix)`` and the course exchange's ``make_app(...)`` router. A handler added to any of
them is covered without editing this test. Writes carry the hub's real XSRF pair, so a refusal is
the handler's own check, not XSRF's. The OIDC handlers are checked on the OIDC stack of
``test_oidc.py``.

``test_removing_the_checks_is_caught`` runs the same enumeration against two ``cosim up`` whose
CoSim handlers lost their checks (``unchecked_site/sitecustomize.py``), one with local accounts
(its hub pages, courses, both services) and one with OpenID Connect login against the test
provider (the OIDC handlers), and shows it names every handler and every write.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from route_auth import (
    REACHED_HEADER,
    WRITES,
    XSRF_REFUSAL,
    anonymous_problems,
    hub_routes,
    implemented,
    probe_anonymously,
    refusal_message,
    refused_by_check,
    service_routes,
    user_problems,
)

from cosim_hub.auth import CoSimNativeAuthenticator
from cosim_hub.costguard.settings import READ_SCOPE
from cosim_hub.costguard.settings import SERVICE_NAME as GUARD
from cosim_hub.oidc import CoSimOIDCAuthenticator
from cosim_testing.oidc_provider import OIDCProvider, start_oidc_stack
from cosim_testing.routing import sample_path
from cosim_testing.stack import CoSimStack, make_state_dir, start_cosim_up, stop_cosim_up

UNCHECKED_SITE = Path(__file__).parent / "unchecked_site"


def test_routes_are_enumerated() -> None:
    names = {h.__name__ for _, h in hub_routes(CoSimNativeAuthenticator)}
    assert {"CoursesAPIHandler", "CourseAPIHandler", "CoursesPageHandler"} <= names
    assert {"ApprovalHandler", "DiscardHandler", "AuthorizationAreaHandler"} <= names
    names = {h.__name__ for _, h in hub_routes(CoSimOIDCAuthenticator)}
    oidc = {"BlockedListHandler", "BlockHandler", "RevokeHandler", "ProviderTokenHandler"}
    assert oidc <= names
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


def test_xsrf_refusal_is_told_apart(cosim_stack: CoSimStack) -> None:
    """Without the pair the hub's XSRF check answers; with it, the handler's own check does."""
    client = cosim_stack.client()
    bare = client.request("POST", "hub/discard/sample", headers={"X-XSRFToken": "x"})
    assert bare.status_code == 403 and XSRF_REFUSAL.search(refusal_message(bare)), bare.text
    assert not refused_by_check(bare)
    paired = client.request("POST", "hub/discard/sample")
    assert refused_by_check(paired), paired.text
    assert refusal_message(paired) == "Missing or invalid credentials."


def _start_all(starts: dict[str, Callable[[], CoSimStack]]) -> dict[str, CoSimStack]:
    """Start the stacks side by side (each start is mostly one process waiting on another);
    if one fails, stop the others before raising."""
    with ThreadPoolExecutor(len(starts)) as pool:
        futures = {name: pool.submit(start) for name, start in starts.items()}
    started = {n: f.result() for n, f in futures.items() if f.exception() is None}
    failed = [f.exception() for f in futures.values() if f.exception() is not None]
    if failed:
        _stop_all(started)
        raise failed[0]  # type: ignore[misc]
    return started


def _stop_all(stacks: dict[str, CoSimStack]) -> list[int]:
    with ThreadPoolExecutor(max(1, len(stacks))) as pool:
        survivors = list(pool.map(stop_cosim_up, stacks.values()))
    for stack in stacks.values():
        shutil.rmtree(stack.state_dir.parent, ignore_errors=True)
    return [pid for pids in survivors for pid in pids]


@pytest.fixture(scope="module")
def unchecked_stacks(oidc_provider: OIDCProvider) -> Iterator[dict[str, CoSimStack]]:
    """Two ``cosim up`` (hub and services) whose CoSim handlers have no authorization checks:
    "native" with local accounts, "oidc" logging in through the test provider."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(UNCHECKED_SITE))  # the hub keeps it for its services
        stacks = _start_all(
            {
                "native": lambda: start_cosim_up(make_state_dir("cosim-unchecked-")),
                "oidc": lambda: start_oidc_stack(oidc_provider),
            }
        )
    yield stacks
    survivors = _stop_all(stacks)
    assert survivors == [], f"processes outlived cosim up: {survivors}"


MUTATED = {
    # Local accounts: CoSim's hub pages and API, and both hub services.
    "native": lambda: hub_routes(CoSimNativeAuthenticator) + service_routes(),
    # OpenID Connect: its block, revoke and token API (and the course routes every mode has).
    "oidc": lambda: hub_routes(CoSimOIDCAuthenticator),
}


@pytest.mark.parametrize("mode", sorted(MUTATED))
def test_removing_the_checks_is_caught(unchecked_stacks: dict[str, CoSimStack], mode: str) -> None:
    """Mutation: with the checks removed, the enumeration names every handler and every write,
    each answered by the handler itself (not a 404 of a route the hub does not serve)."""
    routes = MUTATED[mode]()
    probes = probe_anonymously(unchecked_stacks[mode], routes)
    problems = [p for p in probes if p.let_through]
    for pattern, handler in routes:
        path = sample_path(pattern)
        mine = [p for p in problems if p.path == path and p.handler is handler]
        assert mine, f"removing {handler.__name__}'s check went unnoticed"
        for probe in mine:
            reached = probe.resp.headers.get(REACHED_HEADER)
            assert reached == handler.__name__, f"{probe} did not reach the handler"
        for method in sorted(WRITES):
            if implemented(handler, method):
                assert any(p.method == method for p in mine), (method, path, [str(p) for p in mine])
