"""The cost guard inside the hub: decide, reserve and release around each spawn.

``pre_spawn_hook`` / ``post_stop_hook`` (set by ``configure(c)`` for any spawner) check the chosen
profile, then reserve in the ledger atomically (GPU concurrency per user, group and cluster;
monthly spend per user and group) and release on stop. The decision is taken in the hub, next to
the spawn, so nothing is scheduled that the guard refuses; metering, warnings, culling, the admin
page and the API live in the service (``python -m cosim_hub.costguard``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Histogram
from redis.exceptions import RedisError
from tornado import web

from cosim_protocol.redis_client import make_async

from ..config import CoSimHub
from ..profiles import Profile, find_profile, load_profiles, profiles_for
from .ledger import Decision, Ledger, Quota, Reservation
from .settings import CoSimCostGuard

REFUSED = Counter(
    "cosim_spawn_refused", "Spawns the CoSim cost guard refused, by reason", ["reason"]
)
DECISION_SECONDS = Histogram(
    "cosim_spawn_decision_seconds",
    "Time the CoSim cost guard took to decide a spawn",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5),
)
REDIS_DOWN_MESSAGE = (
    "the cost guard cannot reach its ledger (Redis), so GPU servers cannot start now; "
    "CPU profiles still can. Try again in a minute."
)
_SETTINGS_KEY = "cosim_spawn_guard"


class SpawnRefused(web.HTTPError):
    """A refusal the hub shows to the user as is (spawn page and API)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        # The hub formats log_message % args: passing the text as an arg keeps a user-given
        # name with "%" in it intact; jupyterhub_message is what the spawn page shows.
        super().__init__(status, "%s", message)
        self.jupyterhub_message = message
        self.refusal = reason
        self.message = message


@dataclass
class Availability:
    profile: Profile
    ok: bool
    message: str = ""
    # Allowed, but worth knowing before choosing it (the spend cap is minutes away).
    warning: str = ""


