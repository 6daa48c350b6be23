"""``configure_oidc(c, ...)``: the hub settings that OpenID Connect login needs.

Only defaults: anything the deployment set in its own config stays as it is.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from traitlets.config import Config

from .oidc_handlers import CUSTOM_SCOPES, PROVIDER_TOKEN_SCOPE

CRYPT_KEY_ENV = "JUPYTERHUB_CRYPT_KEY"


def _set_default(section: Any, name: str, value: Any) -> None:
    if name not in section:
        section[name] = value


def crypt_keys(hub_dir: Path) -> list[str]:
    """auth_state encryption keys: $JUPYTERHUB_CRYPT_KEY, else a key file in the hub dir."""
    if os.environ.get(CRYPT_KEY_ENV):
        return [k for k in os.environ[CRYPT_KEY_ENV].split(";") if k.strip()]
    path = hub_dir / "auth_state_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return [path.read_text().strip()]


def configure_oidc(c: Config, hub_dir: Path, redis_url: str) -> None:
    from .courses.hub_config import add_server_token_scopes, extend_user_role

    _set_default(c.JupyterHub, "authenticator_class", "cosim_hub.oidc.CoSimOIDCAuthenticator")
    auth = c.CoSimOIDCAuthenticator
    _set_default(auth, "redis_url", redis_url)
    _set_default(c.Authenticator, "enable_auth_state", True)
    if "keys" not in c.CryptKeeper:
        c.CryptKeeper.keys = crypt_keys(hub_dir)
    _set_default(c.GenericOAuthenticator, "username_claim", "preferred_username")
    _set_default(c.GenericOAuthenticator, "scope", ["openid", "profile", "email"])
    # client_secret_basic: OIDC's default token endpoint auth, the one every provider accepts.
    _set_default(c.GenericOAuthenticator, "basic_auth", True)
    interval = float(auth.get("refresh_interval", 60.0))
    # A user's requests re-check their tokens (and the block list) at least this often.
    _set_default(c.Authenticator, "auth_refresh_age", max(1, int(interval)))
    _set_default(c.Authenticator, "refresh_pre_spawn", True)
    if not any(k in c.Authenticator or k in auth for k in ("allowed_users", "allowed_groups")):
        # Whoever the provider lets log in may use CoSim, unless the deployment lists whom.
        _set_default(c.Authenticator, "allow_all", True)
    custom = dict(c.JupyterHub.custom_scopes) if "custom_scopes" in c.JupyterHub else {}
    custom.update(CUSTOM_SCOPES)
    c.JupyterHub.custom_scopes = custom
    # Every user holds the exchange for themselves, so their servers' tokens can carry it.
    extend_user_role(c, [f"{PROVIDER_TOKEN_SCOPE}!user"])
    add_server_token_scopes(c, [f"{PROVIDER_TOKEN_SCOPE}!user"])
