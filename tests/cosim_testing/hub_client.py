"""A small HTTP client for a running hub: log in, sign up, approve, spawn, stop.

Used by the test fixtures and the benchmarks, so both drive the hub the way a browser does
(login form, cookies, XSRF) rather than through private shortcuts.
"""

from __future__ import annotations

import time
from typing import Any

import requests


class HubError(RuntimeError):
    pass


class HubClient:
    """One logged-in (or anonymous) browser-like session against a hub at ``base_url``."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.user: str | None = None

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _xsrf_cookie(self, path: str) -> str | None:
        """The _xsrf cookie that a browser would send with ``path``: the hub sets one under
        /hub/ and each user server its own under /user/<name>/; the longest match wins."""
        best, best_len = None, -1
        for cookie in self.session.cookies:
            prefix = cookie.path.rstrip("/")
            if cookie.name == "_xsrf" and path.startswith(prefix) and len(prefix) > best_len:
                best, best_len = cookie.value, len(prefix)
        return best

    def _xsrf(self, path: str = "/hub/") -> str:
        token = self._xsrf_cookie(path)
        if not token and path.startswith("/hub"):
            self.session.get(self.url("hub/login"), timeout=self.timeout)
            token = self._xsrf_cookie(path)
        return token or ""

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if method.upper() not in ("GET", "HEAD"):
            headers.setdefault("X-XSRFToken", self._xsrf("/" + path.lstrip("/")))
        kwargs.setdefault("timeout", self.timeout)
        return self.session.request(method, self.url(path), headers=headers, **kwargs)

    def signup(self, name: str, password: str) -> None:
        resp = self.request(
            "POST",
            "hub/signup",
            data={
                "username": name,
                "signup_password": password,
                "signup_password_confirmation": password,
                "_xsrf": self._xsrf(),
            },
        )
        if resp.status_code >= 400:
            raise HubError(f"signup of {name} failed: {resp.status_code}")

    def login(self, name: str, password: str) -> HubClient:
        resp = self.request(
            "POST",
            "hub/login?next=",
            data={"username": name, "password": password, "_xsrf": self._xsrf()},
            allow_redirects=False,
        )
        if resp.status_code != 302 or "jupyterhub-session-id" not in self.session.cookies:
            raise HubError(f"login of {name} failed: {resp.status_code}")
        self.user = name
        return self

    def approve(self, name: str) -> None:
        """Admin only: NativeAuthenticator's approval link."""
        resp = self.request("GET", f"hub/authorize/{name}", allow_redirects=False)
        if resp.status_code >= 400:
            raise HubError(f"approving {name} failed: {resp.status_code}")

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.request(method, f"hub/api/{path.lstrip('/')}", **kwargs)

    def server_ready(self, name: str | None = None) -> bool:
        info = self.api("GET", f"users/{name or self.user}").json()
        server = (info.get("servers") or {}).get("")
        return bool(server and server.get("ready"))

    def spawn(self, name: str | None = None, timeout: float = 90.0) -> str:
        """Start the default server and wait until it answers; returns its URL prefix."""
        name = name or self.user
        resp = self.api("POST", f"users/{name}/server")
        if resp.status_code not in (201, 202, 400):  # 400: already running
            raise HubError(f"spawn of {name} failed: {resp.status_code} {resp.text[:200]}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server_ready(name):
                return self.url(f"user/{name}/")
            time.sleep(0.2)
        raise HubError(f"server of {name} not ready after {timeout:.0f}s")

    def stop(self, name: str | None = None, timeout: float = 30.0) -> None:
        name = name or self.user
        self.api("DELETE", f"users/{name}/server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.api("GET", f"users/{name}").json()
            if not (info.get("servers") or {}).get(""):
                return
            time.sleep(0.2)
        raise HubError(f"server of {name} did not stop after {timeout:.0f}s")

    def open_lab(self, name: str | None = None) -> requests.Response:
        """Follow the OAuth dance into the user's server, as a browser does."""
        return self.request("GET", f"user/{name or self.user}/lab")
