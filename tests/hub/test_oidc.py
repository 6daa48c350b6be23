"""OIDC mode against a real local provider process: login, claims, refresh, revocation, blocks."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from oidc_testing import REFRESH_MARGIN, TOKEN_AGE
from route_auth import anonymous_problems, hub_routes, user_problems

from cosim_hub.oidc import CoSimOIDCAuthenticator
from cosim_testing.hub_client import HubClient, HubError
from cosim_testing.oidc_provider import OIDCProvider, oidc_login
from cosim_testing.stack import CoSimStack

pytestmark = pytest.mark.stack


def _login(stack: CoSimStack, name: str) -> HubClient:
    return oidc_login(stack.client(), name)


def _auth_state(admin: HubClient, name: str) -> dict[str, Any]:
    resp = admin.api("GET", f"users/{name}")
    assert resp.status_code == 200, resp.text
    return resp.json().get("auth_state") or {}


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _userinfo(provider: OIDCProvider, access_token: str) -> int:
    resp = requests.get(
        f"{provider.url}/userinfo", headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    )
    return resp.status_code


def test_login_maps_claims_to_name_and_groups(oidc_stack: CoSimStack) -> None:
    olivia = _login(oidc_stack, "olivia")
    me = olivia.api("GET", "user").json()
    assert me["name"] == "olivia"
    assert {"robotics-101", "lab-a"} <= set(me["groups"])
    admin = _login(oidc_stack, "admin")
    assert admin.api("GET", "user").json()["admin"] is True
    state = _auth_state(admin, "olivia")
    assert state["oauth_user"]["email"] == "olivia@uni.example"
    assert state["refresh_token"] and state["cosim_expires_at"] > time.time()
    # Local accounts are off in this mode: the password form does not log anyone in.
    with pytest.raises(HubError):
        oidc_stack.client().login("admin", oidc_stack.admin_password)


def test_unknown_provider_user_cannot_fake_a_name(oidc_stack: CoSimStack) -> None:
    """A subject without preferred_username gets no hub account under someone else's name."""
    client = oidc_stack.client()
    with pytest.raises(HubError, match="refused by the hub: 403"):
        oidc_login(client, "olivia@evil")
    assert client.api("GET", "user").status_code == 403


def test_hub_routes_refuse_callers_without_the_scope(oidc_stack: CoSimStack) -> None:
    """Every CoSim handler of the OIDC hub (from its routing table, as in
    test_hub_routes_auth.py, whose mutation stack shows this fails when a check is removed)
    refuses an anonymous caller, and a logged-in user who is not an admin changes nothing."""
    routes = hub_routes(CoSimOIDCAuthenticator)
    assert anonymous_problems(oidc_stack, routes) == []
    assert user_problems(_login(oidc_stack, "quinn"), routes) == []


def test_tokens_are_refreshed_before_they_expire(
    oidc_stack: CoSimStack, oidc_provider: OIDCProvider
) -> None:
    petra = _login(oidc_stack, "petra")
    admin = _login(oidc_stack, "admin")
    first = _auth_state(admin, "petra")
    first_expiry = first["cosim_expires_at"]
    _wait(
        lambda: _auth_state(admin, "petra")["access_token"] != first["access_token"],
        timeout=TOKEN_AGE - REFRESH_MARGIN + 10,
        what="a refreshed access token",
    )
    assert time.time() < first_expiry, "the refresh came only after the old token expired"
    second = _auth_state(admin, "petra")
    assert second["cosim_expires_at"] > first_expiry
    assert second["refresh_token"]
    assert _userinfo(oidc_provider, second["access_token"]) == 200
    assert petra.api("GET", "user").status_code == 200

    # Token exchange: a service or server with the right scope gets a working provider token.
    resp = admin.api("GET", "cosim/oidc/users/petra/token")
    assert resp.status_code == 200
    assert _userinfo(oidc_provider, resp.json()["access_token"]) == 200
    assert petra.api("GET", "cosim/oidc/users/olivia/token").status_code == 403


def test_revoked_refresh_token_logs_the_user_out(
    oidc_stack: CoSimStack, oidc_provider: OIDCProvider
) -> None:
    quinn = _login(oidc_stack, "quinn")
    token = quinn.api("POST", "users/quinn/tokens", json={"note": "script"}).json()["token"]
    headers = {"Authorization": f"token {token}"}
    url = f"{oidc_stack.url}/hub/api/user"
    assert requests.get(url, headers=headers, timeout=10).status_code == 200

    oidc_provider.revoke_tokens("quinn")  # the IdP admin revokes quinn's grant
    _wait(
        lambda: requests.get(url, headers=headers, timeout=10).status_code == 403,
        timeout=TOKEN_AGE - REFRESH_MARGIN + 10,
        what="quinn's API token to be refused",
    )
    assert quinn.api("GET", "user").status_code == 403  # the login cookie is dead too
    admin = _login(oidc_stack, "admin")
    assert _auth_state(admin, "quinn") == {}
    # Logging in again at the provider gives a fresh, working session.
    assert _login(oidc_stack, "quinn").api("GET", "user").status_code == 200


