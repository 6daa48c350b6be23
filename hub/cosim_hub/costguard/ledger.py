"""The cost guard's ledger in Redis: reservations, GPU counters, spend, quotas, notices.

Every change that must not race (reserve, release, charge) is one Lua script, so it is atomic in
Redis: two spawns for the last GPU cannot both win, and a charge keyed by (server, interval) is
written at most once however often a meter retries. Money is kept in integer micro-units
(1e-6 of the currency) so sums are exact.

Keys (``P`` = ``cosim:costguard``):
  P:servers             hash  server key ("user/server") -> reservation JSON
  P:gpu:user|group      hash  name -> GPUs reserved;  P:gpu:cluster  GPUs reserved in all
  P:spend:<YYYY-MM>     hash  "user:<u>" / "group:<g>" / "total" -> micro-units
  P:charges:<YYYY-MM>   hash  "<server key>|<interval>" -> micro-units (the idempotency record)
  P:charged             hash  server key -> last interval charged
  P:quotas              hash  "user:<u>" / "group:<g>" / "default:user" / "default:group" /
                              "cluster" -> {"gpu_limit": int|null, "spend_cap": float|null}
  P:notices             hash  server key -> {"kind", "message", "stop_at"} shown in Lab
  P:refused             hash  reason -> count
  P:meter               hash  "last_run" -> epoch seconds of the meter's last pass
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aioredis

from cosim_protocol.costguard import (
    MICRO,
    LedgerView,
    Quota,
    Reservation,
    from_micro,
    month_of,
    to_micro,
)
from cosim_protocol.keys import LEDGER_PREFIX

__all__ = [
    "MICRO",
    "PREFIX",
    "Decision",
    "Ledger",
    "Quota",
    "Reservation",
    "from_micro",
    "month_of",
    "to_micro",
]

PREFIX = LEDGER_PREFIX

_RELEASE_LUA = """
local p = ARGV[1]
local raw = redis.call('HGET', p .. ':servers', ARGV[2])
if not raw then return false end
local r = cjson.decode(raw)
local gpus = tonumber(r['gpus'])
if gpus > 0 then
  redis.call('HINCRBY', p .. ':gpu:user', r['user'], -gpus)
  redis.call('HINCRBY', p .. ':gpu:group', r['group'], -gpus)
  redis.call('INCRBY', p .. ':gpu:cluster', -gpus)
end
redis.call('HDEL', p .. ':servers', ARGV[2])
redis.call('HDEL', p .. ':charged', ARGV[2])
redis.call('HDEL', p .. ':notices', ARGV[2])
return raw
"""

# ARGV: prefix, key, user, group, gpus, month, record, user/group/cluster GPU limits,
# user/group spend caps (micro), check (1: enforce limits). A limit of -1 means none.
_RESERVE_LUA = """
local p, key, user, group = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local gpus = tonumber(ARGV[5])
if redis.call('HEXISTS', p .. ':servers', key) == 1 then return {'exists'} end
if ARGV[13] == '1' then
  if gpus > 0 then
    local used = {
      tonumber(redis.call('HGET', p .. ':gpu:user', user) or '0'),
      tonumber(redis.call('HGET', p .. ':gpu:group', group) or '0'),
      tonumber(redis.call('GET', p .. ':gpu:cluster') or '0')}
    local names = {'gpu_user', 'gpu_group', 'gpu_cluster'}
    for i = 1, 3 do
      local limit = tonumber(ARGV[7 + i])
      if limit >= 0 and used[i] + gpus > limit then
        redis.call('HINCRBY', p .. ':refused', names[i], 1)
        return {names[i], tostring(used[i]), tostring(limit)}
      end
    end
  end
  local spend = p .. ':spend:' .. ARGV[6]
  local spent = {
    tonumber(redis.call('HGET', spend, 'user:' .. user) or '0'),
    tonumber(redis.call('HGET', spend, 'group:' .. group) or '0')}
  local names = {'spend_user', 'spend_group'}
  for i = 1, 2 do
    local cap = tonumber(ARGV[10 + i])
    if cap >= 0 and spent[i] >= cap then
      redis.call('HINCRBY', p .. ':refused', names[i], 1)
      return {names[i], tostring(spent[i]), tostring(cap)}
    end
  end
