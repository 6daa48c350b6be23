"""A small HTTP client for a running hub: log in, sign up, approve, spawn, stop.

Used by the test fixtures and the benchmarks, so both drive the hub the way a browser does
(login form, cookies, XSRF) rather than through private shortcuts.
"""

from __future__ import annotations

import re
import socket
import time
from typing import Any
from urllib.parse import urljoin

import requests

from cosim_hub.origins import subdomain_origin

# Paths served on their own origin with subdomains: user servers and hub services.
_OWN_ORIGIN_PATH = re.compile(r"/?(user|services)/([^/?#]+)")
_real_getaddrinfo = socket.getaddrinfo


def _getaddrinfo_localhost_subdomains(host: Any, *args: Any, **kwargs: Any) -> Any:
    # Browsers resolve *.localhost to loopback themselves (RFC 6761); glibc here does not.
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _real_getaddrinfo(host, *args, **kwargs)


def resolve_localhost_subdomains() -> None:
    """Make this process resolve ``<anything>.localhost`` to 127.0.0.1, as browsers do, so
    clients keep the real host names (Host header, cookies per origin) of per-user origins."""
    socket.getaddrinfo = _getaddrinfo_localhost_subdomains


class HubError(RuntimeError):
    pass


class HubClient:
    """One logged-in (or anonymous) browser-like session against a hub at ``base_url``."""

    def __init__(self, base_url: str, timeout: float = 30.0, subdomains: bool = False) -> None:
        """``subdomains``: the hub runs with subdomain_host = ``base_url``, so each user's
        server is at ``<name>.<host>`` (paths ``user/<name>/...`` go there, and
        ``services/<name>/...`` to ``<name>--service.<host>``)."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.subdomains = subdomains
        self.session = requests.Session()
        self.user: str | None = None
        if subdomains:
            resolve_localhost_subdomains()

    def url(self, path: str) -> str:
        path = path.lstrip("/")
        match = _OWN_ORIGIN_PATH.match(path)
        if self.subdomains and match:
            kind = "user" if match.group(1) == "user" else "service"
            return f"{subdomain_origin(self.base_url, match.group(2), kind)}/{path}"
        return f"{self.base_url}/{path}"

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

    def approve(self, name: str, approve: bool = True) -> None:
        """Admin only: the approval button on /hub/authorize (a POST with the hub's _xsrf)."""
        resp = self.request(
            "POST",
            f"hub/authorize/{name}",
            data={"approve": "1" if approve else "0", "_xsrf": self._xsrf()},
            allow_redirects=False,
        )
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

    def open_shared(self, owner: str) -> requests.Response:
        """Open a server shared with this user: the hub shows its "Authorize access" page on
        the first visit, submitted here as the browser's button does."""
        response = self.request("GET", f"user/{owner}/lab")
        if "oauth2/authorize" not in response.url or response.status_code != 200:
            return response
        form = re.search(r'<form[^>]*action="([^"]*)"', response.text)
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', response.text))
        scopes = re.findall(r'name="scopes"[^>]*value="([^"]*)"', response.text)
        action = form.group(1).replace("&amp;", "&") if form else response.url
        data: list[tuple[str, str]] = [(k, v) for k, v in fields.items() if k != "scopes"]
        data += [("scopes", s) for s in scopes]
        return self.session.post(urljoin(response.url, action), data=data, timeout=self.timeout)
