"""Wire profiles and the cost guard into a JupyterHub config (called by ``configure(c)``).

What it sets, each only where the config has not set it already: the spawn hooks that reserve
and release, KubeSpawner's ``profile_list`` (filtered by the user's groups), the managed
``cosim-costguard`` service with the minimal hub scopes it needs, the custom scopes that guard its
admin page and API, and a role granting those to the hub's admins.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from traitlets.config import Config

from cosim_protocol.env import COSTGUARD_URL

from ..courses.hub_config import add_server_token_scopes, extend_user_role
from ..procs import LAUNCH_ENV, free_port
from ..profiles import Profile, kubespawner_profile_list, load_profiles, profiles_for
from .settings import (
    READ_SCOPE,
    SELF_SCOPE,
    SERVICE_NAME,
    SETTINGS_ENV,
    WRITE_SCOPE,
    CoSimCostGuard,
)

if TYPE_CHECKING:
    from ..config import CoSimHub

# What the service does through the hub API: list running servers (with their activity) and stop
# them. Nothing else: no tokens, no user admin.
SERVICE_SCOPES = [
    "list:users",
    "read:users:name",
    "read:users:groups",
    "read:users:activity",
    "read:servers",
    "servers",
]
ADMIN_ROLE = "cosim-costguard-admin"


def kubespawner_profiles_for_user(profiles: list[Profile]) -> Any:
    """A ``KubeSpawner.profile_list`` callable: only the profiles the user's groups may use."""

    def profile_list(spawner: Any) -> list[dict[str, Any]]:
        groups = [g.name for g in spawner.user.groups]
        return kubespawner_profile_list(profiles_for(profiles, groups))

    return profile_list


def configure_cost_guard(c: Config, hub: CoSimHub) -> CoSimCostGuard | None:
    profiles = load_profiles(hub.profiles_file or None)  # a bad file fails the hub at start
    if hub.spawner == "kubernetes" and "profile_list" not in c.KubeSpawner:
        c.KubeSpawner.profile_list = kubespawner_profiles_for_user(profiles)
    if hub.spawner == "local" and "cluster_gpu_limit" not in c.CoSimCostGuard:
        # The cluster's GPU limit is the machine's real pool (NVML, or declared in config).
        from ..gpus import CoSimGpus, reader_for

        c.CoSimCostGuard.cluster_gpu_limit = len(reader_for(CoSimGpus(config=c)).devices())
    guard = CoSimCostGuard(config=c)
    if not guard.enabled:
        return None
    if "pre_spawn_hook" not in c.Spawner:
        c.Spawner.pre_spawn_hook = _import("pre_spawn_hook")
    if "post_stop_hook" not in c.Spawner:
        c.Spawner.post_stop_hook = _import("post_stop_hook")

    env = {
        "REDIS_URL": hub.redis_url,
        "COSIM_STATE_DIR": hub.state_dir,
        "COSIM_PROFILES_FILE": hub.profiles_file,
        SETTINGS_ENV: guard.to_json(),
    }
    from ..gpus import CoSimGpus

    env.update(CoSimGpus(config=c).to_env())
    if os.environ.get(LAUNCH_ENV):
        env[LAUNCH_ENV] = os.environ[LAUNCH_ENV]
    services = list(c.JupyterHub.get("services", []))
    ours = [s for s in services if s.get("name") == SERVICE_NAME]
    url = ours[0]["url"] if ours else f"http://{guard.service_host}:{guard.port or free_port()}"
    if not ours:
        services.append(
            {
                "name": SERVICE_NAME,
                "display": True,
                "url": url,
                "command": [sys.executable, "-m", "cosim_hub.costguard"],
                "environment": env,
                "oauth_no_confirm": True,
                "oauth_client_allowed_scopes": [READ_SCOPE, WRITE_SCOPE],
            }
        )
        c.JupyterHub.services = services

    scopes = dict(c.JupyterHub.get("custom_scopes", {}))
    scopes.setdefault(READ_SCOPE, {"description": "See CoSim usage, spend and quotas."})
    scopes.setdefault(
        WRITE_SCOPE,
        {"description": "Set CoSim quotas.", "subscopes": [READ_SCOPE]},
    )
    scopes.setdefault(SELF_SCOPE, {"description": "See your own CoSim spend, cap and notices."})
    c.JupyterHub.custom_scopes = scopes
    # The Lab banner asks the service with the server's own token; Redis keeps the ledger from
    # user servers altogether (no per-field ACLs: a readable hash shows every user's figures).
    extend_user_role(c, [f"{SELF_SCOPE}!user"])
    add_server_token_scopes(c, [f"{SELF_SCOPE}!user"])
    spawner_env = dict(c.Spawner.environment) if "environment" in c.Spawner else {}
    spawner_env.setdefault(COSTGUARD_URL, guard.user_url or f"{url}/services/{SERVICE_NAME}/")
    c.Spawner.environment = spawner_env

    roles = list(c.JupyterHub.get("load_roles", []))
    names = {r.get("name") for r in roles}
    if SERVICE_NAME not in names:
        roles.append(
            {
                "name": SERVICE_NAME,
                "description": "What the CoSim cost guard needs: see and stop servers.",
                "scopes": SERVICE_SCOPES,
                "services": [SERVICE_NAME],
            }
        )
    if ADMIN_ROLE not in names:
        roles.append(
            {
                "name": ADMIN_ROLE,
                "description": "CoSim usage page and quotas.",
                "scopes": [WRITE_SCOPE, f"access:services!service={SERVICE_NAME}"],
                "users": sorted(hub.admin_users),
            }
        )
    c.JupyterHub.load_roles = roles
    return guard


def _import(name: str) -> Any:
    from . import spawn

    return getattr(spawn, name)