end
if gpus > 0 then
  redis.call('HINCRBY', p .. ':gpu:user', user, gpus)
  redis.call('HINCRBY', p .. ':gpu:group', group, gpus)
  redis.call('INCRBY', p .. ':gpu:cluster', gpus)
end
redis.call('HSET', p .. ':servers', key, ARGV[7])
return {'ok'}
"""

# ARGV: prefix, key, month, interval, amount, user, group
_CHARGE_LUA = """
local p = ARGV[1]
local field = ARGV[2] .. '|' .. ARGV[4]
if redis.call('HSETNX', p .. ':charges:' .. ARGV[3], field, ARGV[5]) == 0 then return 0 end
local spend = p .. ':spend:' .. ARGV[3]
local amount = tonumber(ARGV[5])
redis.call('HINCRBY', spend, 'user:' .. ARGV[6], amount)
redis.call('HINCRBY', spend, 'group:' .. ARGV[7], amount)
redis.call('HINCRBY', spend, 'total', amount)
return 1
"""

REASONS = {
    "gpu_user": "you already use {used} of your {limit} GPU(s)",
    "gpu_user_none": "your GPU quota is 0: ask an admin for one",
    "gpu_group": "your group {group!r} already uses {used} of its {limit} GPU(s)",
    "gpu_cluster": "all {limit} GPU(s) of the cluster are in use",
    "spend_user": "your monthly spend cap is reached (${used} of ${limit})",
    "spend_group": "your group {group!r} reached its monthly spend cap (${used} of ${limit})",
}


@dataclass(frozen=True)
class Decision:
    """The outcome of a reservation: ``ok``, or a refusal with a reason code and message."""

    ok: bool
    reason: str = ""
    message: str = ""


class Ledger(LedgerView):
    """All reads and writes of the cost guard's Redis state (the reads a user server may do
    too live in ``cosim_protocol.costguard.LedgerView``)."""

    def __init__(self, redis: aioredis.Redis, prefix: str = PREFIX) -> None:
        super().__init__(redis, prefix)
        self._reserve = redis.register_script(_RESERVE_LUA)
        self._release = redis.register_script(_RELEASE_LUA)
        self._charge = redis.register_script(_CHARGE_LUA)

    # ---- quotas ----------------------------------------------------------------------------
    async def set_quota(self, scope: str, quota: Quota) -> None:
        await self.redis.hset(f"{self.p}:quotas", scope, json.dumps(asdict(quota)))

    async def set_default_quota(self, scope: str, quota: Quota) -> None:
        """Seed a quota that an admin has not set yet (the hub's configured defaults)."""
        await self.redis.hsetnx(f"{self.p}:quotas", scope, json.dumps(asdict(quota)))

    async def delete_quota(self, scope: str) -> bool:
        return bool(await self.redis.hdel(f"{self.p}:quotas", scope))

    async def reserve(self, res: Reservation, *, enforce: bool, now: float) -> Decision:
        quotas = await self.quotas()
        user_q = self.resolve(quotas, "user", res.user)
        group_q = self.resolve(quotas, "group", res.group)
        cluster_q = quotas.get("cluster") or Quota()

        def lim(value: int | None) -> int:
            return -1 if value is None else value

        def cap(value: float | None) -> int:
            return -1 if value is None else to_micro(value)

        args: list[str | int] = [
            self.p, res.key, res.user, res.group, res.gpus, month_of(now), res.to_json(),
            lim(user_q.gpu_limit), lim(group_q.gpu_limit), lim(cluster_q.gpu_limit),
            cap(user_q.spend_cap), cap(group_q.spend_cap), "1" if enforce else "0",
        ]  # fmt: skip
        result = [_text(x) for x in await self._reserve(args=args)]
        if result[0] == "exists":
            # A reservation the hub never released (it crashed mid-stop): replace it.
            await self.release(res.key, now=now)
            result = [_text(x) for x in await self._reserve(args=args)]
        if result[0] == "ok":
            return Decision(True)
        reason, used, limit = result
        if reason.startswith("spend"):
            used, limit = f"{from_micro(used):.2f}", f"{from_micro(limit):.2f}"
        if reason == "gpu_user" and limit == "0":
            reason = "gpu_user_none"  # "you already use 0 of your 0 GPU(s)" says nothing
        text = REASONS[reason].format(used=used, limit=limit, group=res.group)
        return Decision(False, reason, text)

    async def count_refusal(self, reason: str) -> None:
        await self.redis.hincrby(f"{self.p}:refused", reason, 1)

    async def release(
        self, key: str, *, now: float, interval: float | None = None
    ) -> Reservation | None:
        """Drop a reservation; with ``interval``, first charge up to ``now`` (its last bit)."""
        if interval:
            raw = await self.redis.hget(f"{self.p}:servers", key)
            if raw:
                await self.meter_one(Reservation.from_json(raw), interval, now)
        raw = await self._release(args=[self.p, key])
        return Reservation.from_json(raw) if raw else None

    # ---- metering --------------------------------------------------------------------------
    async def charge(self, res: Reservation, index: int, interval: float) -> bool:
        """Charge one interval of ``res``; False when it was charged before (idempotent)."""
        amount = to_micro(res.price_per_hour * interval / 3600)
        month = month_of(index * interval)
        args: list[str | int] = [self.p, res.key, month, index, amount, res.user, res.group]
        return bool(await self._charge(args=args))

    async def meter_one(self, res: Reservation, interval: float, now: float) -> int:
        """Charge every interval of ``res`` begun by ``now`` and not charged yet.

        An interval is charged once it has begun, so a restarted meter catches up on all it
        missed and a retried one writes nothing twice. Returns how many charges were new.
        """
        first = int(res.started // interval)
        last = int(now // interval)
        done = await self.redis.hget(f"{self.p}:charged", res.key)
        start = max(first, int(done) + 1) if done is not None else first
        new = 0
        for index in range(start, last + 1):
            new += await self.charge(res, index, interval)
        if last >= start:
            await self.redis.hset(f"{self.p}:charged", res.key, last)
        return new

    async def mark_meter_run(self, now: float) -> None:
        await self.redis.hset(f"{self.p}:meter", "last_run", now)

    async def meter_last_run(self) -> float | None:
        value = await self.redis.hget(f"{self.p}:meter", "last_run")
        return float(value) if value is not None else None

    # ---- reading -----------------------------------------------------------------------------
    async def charges(self, month: str) -> dict[str, int]:
        raw = await self.redis.hgetall(f"{self.p}:charges:{month}")
        return {_text(k): int(v) for k, v in raw.items()}

    async def gpus_in_use(self) -> dict[str, Any]:
        users = await self.redis.hgetall(f"{self.p}:gpu:user")
        groups = await self.redis.hgetall(f"{self.p}:gpu:group")
        cluster = await self.redis.get(f"{self.p}:gpu:cluster")
        return {
            "users": {_text(k): int(v) for k, v in users.items() if int(v)},
            "groups": {_text(k): int(v) for k, v in groups.items() if int(v)},
            "cluster": int(cluster or 0),
        }

    async def refused(self) -> dict[str, int]:
        raw = await self.redis.hgetall(f"{self.p}:refused")
        return {_text(k): int(v) for k, v in raw.items()}

    async def set_notice(self, key: str, kind: str, message: str, stop_at: float | None) -> None:
        notice = {"kind": kind, "message": message, "stop_at": stop_at}
        await self.redis.hset(f"{self.p}:notices", key, json.dumps(notice))

    async def clear_notice(self, key: str) -> None:
        await self.redis.hdel(f"{self.p}:notices", key)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
