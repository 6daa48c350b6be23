"""The cost guard's ledger: money units, months, quotas, reservations and the reads of the
ledger hashes (layout in cosim_hub.costguard.ledger; names in ``keys``). The hub's
``cosim_hub.costguard.ledger.Ledger`` adds the writes (Lua scripts) on top. Only the hub and
its cost-guard service read the ledger; a user sees their own figures through the service's
``api/self``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from .keys import LEDGER_PREFIX

SCHEMA_VERSION = 1
MICRO = 1_000_000


def month_of(epoch: float) -> str:
    return time.strftime("%Y-%m", time.gmtime(epoch))


def to_micro(amount: float) -> int:
    return round(amount * MICRO)


def from_micro(value: int | str | bytes | None) -> float:
    return int(value or 0) / MICRO


@dataclass(frozen=True)
class Quota:
    """Limits for one user, group, the defaults or the cluster; None = no limit."""

    gpu_limit: int | None = None
    spend_cap: float | None = None

    @classmethod
    def parse(cls, data: Any) -> Quota:
        """Build from admin input; raises ValueError with a message for a 400."""
        if not isinstance(data, dict):
            raise ValueError("a quota is a JSON object with gpu_limit and/or spend_cap")
        unknown = sorted(set(data) - {"gpu_limit", "spend_cap"})
        if unknown:
            raise ValueError(f"unknown quota keys {unknown}; use gpu_limit and spend_cap")
        gpu, cap = data.get("gpu_limit"), data.get("spend_cap")
        if gpu is not None and (isinstance(gpu, bool) or not isinstance(gpu, int) or gpu < 0):
            raise ValueError("gpu_limit must be a whole number >= 0, or null for no limit")
        if cap is not None and (
            isinstance(cap, bool) or not isinstance(cap, int | float) or not 0 <= cap < 1e9
        ):
            raise ValueError("spend_cap must be a number >= 0, or null for no limit")
        return cls(gpu, None if cap is None else float(cap))


@dataclass(frozen=True)
class Reservation:
    """A running (or starting) server as the ledger knows it."""

    user: str
    server: str
    profile: str
    group: str
    gpus: int
    price_per_hour: float
    started: float

    @property
    def key(self) -> str:
        return f"{self.user}/{self.server}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Reservation:
        return cls(**json.loads(raw))


class LedgerView:
    """Reads of the ledger. ``redis``: an asyncio Redis client (``redis_client.make_async``)."""

    def __init__(self, redis: Any, prefix: str = LEDGER_PREFIX) -> None:
        self.redis = redis
        self.p = prefix

    async def quotas(self) -> dict[str, Quota]:
        raw = await self.redis.hgetall(f"{self.p}:quotas")
        return {_text(k): Quota(**json.loads(v)) for k, v in raw.items()}

    @staticmethod
    def resolve(quotas: dict[str, Quota], kind: str, name: str) -> Quota:
        """The quota of user/group ``name``: its own, else the default for its kind."""
        return quotas.get(f"{kind}:{name}") or quotas.get(f"default:{kind}") or Quota()

    # ---- reservations ----------------------------------------------------------------------
    async def reservations(self) -> dict[str, Reservation]:
        raw = await self.redis.hgetall(f"{self.p}:servers")
        return {_text(k): Reservation.from_json(v) for k, v in raw.items()}

    async def reservation(self, key: str) -> Reservation | None:
        raw = await self.redis.hget(f"{self.p}:servers", key)
        return Reservation.from_json(raw) if raw else None

    async def spend(self, month: str) -> dict[str, float]:
        raw = await self.redis.hgetall(f"{self.p}:spend:{month}")
        return {_text(k): from_micro(v) for k, v in raw.items()}

    async def notices(self) -> dict[str, dict[str, Any]]:
        raw = await self.redis.hgetall(f"{self.p}:notices")
        return {_text(k): json.loads(v) for k, v in raw.items()}


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
