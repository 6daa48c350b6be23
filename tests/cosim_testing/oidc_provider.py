"""A local OpenID Connect provider for tests and demos: oidc-provider-mock in its own process.

It stands in for a campus provider (Keycloak, Auth0, Google) that cannot run here. Users are
predefined with their claims; the provider's own test API revokes a user's tokens
(``POST /users/<sub>/revoke-tokens``) and changes claims (``PUT /users/<sub>``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from cosim_hub.procs import free_port, terminate

from .hub_client import HubClient, HubError


@dataclass
class OIDCProvider:
    url: str
    proc: subprocess.Popen[bytes]

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def _post(self, method: str, path: str, body: Any = None) -> int:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)

    def revoke_tokens(self, sub: str) -> None:
        """What an IdP admin does to a user: every access and refresh token stops working."""
        self._post("POST", f"/users/{sub}/revoke-tokens")

    def set_claims(self, sub: str, claims: dict[str, Any]) -> None:
        self._post("PUT", f"/users/{sub}", claims)

    def stop(self) -> None:
        terminate([self.proc.pid], grace=5.0)
        self.proc.wait()


def start_oidc_provider(
    users: list[dict[str, Any]], token_max_age: int = 3600, timeout: float = 30.0
) -> OIDCProvider:
    """Start the provider with ``users`` (each a claims dict with "sub"); wait until it answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
    cmd += ["--token-max-age", str(token_max_age)]
    for user in users:
        cmd += ["--user-claims", json.dumps(user)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    provider = OIDCProvider(url=f"http://127.0.0.1:{port}", proc=proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"oidc_provider_mock exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(provider.discovery_url, timeout=2):
                return provider
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    provider.stop()
    raise RuntimeError("oidc_provider_mock did not answer in time")


def oidc_login(client: HubClient, sub: str) -> HubClient:
    """Log ``client`` in through the provider's authorization page, as a browser would."""
    start = client.session.get(client.url("hub/oauth_login?next="), timeout=client.timeout)
    if start.status_code != 200 or "/oauth2/authorize" not in start.url:
        raise HubError(f"OIDC login of {sub} did not reach the provider: {start.status_code}")
    answer = client.session.post(
        start.url, data={"sub": sub}, allow_redirects=False, timeout=client.timeout
    )
    callback = answer.headers.get("Location", "")
    if answer.status_code != 302 or "/hub/oauth_callback" not in callback:
        raise HubError(f"the provider did not send {sub} back to the hub: {answer.status_code}")
    done = client.session.get(
        urljoin(start.url, callback), allow_redirects=False, timeout=client.timeout
    )
    if done.status_code != 302:
        raise HubError(f"OIDC login of {sub} refused by the hub: {done.status_code}")
    client.user = sub
    return client


def start_oidc_stack(
    provider: OIDCProvider, refresh_interval: float = 60.0, refresh_margin: float = 60.0
) -> Any:
    """``cosim up`` in OIDC mode against ``provider`` (client secret in a file, groups claim)."""
    import secrets as _secrets

    from .stack import make_state_dir, start_cosim_up

    state_dir = make_state_dir("cosim-oidc-")
    state_dir.parent.mkdir(parents=True, exist_ok=True)
    secret = state_dir.parent / "client_secret"
    secret.write_text(_secrets.token_urlsafe(16))
    secret.chmod(0o600)
    port = free_port()
    config = f"""
c.CoSimHub.authenticator = "oidc"
c.CoSimOIDCAuthenticator.discovery_url = {provider.discovery_url!r}
c.CoSimOIDCAuthenticator.client_id = "cosim-hub"
c.CoSimOIDCAuthenticator.client_secret_file = {str(secret)!r}
c.CoSimOIDCAuthenticator.oauth_callback_url = "http://127.0.0.1:{port}/hub/oauth_callback"
c.CoSimOIDCAuthenticator.groups_claim = "groups"
c.CoSimOIDCAuthenticator.refresh_interval = {refresh_interval}
c.CoSimOIDCAuthenticator.refresh_margin = {refresh_margin}
"""
    # One origin: the test provider registers one redirect URL on the hub's own address.
    return start_cosim_up(state_dir, port=port, extra_config=config, subdomains=False)
