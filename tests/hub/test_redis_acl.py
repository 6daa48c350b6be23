"""Per-user Redis users against a real redis-server: own names work, everything else is NOPERM."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from redis.exceptions import NoPermissionError

from cosim.publisher import Publisher
from cosim_hub.costguard.ledger import Ledger, Quota, Reservation
from cosim_hub.redis_acl import acl_username, provision_user, user_url
from cosim_protocol.keys import Keys, glob_escape, namespace_name
from cosim_protocol.limits import REDIS_MAX_VALUE_BYTES, REDIS_MAXMEMORY
from cosim_protocol.viewer import END_MESSAGE

# Hub user names with characters Redis globs treat specially must be literal in the patterns.
ODD = "a*l?i[c]e\\x"


def _provision(admin_url: str, name: str) -> str:
    provisioned = asyncio.run(provision_user(admin_url, name))
    assert provisioned.per_user
    return provisioned.url


@pytest.mark.parametrize("name", ["alice", ODD, "Émile du Pont", "x" * 120])
def test_acl_user_names_are_safe_and_distinct(name: str) -> None:
    username = acl_username(name)
    assert username.startswith("cosim-u-") and len(username) <= 64
    assert " " not in username and username.isascii()
    assert acl_username(name) == username
    assert acl_username(name + "2") != username


def test_namespace_names_never_prefix_another_user() -> None:
    assert namespace_name("alice") == "alice"
    assert namespace_name("a:b") == "a%3Ab" != namespace_name("a%3Ab") == "a%253Ab"


def test_glob_escape() -> None:
    assert glob_escape("a*b?c[d]e\\") == "a\\*b\\?c\\[d\\]e\\\\"


def test_user_url_keeps_host_port_db() -> None:
    assert (
        user_url("rediss://:admin@redis.example:6380/3", "cosim-u-a", "p/w")
        == "rediss://cosim-u-a:p%2Fw@redis.example:6380/3"
    )
    assert (
        user_url("unix://:admin@/run/redis.sock?db=2", "cosim-u-a", "pw")
        == "unix://cosim-u-a:pw@/run/redis.sock?db=2"
    )


def test_own_keys_and_channels_work(cosim_redis_url: str) -> None:
    url = _provision(cosim_redis_url, "alice")
    keys, sim_id = Keys("alice"), "0" * 32
    meta = {"sim_id": sim_id, "scene": "h", "started": time.time()}

    # The kernel's viewer publisher: scene, meta, sims set, frames, control channel.
    admin = redis.Redis.from_url(cosim_redis_url)
    watcher = admin.pubsub()
    watcher.subscribe(keys.frames(sim_id))
    publisher = Publisher(url, keys, sim_id, meta, b"scene")
    assert publisher.open(), publisher.error
    publisher.start()
    publisher.submit(b"frame-1")
    publisher.close()
    assert publisher.error is None
    assert admin.get(keys.frame(sim_id)) == b"frame-1"
    assert admin.get(keys.scene("h")) == b"scene"
    deadline, seen = time.monotonic() + 5, []
    while END_MESSAGE not in seen and time.monotonic() < deadline:
        msg = watcher.get_message(timeout=0.5)
        if msg and msg["type"] == "message":
            seen.append(msg["data"])
    assert END_MESSAGE in seen

    # The server: relay subscription, stop command, build status, job mirror + metrics stream.
    user = redis.Redis.from_url(url)
    sub = user.pubsub()
    sub.subscribe(keys.frames(sim_id), keys.control(sim_id))
    assert user.publish(keys.control(sim_id), json.dumps({"cmd": "stop"})) == 1
    assert user.zrange(keys.sims, 0, -1) == []
    assert user.mget([keys.meta(sim_id)])[0] is not None
    assert user.exists(keys.meta(sim_id)) == 1
    assert user.set(keys.build("b1"), "{}", ex=60)
    assert user.get(keys.build("b1")) == b"{}"
    user.set("cosim:alice:job:j1", "{}")
    user.xadd("cosim:alice:job:j1:metrics", {"m": "{}"}, maxlen=10, approximate=True)
    assert len(user.xrange("cosim:alice:job:j1:metrics")) == 1
    assert user.delete("cosim:alice:job:j1", "cosim:alice:job:j1:metrics") == 2
    assert user.ping()
    sub.close()
    user.close()
    admin.close()


def test_no_user_reads_or_writes_the_cost_guard_ledger(cosim_redis_url: str) -> None:
    """Spend privacy: the ledger's hashes hold every user's figures in fields, and ACLs work per
    key, so user servers get none of them: bob cannot read alice's spend, reservation, quota or
    notice (nor his own: his banner asks the cost-guard service), and nobody writes them."""
    _provision(cosim_redis_url, "alice")
    bob_url = _provision(cosim_redis_url, "bob")
    month = time.strftime("%Y-%m", time.gmtime())

    async def body() -> None:
        admin = aioredis.Redis.from_url(cosim_redis_url)
        ledger = Ledger(admin)
        await ledger.set_quota("user:alice", Quota(spend_cap=5.0))
        res = Reservation(
            user="alice", server="", profile="gpu-small", group="students", gpus=1,
            price_per_hour=3.0, started=time.time(),
        )  # fmt: skip
        assert (await ledger.reserve(res, enforce=True, now=time.time())).ok
        await admin.hset(f"cosim:costguard:spend:{month}", "user:alice", 4_200_000)
        await admin.aclose()

        bob = aioredis.Redis.from_url(bob_url)
        bobs = Ledger(bob)
        attempts: list[Callable[[], Any]] = [
            lambda: bobs.spend(month),
            lambda: bob.hget(f"cosim:costguard:spend:{month}", "user:alice"),
            lambda: bobs.reservations(),
            lambda: bobs.reservation("alice/"),
            lambda: bobs.quotas(),
            lambda: bobs.notices(),
            lambda: bobs.set_quota("user:bob", Quota(spend_cap=1e9)),
            lambda: bobs.release("alice/", now=time.time()),
            lambda: bob.hset(f"cosim:costguard:spend:{month}", "user:bob", 0),
            lambda: bob.delete("cosim:costguard:servers"),
            lambda: bob.set("cosim:costguard:gpu:cluster", 0),
        ]
        for attempt in attempts:
            with pytest.raises(NoPermissionError):
                await attempt()
        await bob.aclose()

    asyncio.run(body())


def _subscribe(client: redis.Redis, channel: str) -> Any:
    """SUBSCRIBE, and read its answer (redis-py sends it and reads the reply later)."""
    pubsub = client.pubsub()
    try:
        pubsub.subscribe(channel)
        return pubsub.get_message(timeout=1.0)
    finally:
        pubsub.close()


@pytest.mark.parametrize("name", ["alice", ODD])
def test_other_users_keys_and_channels_are_refused(cosim_redis_url: str, name: str) -> None:
    url = _provision(cosim_redis_url, name)
    _provision(cosim_redis_url, "bob")
    user = redis.Redis.from_url(url)
    assert user.set(f"cosim:{name}:sim:x:meta", "1")
    # "alice*" must not reach "alicexyz": glob characters in the name are literal.
    # Nor another user whose name starts with this one and a ':' (names encode ':').
    others = ["cosim:bob:sims", "cosim:alicexyz:sims", "cosim:a:sims", "other"]
    others.append(Keys(namespace_name(f"{name}:sim")).meta("x"))
    refused: list[Callable[[str], Any]] = [
        user.get,
        lambda k: user.set(k, "x"),
        user.delete,
        lambda k: user.xadd(k, {"m": "1"}),
        lambda k: user.publish(k, "x"),
        lambda k: _subscribe(user, k),
    ]
    for key in others:
        for call in refused:
            with pytest.raises(NoPermissionError):
                call(key)
    for command in (("FLUSHALL",), ("KEYS", "*"), ("CONFIG", "GET", "*"), ("ACL", "LIST")):
        with pytest.raises(NoPermissionError):
            user.execute_command(*command)
    with pytest.raises(NoPermissionError):
        user.eval("return redis.call('GET', KEYS[1])", 1, f"cosim:{name}:sim:x:meta")
    user.close()


def test_a_new_spawn_rotates_the_password(cosim_redis_url: str) -> None:
    old = _provision(cosim_redis_url, "alice")
    new = _provision(cosim_redis_url, "alice")
    assert redis.Redis.from_url(new).ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis.from_url(old).ping()


def test_redis_without_acl_rights_falls_back_to_the_shared_url(cosim_redis_url: str) -> None:
    # A hub credential that may not run ACL SETUSER (like a managed Redis): shared URL, warned.
    limited = _provision(cosim_redis_url, "hub-without-acl")
    provisioned = asyncio.run(provision_user(limited, "alice"))
    assert not provisioned.per_user and provisioned.url == limited


def test_unreachable_redis_never_hands_out_the_admin_url() -> None:
    provisioned = asyncio.run(provision_user("redis://:admin@127.0.0.1:1/0", "alice", timeout=0.5))
    assert provisioned.per_user and "admin" not in provisioned.url


@pytest.mark.parametrize(
    "command",
    [("SCAN", "0"), ("RANDOMKEY",), ("DBSIZE",), ("SELECT", "1"), ("KEYS", "*"),
     ("SWAPDB", "0", "1"), ("PUBSUB", "CHANNELS"), ("MEMORY", "STATS"), ("FLUSHDB",)],
)  # fmt: skip
def test_keyspace_wide_commands_are_refused(cosim_redis_url: str, command: tuple[str, ...]) -> None:
    # Other users' key names carry their names and sim ids: no listing, counting or sampling,
    # and no other database outside the key patterns.
    admin = redis.Redis.from_url(cosim_redis_url)
    admin.set("cosim:bob:sim:secret-sim-id:meta", "1")
    user = redis.Redis.from_url(_provision(cosim_redis_url, "alice"))
    with pytest.raises(NoPermissionError):
        user.execute_command(*command)
    assert user.set("cosim:alice:x", "1")  # the user's own commands still work
    user.close()
    admin.close()


def test_a_user_cannot_fill_redis(cosim_redis_url: str) -> None:
    user = redis.Redis.from_url(_provision(cosim_redis_url, "alice"), socket_timeout=30)
    admin = redis.Redis.from_url(cosim_redis_url)
    try:
        # One value larger than the cap is refused outright...
        with pytest.raises(redis.exceptions.RedisError):
            user.set("cosim:alice:big", b"x" * (REDIS_MAX_VALUE_BYTES + 1))
        # ... and 2 GB in values under the cap stops at Redis's memory limit, refused, not evicted.
        admin.set("cosim:costguard:probe", "kept")
        chunk, written = b"x" * (16 * 2**20), 0
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            while written < 2 * 2**30:
                user.set(f"cosim:alice:fill:{written}", chunk)
                written += len(chunk)
        assert written <= REDIS_MAXMEMORY
        assert admin.get("cosim:costguard:probe") == b"kept"
    finally:
        admin.flushall()
        user.close()
        admin.close()
