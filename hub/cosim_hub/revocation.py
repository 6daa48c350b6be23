"""Blocked users and session revocations, shared by every hub replica through Redis.

Two facts per user name: *blocked* (an admin said so; lasts until unblocked) and *revoked at*
(the time of the last forced log-out; any session whose provider tokens were obtained before it
is refused). Keys: ``cosim:hub:blocked`` (set) and ``cosim:hub:revoked`` (hash name -> epoch).
Without a Redis URL (one hub, tests of the authenticator alone) an in-process store stands in.
"""

from __future__ import annotations

import time
from typing import Protocol

from cosim_protocol.keys import BLOCKED_KEY, REVOKED_KEY
from cosim_protocol.redis_client import make_async


class RevocationList(Protocol):
    async def block(self, name: str) -> None: ...
    async def unblock(self, name: str) -> None: ...
    async def is_blocked(self, name: str) -> bool: ...
    async def blocked(self) -> set[str]: ...
    async def mark_revoked(self, name: str, at: float | None = None) -> float: ...
    async def revoked_at(self, name: str) -> float: ...


class MemoryRevocationList:
    """One process's list: enough for a single hub without Redis."""

    def __init__(self) -> None:
        self._blocked: set[str] = set()
        self._revoked: dict[str, float] = {}

    async def block(self, name: str) -> None:
        self._blocked.add(name)

    async def unblock(self, name: str) -> None:
        self._blocked.discard(name)

    async def is_blocked(self, name: str) -> bool:
        return name in self._blocked

    async def blocked(self) -> set[str]:
        return set(self._blocked)

    async def mark_revoked(self, name: str, at: float | None = None) -> float:
        stamp = time.time() if at is None else at
        self._revoked[name] = max(stamp, self._revoked.get(name, 0.0))
        return self._revoked[name]

    async def revoked_at(self, name: str) -> float:
        return self._revoked.get(name, 0.0)


class RedisRevocationList:
    """The list in Redis, so a block or log-out on one hub replica holds on all of them."""

    def __init__(self, url: str) -> None:
        self._redis = make_async(url, decode=True)

    async def block(self, name: str) -> None:
        await self._redis.sadd(BLOCKED_KEY, name)

    async def unblock(self, name: str) -> None:
        await self._redis.srem(BLOCKED_KEY, name)

    async def is_blocked(self, name: str) -> bool:
        return bool(await self._redis.sismember(BLOCKED_KEY, name))

    async def blocked(self) -> set[str]:
        return {str(name) for name in await self._redis.smembers(BLOCKED_KEY)}

    async def mark_revoked(self, name: str, at: float | None = None) -> float:
        stamp = time.time() if at is None else at
        previous = await self.revoked_at(name)
        stamp = max(stamp, previous)
        await self._redis.hset(REVOKED_KEY, name, repr(stamp))
        return stamp

    async def close(self) -> None:
        await self._redis.aclose()

    async def revoked_at(self, name: str) -> float:
        value = await self._redis.hget(REVOKED_KEY, name)
        try:
            return float(value) if value else 0.0
        except ValueError:
            return 0.0


def revocation_list(redis_url: str) -> RevocationList:
    return RedisRevocationList(redis_url) if redis_url else MemoryRevocationList()
