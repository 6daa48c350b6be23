"""CoSim's hub settings as traitlets, and ``configure(c)`` that applies them.

``configure(c)`` is called from a jupyterhub_config.py: the one `cosim up` writes, or a
zero-to-jupyterhub ``hub.extraConfig``. It never overrides a setting the config already made, so
a deployment's own choices (database, ports, proxy) win over CoSim's local defaults.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from traitlets import Bool, Dict, Enum, Int, List, TraitError, Unicode, default, validate
from traitlets.config import Config, Configurable

DEFAULT_STATE_DIR = "~/.local/share/cosim"


def default_state_dir() -> str:
    return os.environ.get("COSIM_STATE_DIR") or os.path.expanduser(DEFAULT_STATE_DIR)


class CoSimHub(Configurable):
    """Hub-wide CoSim settings (``c.CoSimHub.<name>``)."""

    state_dir = Unicode(
        help="""Directory for all hub-side state: hub database, cookie secret, Redis data
        (redis/), logs (logs/) and, with the local spawner, users' homes (users/<name>/).
        Deleting it resets the installation. Default: $COSIM_STATE_DIR, else
        ~/.local/share/cosim.""",
    ).tag(config=True)

    redis_url = Unicode(
        help="""Redis URL that the hub, its services and every user server use.
        Default: $REDIS_URL (`cosim up` sets it to the redis-server it started).""",
    ).tag(config=True)

    spawner = Enum(
        ["local", "kubernetes"],
        default_value="local",
        help="""How user servers run. 'local': a process per user on this machine
        (CoSimLocalSpawner; separate Unix accounts when the hub runs as root).
        'kubernetes': a pod per user (KubeSpawner; see helm-config/).""",
    ).tag(config=True)

    authenticator = Enum(
        ["native", "oidc"],
        default_value="native",
        help="""How users log in. 'native': local accounts with sign-up and admin approval
        (NativeAuthenticator). 'oidc': any OpenID Connect provider
        (oauthenticator's GenericOAuthenticator; configure it with c.GenericOAuthenticator).""",
    ).tag(config=True)

    bind_url = Unicode(
        "",
        help="""Public URL the proxy listens on, e.g. http://127.0.0.1:8000/.
        Empty: keep JupyterHub's own setting.""",
    ).tag(config=True)

    hub_port = Int(
        0,
        help="Port of the hub's internal API (0: keep JupyterHub's setting, 8081).",
    ).tag(config=True)

    proxy_api_port = Int(
        0,
        help="Port of configurable-http-proxy's REST API (0: keep JupyterHub's setting, 8001).",
    ).tag(config=True)

    admin_users = List(
        Unicode(),
        default_value=["admin"],
        help="Hub users who are admins. The first is the one `cosim up --admin` names.",
    ).tag(config=True)

    default_url = Unicode(
        "/lab", help="Where a user lands in their server (JupyterLab by default)."
    ).tag(config=True)

    redis_user_acls = Bool(
        True,
        help="""Give each user server Redis credentials of its own: before a spawn the hub runs
        ACL SETUSER for a Redis user cosim-u-<name> (fresh password, only the keys and channels
        cosim:<name>:*, read-only access to the cost guard ledger hashes the Lab banner shows, no
        dangerous commands) and passes the server that user's REDIS_URL. Needs Redis >= 6 and
        hub credentials allowed to run ACL SETUSER; where Redis refuses, servers get the shared
        URL and the hub log warns. False: every user server gets the hub's own REDIS_URL, which
        lets any user read and write every user's keys and the cost guard's ledger.""",
    ).tag(config=True)

    allow_sharing = Bool(
        True,
        help="""Let every user share their own servers with other users, groups and expiring
        share links (JupyterHub's sharing API). Grants the 'user' role shares!user plus the
        names of users and groups (list:users, read:users:name, list:groups, read:groups:name),
        which the hub requires to share with someone by name, and gives user servers' own tokens
        the same scopes so Lab's Share dialog can act for the owner. False: only admins and
        course staff can let others into a server.""",
    ).tag(config=True)

    subdomain_host = Unicode(
        "",
        help="""Serve each user server on its own origin, <user>.<host>, and the hub on this
        one (JupyterHub's subdomain_host, e.g. https://cosim.example.org): a page one user
        serves cannot then act as another user who opens it. Needs wildcard DNS
        (*.cosim.example.org) and, with TLS, a wildcard certificate. `cosim up` on a loopback
        address uses http://cosim.localhost:<port> (browsers resolve *.localhost themselves).
        Empty: every server shares the hub's origin.""",
    ).tag(config=True)

    profiles_file = Unicode(
        "",
        help="""TOML file of server profiles ([[profile]] tables: CPU/memory requests and limits,
        GPUs, node pool, price per hour, groups, idle timeout, max runtime). Empty: CoSim's
        packaged profiles.toml (CPU, GPU small, GPU large; GPUs simulated locally).""",
    ).tag(config=True)

    datasets = Dict(
        value_trait=Unicode(),
        help="""Datasets that every user server sees read-only under ~/datasets/<name>, as
        {name: absolute folder}, e.g. {"tum-fr1-xyz": "/srv/datasets/fr1_xyz"}. Names are
        1-64 letters, digits, '.', '_' or '-'. With the local spawner as root each server gets
        a read-only bind mount in its own mount namespace (writes fail with 'Read-only file
        system'); snapshots record them as references, never copies. On Kubernetes declare the
        same datasets as read-only volumes in helm-config/values.yaml (singleuser.storage).""",
    ).tag(config=True)

    @validate("datasets")
    def _check_datasets(self, proposal: Any) -> dict[str, str]:
        from .dataset_mounts import check_datasets

        return check_datasets(dict(proposal["value"]), "CoSimHub.datasets")

    @default("state_dir")
    def _default_state_dir(self) -> str:
        return default_state_dir()

    @default("redis_url")
    def _default_redis_url(self) -> str:
        return os.environ.get("REDIS_URL", "")

    @validate("bind_url")
    def _check_bind_url(self, proposal: Any) -> str:
        value = str(proposal["value"])
        if value and not value.startswith(("http://", "https://")):
            raise TraitError(f"CoSimHub.bind_url must start with http:// or https://: {value!r}")
        return value

    @validate("hub_port", "proxy_api_port")
    def _check_port(self, proposal: Any) -> int:
        port = int(proposal["value"])
        if not 0 <= port <= 65535:
            raise TraitError(f"{proposal['trait'].name} must be between 0 and 65535, not {port}")
        return port

    @property
    def hub_dir(self) -> Path:
        """Hub-private files (database, secrets): only the hub's own user may read them."""
        return Path(self.state_dir) / "hub"

    @property
    def users_dir(self) -> Path:
        return Path(self.state_dir) / "users"


