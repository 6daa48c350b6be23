"""``GET /cosim/api/costguard``: this server's profile, this month's spend and cap, and any notice
from the cost guard (spend warning, stop after grace, idle or runtime cull) for Lab's banner.

It asks the cost-guard service (``$COSIM_COSTGUARD_URL``, ``api/self``) with this server's own
hub token, whose self scope the hub cuts down to this server's user: the service answers with
that user's figures only. User servers cannot read the ledger in Redis at all (Redis ACLs work
per key, not per hash field, and the ledger's hashes hold every user's figures).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from cosim_protocol import env

from .base import CoSimError, CoSimHandler, fetch_hub_json


def banner(own: dict[str, Any]) -> dict[str, Any]:
    """The banner's figures from the service's ``api/self`` reply (profile and GPUs from this
    server's environment while the ledger holds no reservation for it)."""
    reservation = own.get("reservation") or {}
    return {
        "available": True,
        "profile": reservation.get("profile") or os.environ.get(env.PROFILE, ""),
        "gpus": reservation.get("gpus", int(os.environ.get(env.GPUS, "0") or 0)),
        "price_per_hour": reservation.get("price_per_hour"),
        "month": own.get("month"),
        "spend": own.get("spend", 0.0),
        "cap": own.get("cap"),
        "notice": own.get("notice"),
    }


class CostGuardStatusHandler(CoSimHandler):
    # Lab polls this; polling must not count as activity, or no idle server would ever be culled.
    _track_activity = False

    async def get(self) -> None:
        base = os.environ.get(env.COSTGUARD_URL, "")
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        if not base or not token:
            self.finish({"available": False, "message": "this hub runs no cost guard"})
            return
        server = os.environ.get("JUPYTERHUB_SERVER_NAME", "")
        url = f"{base.rstrip('/')}/api/self?server={quote(server, safe='')}"
        try:
            own = await fetch_hub_json(
                url, "GET", None, service="the cost guard", timeout=self.cosim.redis_timeout,
                token=token,
            )  # fmt: skip
        except CoSimError as err:
            self.finish({"available": False, "message": err.message})
            return
        self.finish(banner(own))


def routes() -> list[tuple[str, type]]:
    return [(r"/cosim/api/costguard", CostGuardStatusHandler)]
