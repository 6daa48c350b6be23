"""How browsers keep users apart: one origin per user server, and cookie scope.

A page that one user serves (``files/``, a proxied port) runs in the browser of whoever opens it.
With ``subdomain_host`` (JupyterHub's own setting) each server has its own origin,
``<user>.<host>``, apart from the hub's: such a page cannot read another user's server or the
hub with the visitor's cookies. Hub cookies are also ``SameSite=Lax`` so no other site's form or
script request carries them; state changes also need the hub's XSRF token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from traitlets.config import Config

SAMESITE = "Lax"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
# The hub's own name locally. A dotted name, not bare "localhost": JupyterHub shares its session
# id cookie with the users' hosts through Domain=<hub host>, which clients refuse for dotless
# names. http://localhost:<port> still works: the hub redirects it here.
LOCAL_HUB_HOST = "cosim.localhost"


def local_subdomain_host(ip: str, port: int) -> str:
    """The subdomain host `cosim up` uses on a loopback address (users at
    ``<name>.cosim.localhost``): browsers resolve ``*.localhost`` to loopback themselves, so no
    DNS is needed. Empty elsewhere (other addresses need wildcard DNS and a wildcard certificate:
    set c.CoSimHub.subdomain_host yourself)."""
    return f"http://{LOCAL_HUB_HOST}:{port}" if ip in LOOPBACK_HOSTS else ""


def subdomain_origin(subdomain_host: str, name: str, kind: str = "user") -> str:
    """The origin JupyterHub serves user ``name``'s server (or service ``name``, kind
    'service') on: ``<name>.<host>`` / ``<name>--service.<host>``, as its idna hook names them."""
    from jupyterhub.utils import subdomain_hook_idna

    parts = urlsplit(subdomain_host)
    domain = subdomain_hook_idna(name, parts.hostname, kind)
    return f"{parts.scheme}://{domain}" + (f":{parts.port}" if parts.port else "")


def configure_subdomains(c: Config, subdomain_host: str) -> None:
    if subdomain_host and "subdomain_host" not in c.JupyterHub:
        c.JupyterHub.subdomain_host = subdomain_host


def configure_cookies(c: Config) -> None:
    """SameSite=Lax on every hub cookie (session, login, XSRF) and, through the spawner's
    JUPYTERHUB_COOKIE_OPTIONS, on the cookies user servers set. A deployment's own choice wins."""
    settings: dict[str, Any] = (
        dict(c.JupyterHub.tornado_settings) if "tornado_settings" in c.JupyterHub else {}
    )
    options = dict(settings.get("cookie_options") or {})
    options.setdefault("samesite", SAMESITE)
    settings["cookie_options"] = options
    c.JupyterHub.tornado_settings = settings
