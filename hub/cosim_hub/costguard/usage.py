"""Reports from the ledger: the whole usage (what the admin page, the API and /metrics show) and
one user's own figures (what their Lab banner shows, through ``api/self``)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from ..gpus import gpu_usage
from .ledger import Ledger, month_of
from .settings import CoSimCostGuard


async def usage_report(ledger: Ledger, settings: CoSimCostGuard, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    month = month_of(now)
    reservations = await ledger.reservations()
    notices = await ledger.notices()
    spend = await ledger.spend(month)
    quotas = await ledger.quotas()
    servers: list[dict[str, Any]] = []
    for key, res in sorted(reservations.items()):
        entry: dict[str, Any] = asdict(res)
        entry["key"] = key
        entry["notice"] = notices.get(key)
        servers.append(entry)
    users = {k[5:]: v for k, v in spend.items() if k.startswith("user:")}
    groups = {k[6:]: v for k, v in spend.items() if k.startswith("group:")}
    last_run = await ledger.meter_last_run()
    return {
        "month": month,
        "currency": settings.currency,
        "servers": servers,
        "spend": {"users": users, "groups": groups, "total": spend.get("total", 0.0)},
        "gpus": await ledger.gpus_in_use(),
        "gpu_devices": await gpu_usage(ledger.redis),
        "quotas": {scope: asdict(q) for scope, q in sorted(quotas.items())},
        "refused": await ledger.refused(),
        "meter": {
            "interval": settings.meter_interval,
            "last_run": last_run,
            "age": None if last_run is None else max(0.0, now - last_run),
        },
    }


async def own_status(ledger: Ledger, user: str, server: str, now: float | None = None) -> dict:
    """``user``'s spend and cap this month and the reservation and notice of their ``server``
    ("" for the default one): nothing about anyone else."""
    now = time.time() if now is None else now
    key = f"{user}/{server}"
    reservation = await ledger.reservation(key)
    spend = await ledger.spend(month_of(now))
    return {
        "month": month_of(now),
        "spend": round(spend.get(f"user:{user}", 0.0), 6),
        "cap": ledger.resolve(await ledger.quotas(), "user", user).spend_cap,
        "reservation": asdict(reservation) if reservation else None,
        "notice": (await ledger.notices()).get(key),
    }