def _set_default(section: Config, name: str, value: Any) -> None:
    """Set ``section.name`` only where the config has not set it already."""
    if name not in section:
        section[name] = value


def configure(c: Config) -> CoSimHub:
    """Apply CoSim's settings to a JupyterHub config object and return them."""
    settings = CoSimHub(config=c)
    hub, proxy = c.JupyterHub, c.ConfigurableHTTPProxy
    # This runs in the hub's process: its exit after the clean-up need not take seconds.
    from .procs import light_teardown

    light_teardown()

    # Hub-private state lives under state_dir unless the deployment put it elsewhere.
    settings.hub_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _set_default(hub, "db_url", f"sqlite:///{settings.hub_dir / 'jupyterhub.sqlite'}")
    _set_default(hub, "cookie_secret_file", str(settings.hub_dir / "jupyterhub_cookie_secret"))
    _set_default(proxy, "pid_file", str(settings.hub_dir / "proxy.pid"))
    if settings.bind_url:
        _set_default(hub, "bind_url", settings.bind_url)
    if settings.hub_port:
        _set_default(hub, "hub_port", settings.hub_port)
        _set_default(hub, "hub_ip", "127.0.0.1")
    if settings.proxy_api_port:
        _set_default(proxy, "api_url", f"http://127.0.0.1:{settings.proxy_api_port}")

    from .origins import configure_cookies, configure_subdomains

    configure_cookies(c)
    configure_subdomains(c, settings.subdomain_host)
    _configure_authenticator(c, settings)
    _configure_spawner(c, settings)
    from .costguard.config import configure_cost_guard

    configure_cost_guard(c, settings)
    _configure_redis_acls(c, settings)
    _configure_courses(c, settings)
    _configure_sharing(c, settings)
    # Hub-wide, sharing on or off: an admin's group shares need it too.
    from .upstream_fixes import fix_group_shares_in_tokens

    fix_group_shares_in_tokens()
    return settings