def test_blocked_user_is_logged_out_and_refused(oidc_stack: CoSimStack) -> None:
    rita = _login(oidc_stack, "rita")
    rita.spawn()
    assert oidc_stack.server_pids("rita")
    token = rita.api("POST", "users/rita/tokens", json={"note": "script"}).json()["token"]
    headers = {"Authorization": f"token {token}"}
    url = f"{oidc_stack.url}/hub/api/user"

    sam = _login(oidc_stack, "sam")
    assert sam.api("POST", "cosim/oidc/users/rita/block").status_code == 403  # admins only

    admin = _login(oidc_stack, "admin")
    assert admin.api("POST", "cosim/oidc/users/rita/block").status_code == 200
    assert requests.get(url, headers=headers, timeout=10).status_code == 403
    assert rita.api("GET", "user").status_code == 403
    _wait(lambda: not oidc_stack.server_pids("rita"), 30, "rita's server to stop")
    assert admin.api("GET", "cosim/oidc/blocked").json()["blocked"] == ["rita"]
    with pytest.raises(HubError):
        _login(oidc_stack, "rita")

    assert admin.api("DELETE", "cosim/oidc/users/rita/block").status_code == 200
    assert _login(oidc_stack, "rita").api("GET", "user").status_code == 200


def _stack_redis_url(stack: CoSimStack) -> str:
    config = (stack.state_dir / "hub" / "jupyterhub_config.py").read_text()
    return config.split("c.CoSimHub.redis_url = ")[1].splitlines()[0].strip("'\"")


def test_a_scoped_token_exchanges_for_the_provider_token(
    oidc_stack: CoSimStack, oidc_provider: OIDCProvider
) -> None:
    """What a user server (or a service given the scope) does to call provider APIs."""
    olivia = _login(oidc_stack, "olivia")
    scope = "custom:cosim-oidc:provider-token!user"
    reply = olivia.api("POST", "users/olivia/tokens", json={"scopes": [scope], "note": "svc"})
    assert reply.status_code == 201, reply.text
    headers = {"Authorization": f"token {reply.json()['token']}"}
    base = f"{oidc_stack.url}/hub/api/cosim/oidc/users"
    got = requests.get(f"{base}/olivia/token", headers=headers, timeout=10)
    assert got.status_code == 200 and got.headers["Cache-Control"] == "no-store"
    assert _userinfo(oidc_provider, got.json()["access_token"]) == 200
    assert requests.get(f"{base}/petra/token", headers=headers, timeout=10).status_code == 403
    # An ordinary token of the same user (without the scope) gets nothing.
    plain = olivia.api("POST", "users/olivia/tokens", json={"scopes": ["read:users:name!user"]})
    other = {"Authorization": f"token {plain.json()['token']}"}
    assert requests.get(f"{base}/olivia/token", headers=other, timeout=10).status_code == 403


def _on_other_replica(stack: CoSimStack, action: str, name: str) -> None:
    """What another hub replica does: write to the shared list in Redis."""
    import asyncio

    from cosim_hub.revocation import RedisRevocationList

    async def run() -> None:
        replica = RedisRevocationList(_stack_redis_url(stack))
        try:
            await getattr(replica, action)(name)
        finally:
            await replica.close()

    asyncio.run(run())


def test_revocations_in_redis_reach_this_hub(oidc_stack: CoSimStack) -> None:
    """Another hub replica revokes or blocks through Redis; this hub follows within a sweep."""
    sam = _login(oidc_stack, "sam")
    token = sam.api("POST", "users/sam/tokens", json={"note": "script"}).json()["token"]
    headers = {"Authorization": f"token {token}"}
    url = f"{oidc_stack.url}/hub/api/user"
    assert requests.get(url, headers=headers, timeout=10).status_code == 200

    _on_other_replica(oidc_stack, "mark_revoked", "sam")
    _wait(
        lambda: requests.get(url, headers=headers, timeout=10).status_code == 403,
        timeout=10,
        what="sam's token to be refused after a revocation on another replica",
    )
    assert _login(oidc_stack, "sam").api("GET", "user").status_code == 200  # may log in again

    _on_other_replica(oidc_stack, "block", "sam")
    try:
        with pytest.raises(HubError):
            _login(oidc_stack, "sam")
    finally:
        _on_other_replica(oidc_stack, "unblock", "sam")


def test_provider_groups_and_course_groups_live_side_by_side(oidc_stack: CoSimStack) -> None:
    """The groups claim owns group membership, yet a login never drops a course group."""
    admin = _login(oidc_stack, "admin")
    roster = {"id": "oidc101", "instructors": ["petra"], "students": ["olivia"]}
    assert admin.api("POST", "cosim/courses", json=roster).status_code == 201
    olivia = _login(oidc_stack, "olivia")  # a fresh login re-applies the provider's groups
    groups = set(olivia.api("GET", "user").json()["groups"])
    assert {"robotics-101", "lab-a", "course-oidc101-students"} <= groups


def test_an_unreachable_provider_stops_the_hub_with_a_clear_message(tmp_path: Any) -> None:
    import shutil

    from cosim_hub.procs import free_port
    from cosim_testing.stack import make_state_dir, start_cosim_up

    state = make_state_dir("cosim-oidc-bad-")
    config = f"""
c.CoSimHub.authenticator = "oidc"
c.CoSimOIDCAuthenticator.discovery_url = "http://127.0.0.1:{free_port()}/.well-known/x"
c.CoSimOIDCAuthenticator.client_id = "cosim-hub"
"""
    try:
        with pytest.raises(RuntimeError) as err:
            start_cosim_up(state, extra_config=config, timeout=60)
        assert "OIDC discovery document" in str(err.value)
        assert "could not be read" in str(err.value)
    finally:
        shutil.rmtree(state.parent, ignore_errors=True)
