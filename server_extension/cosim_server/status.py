"""``GET /cosim/api/status``: version, Redis reachability, loaded features."""

from __future__ import annotations

import asyncio

from redis.exceptions import RedisError

from cosim_protocol.redis_client import redact_url

from ._version import __version__
from .base import CoSimHandler


class StatusHandler(CoSimHandler):
    async def get(self) -> None:
        ctx = self.cosim
        reachable, error = True, None
        try:
            await asyncio.wait_for(ctx.redis.ping(), timeout=ctx.redis_timeout)
        except (TimeoutError, RedisError, OSError) as err:
            reachable, error = False, f"{type(err).__name__}: {err}"[:200]
        self.finish(
            {
                "version": __version__,
                "redis": {
                    "reachable": reachable,
                    "url": redact_url(ctx.redis_url),
                    "error": error,
                },
                "features": sorted(ctx.features),
            }
        )


def routes() -> list[tuple[str, type]]:
    return [(r"/cosim/api/status", StatusHandler)]
