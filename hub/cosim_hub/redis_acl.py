"""Per-user Redis credentials: each user server reaches only its own ``cosim:<user>:`` names.

Before a spawn the hub (which holds the admin/default Redis credentials) runs ``ACL SETUSER`` for
a Redis user ``cosim-u-<name>`` with a fresh random password and passes the user server a
``REDIS_URL`` for that user instead of the admin one. What a user server, its kernels and jobs do
in Redis (see ``cosim_protocol.keys``):

- viewer publisher (kernel): SET/EXPIRE/ZADD/ZREM on ``sims``, ``sim:<id>:*``, ``scene:<hash>``;
  PUBLISH ``sim:<id>:frames``; SUBSCRIBE ``sim:<id>:control``
- viewer relay/REST (server): GET/MGET/EXISTS/ZRANGE/ZREM; SUBSCRIBE frames; PUBLISH control
- jobs: SET ``job:<id>``, XADD ``job:<id>:metrics``, DEL both; build status: SET EX/GET
- status: PING

So: keys and channels ``cosim:<user>:*``, read/write/keyspace/pub-sub/stream commands, nothing
dangerous (FLUSHALL, KEYS, CONFIG, ACL, DEBUG, ...) and no scripts (a script could reach keys it
does not declare). The cost guard's ledger is out of reach altogether: its hashes hold every
user's figures in fields, and ACLs work per key; the Lab banner asks the cost-guard service.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cosim_protocol.keys import user_pattern
from cosim_protocol.redis_client import make_async

log = logging.getLogger("cosim.redis_acl")

ACL_USER_PREFIX = "cosim-u-"
_SAFE_NAME = re.compile(r"[a-z0-9_.-]+")
_NAME_MAX = 64

KEYSPACE_WIDE_COMMANDS = (
    "scan",
    "keys",
    "randomkey",
    "dbsize",
    "select",
    "swapdb",
    "move",
    "copy",
    "flushdb",
    "flushall",
    "pubsub|channels",
    "pubsub|numpat",
    "pubsub|shardchannels",
    "memory",
)

# Categories first, then removals: later rules win in Redis ACLs.
COMMAND_RULES = (
    "+@read",
    "+@write",
    "+@keyspace",
    "+@stream",
    "+@pubsub",
    "+@connection",
    "+@transaction",
    "-@dangerous",
    "-@admin",
    "-@scripting",
    # Keyspace-wide commands list or count other users' keys (their names carry user names and
    # sim ids); SELECT/MOVE/COPY would reach other databases, outside the key patterns.
    *(f"-{command}" for command in KEYSPACE_WIDE_COMMANDS),
)


def acl_username(hub_name: str) -> str:
    """A stable Redis ACL user name for a hub user (no spaces, safe in a URL).

    Names that had to be changed or cut get a short hash so two hub users never share one.
    """
    cleaned = re.sub(r"[^a-z0-9_.-]", "-", hub_name.lower())
    name = ACL_USER_PREFIX + cleaned
    if not _SAFE_NAME.fullmatch(hub_name) or len(name) > _NAME_MAX:
        digest = hashlib.sha256(hub_name.encode()).hexdigest()[:10]
        name = f"{name[: _NAME_MAX - 11]}-{digest}"
    return name


def acl_rules(hub_name: str, password: str) -> list[str]:
    """The ``ACL SETUSER`` rules for ``hub_name``: its own names only, a fresh password."""
    own = user_pattern(hub_name)
    return [
        # Nothing left from a previous spawn (old password, patterns, commands). resetchannels
        # again: "reset" follows acl-pubsub-default, which a deployment may set to allchannels.
        "reset",
        "resetpass",
        "resetkeys",
        "resetchannels",
        "on",
        f">{password}",
        f"~{own}",
        f"&{own}",
        *COMMAND_RULES,
    ]


def user_url(admin_url: str, username: str, password: str) -> str:
    """``admin_url`` (same scheme, host, port, db and options) with this user's credentials."""
    parts = urlsplit(admin_url)
    host = "" if parts.scheme == "unix" else parts.hostname or "127.0.0.1"  # unix://u:p@/path
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class Provisioned:
    url: str
    per_user: bool  # False: the shared (admin) URL, because the hub could not manage ACLs


async def provision_user(admin_url: str, hub_name: str, *, timeout: float = 3.0) -> Provisioned:
    """Create or reset ``hub_name``'s Redis user and return the URL its server should use.

    - Redis refuses ACL commands (an external Redis without them, or credentials without the
      right): the shared URL, with a warning in the hub log, so spawns keep working.
    - Redis unreachable: the per-user URL anyway, never the admin one (fail closed); Redis
      features of that server stay unavailable until its next start.
    """
    username, password = acl_username(hub_name), secrets.token_urlsafe(32)
    url = user_url(admin_url, username, password)
    client: Any = make_async(admin_url, timeout=timeout)
    try:
        await client.execute_command("ACL", "SETUSER", username, *acl_rules(hub_name, password))
    except (RedisConnectionError, RedisTimeoutError, OSError) as err:
        log.warning(
            "Redis unreachable while creating Redis user %s for %s (%s); the server gets its "
            "own credentials and reaches Redis once it is restarted with Redis up",
            username,
            hub_name,
            err,
        )
    except RedisError as err:
        log.warning(
            "Could not create a per-user Redis user for %s (%s): the Redis at REDIS_URL does not "
            "allow the hub ACL SETUSER. User servers get the SHARED Redis credentials and can read "
            "and write every user's keys and the cost guard's ledger. Give the hub a Redis user "
            "with +acl (or Redis >= 7), or set c.CoSimHub.redis_user_acls = False to silence this.",
            hub_name,
            err,
        )
        return Provisioned(admin_url, per_user=False)
    finally:
        await client.aclose()
    return Provisioned(url, per_user=True)


def make_pre_spawn_hook(admin_url: str, previous: Any = None) -> Any:
    """A ``Spawner.pre_spawn_hook`` that runs ``previous`` (the cost guard's reservation) first,
    then gives the spawner's user server its own ``REDIS_URL``.

    Replaced: the hub's own URL, and a Kubernetes env source (``{"valueFrom": ...}``, as
    helm-config's ``singleuser.extraEnv`` reads the shared URL from the ``cosim-redis`` secret).
    A deployment that put a different plain ``REDIS_URL`` into the spawner's environment keeps it.
    """

    async def pre_spawn_hook(spawner: Any) -> None:
        if previous is not None:
            result = previous(spawner)
            if inspect.isawaitable(result):
                await result
        current = spawner.environment.get("REDIS_URL", admin_url)
        if isinstance(current, str) and current != admin_url:
            return
        provisioned = await provision_user(admin_url, spawner.user.name)
        spawner.environment = {**spawner.environment, "REDIS_URL": provisioned.url}
        if provisioned.per_user:
            spawner.log.info(
                "User server of %s gets Redis user %s",
                spawner.user.name,
                acl_username(spawner.user.name),
            )

    return pre_spawn_hook