class SpawnGuard:
    """One per hub process (kept in the hub's tornado settings)."""

    def _near_cap(self, profile: Profile, left: float, cap_name: str) -> str:
        """A warning when running ``profile`` would use up ``left`` within the warning window:
        a spawn just under the cap would otherwise go straight into a stop countdown."""
        window = self.settings.spawn_warning_minutes
        if window <= 0 or profile.price_per_hour <= 0:
            return ""
        minutes = left / profile.price_per_hour * 60
        if minutes >= window:
            return ""
        return (
            f"at {profile.price_label()} this server reaches {cap_name} in about "
            f"{max(1, round(minutes))} min (${left:.2f} left); it is then stopped after "
            f"{round(self.settings.grace_period / 60)} min"
        )

    def __init__(self, settings: CoSimCostGuard, profiles: list[Profile], redis_url: str) -> None:
        self.settings = settings
        self.profiles = profiles
        timeout = settings.redis_timeout
        self.redis = make_async(redis_url or None, timeout=timeout)
        self.ledger = Ledger(self.redis)
        self._seeded = False

    @classmethod
    def for_spawner(cls, spawner: Any) -> SpawnGuard:
        store = spawner.user.settings
        guard = store.get(_SETTINGS_KEY)
        if guard is None:
            hub = CoSimHub(config=spawner.config)
            settings = CoSimCostGuard(config=spawner.config)
            guard = cls(settings, load_profiles(hub.profiles_file or None), hub.redis_url)
            store[_SETTINGS_KEY] = guard
        return guard

    async def _seed_defaults(self) -> None:
        """Write the configured default quotas where an admin has not set them yet."""
        if self._seeded:
            return
        s = self.settings
        await self.ledger.set_default_quota(
            "default:user", Quota(s.default_user_gpu_limit, s.default_user_spend_cap)
        )
        await self.ledger.set_default_quota(
            "default:group", Quota(s.default_group_gpu_limit, s.default_group_spend_cap)
        )
        await self.ledger.set_default_quota("cluster", Quota(s.cluster_gpu_limit, None))
        self._seeded = True

    # ---- choosing a profile ----------------------------------------------------------------
    def choose(self, name: str | None, groups: list[str]) -> Profile:
        """The profile ``name`` if this user may use it; else a refusal naming the choices."""
        allowed = profiles_for(self.profiles, groups)
        choices = ", ".join(p.name for p in allowed) or "none"
        if name is not None and not isinstance(name, str):
            raise SpawnRefused(400, "profile_unknown", f"profile must be a name; one of: {choices}")
        profile = find_profile(self.profiles, name)
        if profile is None:
            shown = repr((name or "")[:40])
            raise SpawnRefused(
                400, "profile_unknown", f"unknown profile {shown}; choose one of: {choices}"
            )
        if not profile.allows(groups):
            raise SpawnRefused(
                403,
                "profile_forbidden",
                f"profile {profile.name!r} is for the group(s) {', '.join(profile.groups)}; "
                f"you may start: {choices}",
            )
        return profile

    def alternatives(self, profile: Profile, groups: list[str]) -> str:
        others = [p for p in profiles_for(self.profiles, groups) if not p.is_gpu]
        names = ", ".join(f"{p.display_name} ({p.price_label()})" for p in others)
        return f" You may start instead: {names}." if names and profile.is_gpu else ""

    # ---- the decision ----------------------------------------------------------------------
    async def reserve(
        self, user: str, server: str, options: dict[str, Any], groups: list[str]
    ) -> Profile:
        """Reserve for one spawn; returns the profile or raises SpawnRefused."""
        started = time.perf_counter()
        try:
            profile = self.choose(options.get("profile"), groups)
            res = Reservation(
                user=user,
                server=server,
                profile=profile.name,
                group=profile.billing_group(groups),
                gpus=profile.gpus,
                price_per_hour=profile.price_per_hour,
                started=time.time(),
            )
            try:
                await asyncio.wait_for(
                    self._reserve(res, profile, groups), self.settings.redis_timeout
                )
                return profile
            except (RedisError, OSError, TimeoutError) as err:
                if profile.is_gpu:
                    raise SpawnRefused(503, "redis_down", REDIS_DOWN_MESSAGE) from err
                return profile  # CPU never depends on the ledger being up
        except SpawnRefused as refusal:
            REFUSED.labels(refusal.refusal).inc()
            if refusal.refusal.startswith("profile") or refusal.refusal == "redis_down":
                await self._count_quietly(refusal.refusal)
            raise
        finally:
            DECISION_SECONDS.observe(time.perf_counter() - started)

    async def _reserve(self, res: Reservation, profile: Profile, groups: list[str]) -> None:
        await self._seed_defaults()
        decision: Decision = await self.ledger.reserve(res, enforce=profile.is_gpu, now=time.time())
        if not decision.ok:
            raise SpawnRefused(
                403,
                decision.reason,
                f"cannot start {profile.display_name}: {decision.message}."
                + self.alternatives(profile, groups),
            )

    async def _count_quietly(self, reason: str) -> None:
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await asyncio.wait_for(self.ledger.count_refusal(reason), self.settings.redis_timeout)

    async def release(self, user: str, server: str) -> None:
        """Release on stop, charging the last interval; Redis down: the meter reconciles."""
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await asyncio.wait_for(
                self.ledger.release(
                    f"{user}/{server}", now=time.time(), interval=self.settings.meter_interval
                ),
                self.settings.redis_timeout * 3,
            )

    # ---- what the spawn page shows ---------------------------------------------------------
    async def availability(self, user: str, groups: list[str]) -> list[Availability]:
        """Which of the user's profiles could start now, and why not (read-only)."""
        allowed = profiles_for(self.profiles, groups)
        try:
            return await asyncio.wait_for(
                self._availability(user, groups, allowed), self.settings.redis_timeout
            )
        except (RedisError, OSError, TimeoutError):
            return [
                Availability(p, not p.is_gpu, "" if not p.is_gpu else REDIS_DOWN_MESSAGE)
                for p in allowed
            ]

    async def _availability(
        self, user: str, groups: list[str], allowed: list[Profile]
    ) -> list[Availability]:
        await self._seed_defaults()
        quotas = await self.ledger.quotas()
        gpus = await self.ledger.gpus_in_use()
        spend = await self.ledger.spend(time.strftime("%Y-%m", time.gmtime()))
        result = []
        for p in allowed:
            if not p.is_gpu:
                result.append(Availability(p, True))
                continue
            group = p.billing_group(groups)
            uq = self.ledger.resolve(quotas, "user", user)
            gq = self.ledger.resolve(quotas, "group", group)
            cq = quotas.get("cluster") or Quota()
            checks = [
                (uq.gpu_limit, gpus["users"].get(user, 0),
                 "you already use {u} of your {l} GPU(s)"),
                (gq.gpu_limit, gpus["groups"].get(group, 0),
                 f"group {group!r} uses {{u}} of its {{l}} GPU(s)"),
                (cq.gpu_limit, gpus["cluster"], "all {l} GPU(s) of the cluster are in use"),
            ]  # fmt: skip
            why = ""
            for limit, used, text in checks:
                if limit == 0 and text.startswith("you"):
                    why = "your GPU quota is 0: ask an admin for one"
                    break
                if limit is not None and used + p.gpus > limit:
                    why = text.format(u=used, l=limit)
                    break
            spent_checks = [
                (uq.spend_cap, spend.get(f"user:{user}", 0.0), "your monthly spend cap"),
                (gq.spend_cap, spend.get(f"group:{group}", 0.0), f"group {group!r}'s spend cap"),
            ]
            warning = ""
            for cap, spent, text in spent_checks:
                if not why and cap is not None and spent >= cap:
                    why = f"{text} is reached (${spent:.2f} of ${cap:.2f})"
                elif not why and not warning and cap is not None:
                    warning = self._near_cap(p, cap - spent, text)
            result.append(Availability(p, not why, why, warning))
        return result


def _groups(spawner: Any) -> list[str]:
    return sorted(g.name for g in spawner.user.groups)


async def pre_spawn_hook(spawner: Any) -> None:
    """``c.Spawner.pre_spawn_hook``: refuse or reserve before anything is scheduled."""
    guard = SpawnGuard.for_spawner(spawner)
    options = dict(spawner.user_options or {})
    profile = await guard.reserve(spawner.user.name, spawner.name, options, _groups(spawner))
    spawner.user_options = {**options, "profile": profile.name}


async def post_stop_hook(spawner: Any) -> None:
    """``c.Spawner.post_stop_hook``: release the reservation (and charge its last interval)."""
    await SpawnGuard.for_spawner(spawner).release(spawner.user.name, spawner.name)