def _configure_authenticator(c: Config, settings: CoSimHub) -> None:
    _set_default(c.Authenticator, "admin_users", set(settings.admin_users))
    if settings.authenticator == "native":
        _set_default(c.JupyterHub, "authenticator_class", "cosim_hub.auth.CoSimNativeAuthenticator")
        if settings.admin_users:
            _set_default(c.CoSimNativeAuthenticator, "initial_admin", settings.admin_users[0])
        # Anyone may sign up; an admin approves each account before it can log in.
        _set_default(c.NativeAuthenticator, "open_signup", False)
        _set_default(c.NativeAuthenticator, "enable_signup", True)
        # Approved accounts are the allow list; hub >= 5 lets nobody in without one.
        _set_default(c.Authenticator, "allow_all", True)
    else:
        from .oidc_setup import configure_oidc

        configure_oidc(c, settings.hub_dir, settings.redis_url)


def _configure_spawner(c: Config, settings: CoSimHub) -> None:
    env = {"REDIS_URL": settings.redis_url} if settings.redis_url else {}
    spawner = c.Spawner
    _set_default(spawner, "default_url", settings.default_url)
    merged = dict(spawner.get("environment", {}))
    for key, value in env.items():
        merged.setdefault(key, value)
    spawner.environment = merged
    if settings.spawner == "local":
        _set_default(c.JupyterHub, "spawner_class", "cosim_hub.spawner.CoSimLocalSpawner")
        # The user server runs from the same environment as the hub.
        singleuser = str(Path(sys.executable).parent / "jupyterhub-singleuser")
        _set_default(spawner, "cmd", [singleuser])
        _set_default(c.CoSimLocalSpawner, "homes_dir", str(settings.users_dir))
        from .installation import account_prefix, installation_id

        install_id = installation_id(settings.hub_dir)
        _set_default(c.CoSimLocalSpawner, "installation_id", install_id)
        _set_default(c.CoSimLocalSpawner, "account_prefix", account_prefix(install_id))
        if settings.datasets:
            _set_default(c.CoSimLocalSpawner, "datasets", dict(settings.datasets))
    else:
        _set_default(c.JupyterHub, "spawner_class", "kubespawner.KubeSpawner")


def _configure_redis_acls(c: Config, settings: CoSimHub) -> None:
    """Wrap the pre-spawn hook (after the cost guard's, which reserves first) so that each user
    server gets its own Redis user. Hub-side services keep the admin URL."""
    if not settings.redis_user_acls or not settings.redis_url:
        return
    from .redis_acl import make_pre_spawn_hook

    c.Spawner.pre_spawn_hook = make_pre_spawn_hook(
        settings.redis_url, c.Spawner.get("pre_spawn_hook")
    )


def _configure_courses(c: Config, settings: CoSimHub) -> None:
    from .courses.hub_config import configure_courses

    # With OIDC groups claims the authenticator owns group membership (and adds course groups).
    manage_groups = settings.authenticator == "oidc" and bool(
        c.CoSimOIDCAuthenticator.get("groups_claim") or c.Authenticator.get("manage_groups")
    )
    configure_courses(c, settings.state_dir, manage_groups)


def _configure_sharing(c: Config, settings: CoSimHub) -> None:
    if not settings.allow_sharing:
        return
    from .sharing import configure_sharing

    configure_sharing(c)
