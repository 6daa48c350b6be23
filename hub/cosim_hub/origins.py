"""How browsers keep users apart: cookie scope (and, with subdomains, one origin per user).

A page that one user serves (``files/``, a proxied port) runs in the browser of whoever opens it.
Hub cookies are ``SameSite=Lax`` so no other site's form or script request carries them; state
changes also need the hub's XSRF token.
"""

from __future__ import annotations

from typing import Any

from traitlets.config import Config

SAMESITE = "Lax"


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
