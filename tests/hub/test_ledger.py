"""The cost guard's ledger and spawn decisions against a real redis-server.

Time is passed in (``now=``), so these tests are the "test clock": months, intervals and grace
periods are exact and need no sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis

from cosim_hub.costguard.ledger import MICRO, Ledger, Quota, Reservation
from cosim_hub.costguard.settings import CoSimCostGuard
from cosim_hub.costguard.spawn import REDIS_DOWN_MESSAGE, SpawnGuard, SpawnRefused
from cosim_hub.profiles import load_profiles
from cosim_hub.redis_server import RedisServer

T = TypeVar("T")
NOW = 1_800_000_000.0  # 2027-01-15, mid-month


def run(url: str, body: Callable[[Ledger], Awaitable[T]]) -> T:
    async def main() -> T:
        client = aioredis.Redis.from_url(url)
        try:
            return await body(Ledger(client))
        finally:
            await client.aclose()

    return asyncio.run(main())


def res(user: str, gpus: int = 1, group: str = "g", server: str = "") -> Reservation:
    return Reservation(user, server, "gpu-small", group, gpus, 3.6, NOW)


@pytest.mark.parametrize(
    ("quotas", "holders", "reason"),
    [
        ({"user:a": Quota(gpu_limit=1)}, [("a", "x", "g")], "gpu_user"),
        ({"group:g": Quota(gpu_limit=1)}, [("b", "", "g")], "gpu_group"),
        ({"cluster": Quota(gpu_limit=1)}, [("b", "", "other")], "gpu_cluster"),
        ({"default:user": Quota(spend_cap=0)}, [], "spend_user"),
        ({"group:g": Quota(spend_cap=0)}, [], "spend_group"),
    ],
)
def test_refusals(
    cosim_redis_url: str, quotas: dict[str, Quota], holders: list[tuple[str, str, str]], reason: str
) -> None:
    async def body(ledger: Ledger) -> None:
        for scope, quota in quotas.items():
            await ledger.set_quota(scope, quota)
        for user, server, group in holders:
            held = res(user, server=server, group=group)
            assert (await ledger.reserve(held, enforce=False, now=NOW)).ok
        decision = await ledger.reserve(res("a"), enforce=True, now=NOW)
        assert (decision.ok, decision.reason) == (False, reason)
        assert decision.message
        assert (await ledger.refused())[reason] == 1
        # Not enforced (CPU): recorded all the same, never refused.
        assert (await ledger.reserve(res("a", gpus=0, server="cpu"), enforce=False, now=NOW)).ok

    run(cosim_redis_url, body)


def test_reserve_release_counts(cosim_redis_url: str) -> None:
    async def body(ledger: Ledger) -> None:
        await ledger.set_quota("cluster", Quota(gpu_limit=4))
        assert (await ledger.reserve(res("a", gpus=2), enforce=True, now=NOW)).ok
        assert (await ledger.reserve(res("b", gpus=2, group="h"), enforce=True, now=NOW)).ok
        assert (await ledger.gpus_in_use())["cluster"] == 4
        assert not (await ledger.reserve(res("c", gpus=1), enforce=True, now=NOW)).ok
        released = await ledger.release("a/", now=NOW)
        assert released is not None and released.gpus == 2
        assert await ledger.release("a/", now=NOW) is None  # twice is harmless
        assert await ledger.gpus_in_use() == {"users": {"b": 2}, "groups": {"h": 2}, "cluster": 2}
        assert (await ledger.reserve(res("c", gpus=1), enforce=True, now=NOW)).ok

    run(cosim_redis_url, body)


def test_race_for_the_last_gpu(cosim_redis_url: str) -> None:
    async def body(ledger: Ledger) -> list[bool]:
        await ledger.set_quota("cluster", Quota(gpu_limit=1))
        spawns = [res(f"user{i}", group=f"g{i}") for i in range(20)]
        decisions = await asyncio.gather(
            *(ledger.reserve(r, enforce=True, now=NOW) for r in spawns)
        )
        return [d.ok for d in decisions]

    wins = run(cosim_redis_url, body)
    assert wins.count(True) == 1


def test_charges_are_idempotent_and_catch_up(cosim_redis_url: str) -> None:
    interval = 10.0
    server = Reservation("a", "", "gpu-small", "g", 1, 3.6, NOW)  # 3.6/h = 0.01 per 10 s

    async def body(ledger: Ledger) -> None:
        await ledger.reserve(server, enforce=False, now=NOW)
        assert await ledger.meter_one(server, interval, NOW + 25) == 3  # intervals 0, 1, 2 begun
        assert await ledger.meter_one(server, interval, NOW + 29) == 0  # same intervals again
        # A restarted meter (new client, no memory) that was down for 5 intervals catches up.
        client = aioredis.Redis.from_url(cosim_redis_url)
        fresh = Ledger(client)
        assert await fresh.meter_one(server, interval, NOW + 75) == 5
        # Even with the "last charged" marker lost, every charge is keyed: nothing twice.
        await client.hdel("cosim:costguard:charged", server.key)
        assert await fresh.meter_one(server, interval, NOW + 75) == 0
        await client.aclose()
        spend = await ledger.spend("2027-01")
        assert spend == {"user:a": 0.08, "group:g": 0.08, "total": 0.08}
        charges = await ledger.charges("2027-01")
        assert len(charges) == 8 and set(charges.values()) == {int(0.01 * MICRO)}
        # Release charges up to the stop time (interval 8 began at +80 s).
        await ledger.release(server.key, now=NOW + 81, interval=interval)
        assert (await ledger.spend("2027-01"))["user:a"] == 0.09

    run(cosim_redis_url, body)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "JSON object"),
        ([], "JSON object"),
        ({"gpu_limit": -1}, "gpu_limit"),
        ({"gpu_limit": 1.5}, "gpu_limit"),
        ({"gpu_limit": True}, "gpu_limit"),
        ({"spend_cap": "ten"}, "spend_cap"),
        ({"spend_cap": -3}, "spend_cap"),
        ({"cap": 3}, "unknown quota keys"),
    ],
)
def test_malformed_quotas(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Quota.parse(data)


def test_quota_parse_accepts() -> None:
    assert Quota.parse({"gpu_limit": 2, "spend_cap": 10}) == Quota(2, 10.0)
    assert Quota.parse({"spend_cap": None}) == Quota()


# ---- decisions with Redis going away -------------------------------------------------------


def _guard(url: str) -> SpawnGuard:
    settings = CoSimCostGuard(redis_timeout=0.5, cluster_gpu_limit=1)
    return SpawnGuard(settings, load_profiles(), url)


def decide(url: str, user: str, profile: Any, groups: list[str] | None = None) -> str:
    async def main() -> str:
        guard = _guard(url)
        try:
            chosen = await guard.reserve(user, "", {"profile": profile}, groups or [])
            return f"ok:{chosen.name}"
        except SpawnRefused as refusal:
            return f"{refusal.status_code}:{refusal.refusal}:{refusal.message}"
        finally:
            await guard.redis.aclose()

    return asyncio.run(main())


def test_profile_choice_refusals(cosim_redis_url: str) -> None:
    assert decide(cosim_redis_url, "a", "") == "ok:cpu"
    assert decide(cosim_redis_url, "a", "nope").startswith("400:profile_unknown:unknown profile")
    refused = decide(cosim_redis_url, "b", "gpu-large", ["students"])
    assert refused.startswith("403:profile_forbidden:")
    assert "you may start: cpu, gpu-small" in refused
    assert decide(cosim_redis_url, "r", "gpu-large", ["research"]).startswith("403:gpu_user")
    assert decide(cosim_redis_url, "c", "gpu-small") == "ok:gpu-small"
    refused = decide(cosim_redis_url, "d", "gpu-small")
    assert refused.startswith("403:gpu_cluster:cannot start GPU small")
    assert "You may start instead: CPU (2 cores, 4 GB) ($0.05/h)" in refused


def test_odd_profile_names_get_a_message(cosim_redis_url: str) -> None:
    assert decide(cosim_redis_url, "a", "%s%d" * 30).startswith(
        "400:profile_unknown:unknown profile '%s%d%s%d"
    )
    assert decide(cosim_redis_url, "a", 5).startswith(
        "400:profile_unknown:profile must be a name; one of: cpu, gpu-small"
    )
    # The hub formats the message with %: that must not raise.
    refusal = SpawnRefused(400, "profile_unknown", "unknown profile '%s%d'")
    assert str(refusal) == "HTTP 400: Bad Request (unknown profile '%s%d')"
    assert refusal.log_message % refusal.args == "unknown profile '%s%d'"


def test_redis_down_fails_closed_for_gpu_and_recovers(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", persist=False).start()
    url, port = server.url, server.port
    try:
        assert decide(url, "a", "gpu-small") == "ok:gpu-small"
        server.stop()
        assert decide(url, "b", "gpu-small") == f"503:redis_down:{REDIS_DOWN_MESSAGE}"
        assert decide(url, "b", "cpu") == "ok:cpu"  # CPU never depends on the ledger
        server = RedisServer(tmp_path / "redis", port=port, persist=False).start()
        # Back by itself: the next decision reaches the new Redis (empty: its data was not kept).
        assert decide(url, "b", "gpu-small") == "ok:gpu-small"
    finally:
        server.stop()


def test_a_zero_gpu_quota_says_so(cosim_redis_url: str) -> None:
    async def body(ledger: Ledger) -> None:
        await ledger.set_quota("user:z", Quota(gpu_limit=0))
        decision = await ledger.reserve(res("z"), enforce=True, now=NOW)
        assert (decision.ok, decision.reason) == (False, "gpu_user_none")
        assert decision.message == "your GPU quota is 0: ask an admin for one"

    run(cosim_redis_url, body)


def availability(url: str, user: str, quota: Quota, spent: float) -> dict[str, Any]:
    """The spawn form's view of each profile for ``user`` with ``quota`` and ``spent`` so far."""

    async def main() -> dict[str, Any]:
        settings = CoSimCostGuard(redis_timeout=0.5, cluster_gpu_limit=100)
        guard = SpawnGuard(settings, load_profiles(), url)
        try:
            await guard.ledger.set_quota(f"user:{user}", quota)
            if spent:
                await guard.ledger.redis.hincrby(
                    f"{guard.ledger.p}:spend:{time.strftime('%Y-%m', time.gmtime())}",
                    f"user:{user}",
                    round(spent * MICRO),
                )
            found = await guard.availability(user, [])
            return {a.profile.name: a for a in found}
        finally:
            await guard.redis.aclose()

    return asyncio.run(main())


def test_spawn_form_reasons_and_near_cap_warning(cosim_redis_url: str) -> None:
    none = availability(cosim_redis_url, "nogpu", Quota(gpu_limit=0), 0)["gpu-small"]
    assert not none.ok and none.message == "your GPU quota is 0: ask an admin for one"
    # gpu-small costs $1.20/h in the default profiles: $1.00 left is 50 minutes.
    near = availability(cosim_redis_url, "near", Quota(gpu_limit=1, spend_cap=10.0), 9.0)
    assert near["gpu-small"].ok
    assert (
        "reaches your monthly spend cap in about 50 min ($1.00 left)" in near["gpu-small"].warning
    ), near["gpu-small"].warning
    assert near["cpu"].warning == ""  # a free or cheap profile far from the cap: no warning
    far = availability(cosim_redis_url, "far", Quota(gpu_limit=1, spend_cap=100.0), 0)
    assert far["gpu-small"].ok and far["gpu-small"].warning == ""
