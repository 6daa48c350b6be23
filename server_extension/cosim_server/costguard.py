"""``GET /cosim/api/costguard``: this server's profile, this month's spend and cap, and any notice
from the cost guard (spend warning, stop after grace, idle or runtime cull) for Lab's banner.

It reads the cost guard's ledger in Redis for this server's own user only; quotas and other
users' figures stay behind the admin-only service. The server's own Redis user may read only the
ledger hashes read here, never write them (``cosim_protocol.keys.LEDGER_READ_KEYS``): Redis ACLs
work per key, not per hash field, so keep that list in step with what this module reads.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from redis.exceptions import RedisError

from cosim_protocol.costguard import LedgerView, month_of

from .base import CoSimHandler


async def banner_status(ledger: LedgerView, user: str, server: str, now: float) -> dict[str, Any]:
    key = f"{user}/{server}"
    reservation = await ledger.reservation(key)
    notice = (await ledger.notices()).get(key)
    spend = await ledger.spend(month_of(now))
    quotas = await ledger.quotas()
    cap = ledger.resolve(quotas, "user", user).spend_cap
    return {
        "available": True,
        "profile": reservation.profile if reservation else os.environ.get("COSIM_PROFILE", ""),
        "gpus": reservation.gpus if reservation else int(os.environ.get("COSIM_GPUS", "0") or 0),
        "price_per_hour": reservation.price_per_hour if reservation else None,
        "month": month_of(now),
        "spend": round(spend.get(f"user:{user}", 0.0), 6),
        "cap": cap,
        "notice": notice,
    }


class CostGuardStatusHandler(CoSimHandler):
    # Lab polls this; polling must not count as activity, or no idle server would ever be culled.
    _track_activity = False

    async def get(self) -> None:
        user = os.environ.get("JUPYTERHUB_USER", "")
        server = os.environ.get("JUPYTERHUB_SERVER_NAME", "")
        ctx = self.cosim
        try:
            body = await asyncio.wait_for(
                banner_status(LedgerView(ctx.redis), user, server, time.time()), ctx.redis_timeout
            )
        except (TimeoutError, RedisError, OSError):
            body = {"available": False, "message": "the cost guard's ledger is unreachable"}
        self.finish(body)


def routes() -> list[tuple[str, type]]:
    return [(r"/cosim/api/costguard", CostGuardStatusHandler)]
