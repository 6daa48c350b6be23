"""Hub accounts against the real stack: approval only by POST with XSRF, SameSite cookies,
minimum password length and login throttling (with the admin's own browser-like session)."""

from __future__ import annotations

import secrets

import pytest

from cosim_testing.hub_client import HubClient, HubError
from cosim_testing.stack import CoSimStack


def _cannot_log_in(stack: CoSimStack, name: str, password: str) -> bool:
    try:
        stack.client().login(name, password)
    except HubError:
        return True
    return False


def _pending_signup(stack: CoSimStack, prefix: str) -> tuple[str, str]:
    name, password = f"{prefix}{secrets.token_hex(2)}", secrets.token_urlsafe(12)
    stack.client().signup(name, password)
    assert _cannot_log_in(stack, name, password), "a fresh sign-up must wait for approval"
    return name, password


def test_get_never_changes_approval(cosim_stack: CoSimStack) -> None:
    admin = cosim_stack.admin_client()
    name, password = _pending_signup(cosim_stack, "getmal")
    for path in (f"hub/authorize/{name}", f"hub/discard/{name}"):
        for _ in range(2):  # upstream toggled: twice would have undone it
            resp = admin.request("GET", path, allow_redirects=False)
            assert resp.status_code == 405, (path, resp.status_code)
    admin.request("GET", f"hub/authorize/{name}", allow_redirects=False)
    assert _cannot_log_in(cosim_stack, name, password)
    # Not discarded either: the admin can still approve it, by POST.
    admin.approve(name)
    cosim_stack.client().login(name, password)


def _post_without_token(admin: HubClient, path: str, **headers: str) -> int:
    """A POST carrying the admin's cookies but not the XSRF token, as another site's form does."""
    resp = admin.session.post(
        admin.url(path),
        data={"approve": "1"},
        headers=headers,
        allow_redirects=False,
        timeout=admin.timeout,
    )
    return resp.status_code


def test_cross_site_post_is_refused(cosim_stack: CoSimStack) -> None:
    admin = cosim_stack.admin_client()
    name, password = _pending_signup(cosim_stack, "xsmal")
    evil = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert _post_without_token(admin, f"hub/authorize/{name}", **evil) == 403
    assert _post_without_token(admin, f"hub/authorize/{name}") == 403
    assert _post_without_token(admin, f"hub/discard/{name}", **evil) == 403
    assert _cannot_log_in(cosim_stack, name, password)

    # The authorize page's own forms carry the token: approve, unapprove, discard.
    page = admin.request("GET", "hub/authorize")
    assert page.status_code == 200
    assert f'action="/hub/authorize/{name}"' in page.text and 'name="_xsrf"' in page.text
    admin.approve(name)
    cosim_stack.client().login(name, password)
    admin.approve(name, approve=False)
    assert _cannot_log_in(cosim_stack, name, password)
    resp = admin.request("POST", f"hub/discard/{name}", data={}, allow_redirects=False)
    assert resp.status_code == 303
    with pytest.raises(HubError):
        admin.approve(name)  # 404: the sign-up is gone

    # A non-admin with a valid token of their own is refused.
    user, _ = cosim_stack.new_user(f"plain{secrets.token_hex(2)}")
    other, other_password = _pending_signup(cosim_stack, "xsmal")
    resp = user.request("POST", f"hub/authorize/{other}", data={}, allow_redirects=False)
    assert resp.status_code == 403
    assert _cannot_log_in(cosim_stack, other, other_password)


def test_hub_cookies_are_samesite_lax(cosim_stack: CoSimStack) -> None:
    client = cosim_stack.client()
    client.session.get(client.url("hub/login"), timeout=client.timeout)
    resp = client.request(
        "POST",
        "hub/login?next=",
        data={
            "username": cosim_stack.admin,
            "password": cosim_stack.admin_password,
            "_xsrf": client._xsrf(),
        },
        allow_redirects=False,
    )
    assert resp.status_code == 302
    set_cookies = resp.raw.headers.getlist("Set-Cookie")
    names = {h.split("=", 1)[0] for h in set_cookies}
    assert {"jupyterhub-session-id", "jupyterhub-hub-login"} <= names, names
    for header in set_cookies:
        assert "samesite=lax" in header.lower(), header


def test_short_passwords_are_refused(cosim_stack: CoSimStack) -> None:
    admin = cosim_stack.admin_client()
    name = f"shorty{secrets.token_hex(2)}"
    cosim_stack.client().signup(name, "abc123")
    with pytest.raises(HubError):
        admin.approve(name)  # 404: no account was created


def test_repeated_failed_logins_lock_the_account(cosim_stack: CoSimStack) -> None:
    name = f"locked{secrets.token_hex(2)}"
    _, password = cosim_stack.new_user(name)
    for _ in range(5):
        assert _cannot_log_in(cosim_stack, name, "not-the-password")
    assert _cannot_log_in(cosim_stack, name, password), "the right password worked while locked"
    # Other accounts are not affected.
    cosim_stack.admin_client()
