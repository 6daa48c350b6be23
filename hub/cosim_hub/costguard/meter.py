"""The meter: each interval, charge running servers, warn, stop past the grace period, cull.

One pass (:meth:`Meter.run_once`) is idempotent: charges are keyed by server and interval in the
ledger, notices are overwritten, a stop of a stopped server is a no-op. So the meter may be killed
and restarted at any point; the next pass catches up on every interval it missed.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..gpus import GpuPool
from ..profiles import Profile
from .hub_api import HubAPI
from .ledger import Ledger, Quota, Reservation, month_of
from .settings import CoSimCostGuard

log = logging.getLogger("cosim.costguard")


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@dataclass
class RunningServer:
    user: str
    server: str
    started: float | None
    last_activity: float | None
    ready: bool

    @property
    def key(self) -> str:
        return f"{self.user}/{self.server}"


class Meter:
    def __init__(
        self,
        ledger: Ledger,
        hub: HubAPI,
        settings: CoSimCostGuard,
        profiles: list[Profile],
        journal: Path | None = None,
        *,
        gpus: GpuPool | None = None,
        idle_utilization: float = 5.0,
    ) -> None:
        self.ledger = ledger
        self.hub = hub
        self.settings = settings
        self.profiles = {p.name: p for p in profiles}
        self.journal = journal
        self.lag = 0.0
        self.stopped: list[str] = []
        self.gpus = gpus
        self.idle_utilization = idle_utilization
        # Server key -> when its GPUs were last seen busy (first seen: counts as busy then).
        self.gpu_busy: dict[str, float] = {}
        # Server key -> when this meter first saw it ready. The hub dates a new server's
        # last_activity at the spawn request, so a start slower than the idle timeout (a loaded
        # node, a pulled image) would be culled the moment it became ready.
        self.ready_since: dict[str, float] = {}

    async def running(self) -> dict[str, RunningServer]:
        found = {}
        for user in await self.hub.active_users():
            for name, server in (user.get("servers") or {}).items():
                entry = RunningServer(
                    user=user["name"],
                    server=name,
                    started=_epoch(server.get("started")),
                    last_activity=_epoch(server.get("last_activity")),
                    ready=bool(server.get("ready")),
                )
                found[entry.key] = entry
        return found

    async def run_once(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        interval = self.settings.meter_interval
        running = await self.running()
        for key, entry in running.items():
            if entry.ready:
                self.ready_since.setdefault(key, now)
        for key in set(self.ready_since) - set(running):
            del self.ready_since[key]
        reservations = await self.ledger.reservations()
        quotas = await self.ledger.quotas()
        for key, res in reservations.items():
            if key not in running:
                # The hub stopped it without telling us (crash, Redis was down at stop).
                if now - res.started > max(30.0, 2 * interval):
                    await self.ledger.release(key, now=now, interval=interval)
                    log.info("released orphaned reservation %s", key)
                continue
            new = await self.ledger.meter_one(res, interval, now)
            if new:
                self._journal(res, new, now)
        await self._read_gpus(now)
        spend = await self.ledger.spend(month_of(now))
        for key, res in (await self.ledger.reservations()).items():
            server = running.get(key)
            if server is not None:
                await self._enforce(res, server, quotas, spend, now)
        await self.ledger.mark_meter_run(now)

    async def _read_gpus(self, now: float) -> None:
        """Record GPU readings; note when each GPU server's devices were last busy. A GPU with
        no reading (a declared pool without a readings file) is never taken as idle."""
        if self.gpus is None or not self.gpus.ids:
            return
        readings = await self.gpus.record_readings()
        holders: dict[str, bool] = {}
        for gpu_id, assignment in (await self.gpus.assignments()).items():
            reading = readings.get(gpu_id)
            if reading is None:
                continue
            busy = reading.utilization >= self.idle_utilization
            holders[assignment.server] = holders.get(assignment.server, False) or busy
        for server, busy in holders.items():
            if busy or server not in self.gpu_busy:
                self.gpu_busy[server] = now
        for server in set(self.gpu_busy) - set(holders):
            del self.gpu_busy[server]

    async def _enforce(
        self,
        res: Reservation,
        server: RunningServer,
        quotas: dict[str, Quota],
        spend: dict[str, float],
        now: float,
    ) -> None:
        profile = self.profiles.get(res.profile)
        notices = await self.ledger.notices()
        current = notices.get(res.key) or {}
        # Past a cap: GPU servers only (CPU keeps running so nobody is locked out of files).
        if res.gpus > 0:
            over, near = self._spend_state(res, quotas, spend)
            if over:
                stop_at = current.get("stop_at") if current.get("kind") == "spend-over" else None
                stop_at = stop_at or now + self.settings.grace_period
                if now >= stop_at:
                    await self._stop(res, f"spend cap: {over}")
                    return
                left = max(0.0, stop_at - now)
                message = (
                    f"{over[:1].upper()}{over[1:]}. This GPU server stops in {left:.0f} s; "
                    "your files are kept."
                )
                await self.ledger.set_notice(res.key, "spend-over", message, stop_at)
                return
            if near:
                near = f"{near[:1].upper()}{near[1:]}."
                await self.ledger.set_notice(res.key, "spend-warning", near, None)
                return
        if profile is not None and await self._cull(res, server, profile, current, now):
            return
        if current:
            await self.ledger.clear_notice(res.key)

    def _spend_state(
        self, res: Reservation, quotas: dict[str, Quota], spend: dict[str, float]
    ) -> tuple[str, str]:
        """("over" message, "near" message), each empty when it does not apply."""
        near = ""
        for kind, name, who in (("user", res.user, "your"), ("group", res.group, "your group's")):
            cap = self.ledger.resolve(quotas, kind, name).spend_cap
            spent = spend.get(f"{kind}:{name}", 0.0)
            if cap is None:
                continue
            if spent >= cap:
                return f"{who} monthly spend cap is reached (${spent:.2f} of ${cap:.2f})", ""
            if not near and spent >= cap * self.settings.warn_fraction:
                near = f"{who} spend this month is ${spent:.2f} of a ${cap:.2f} cap"
        return "", near

    async def _cull(
        self,
        res: Reservation,
        server: RunningServer,
        profile: Profile,
        current: dict[str, Any],
        now: float,
    ) -> bool:
        """Idle and max-runtime culling for the profile; True when a notice was set."""
        deadlines = []
        ready_since = self.ready_since.get(res.key)
        if profile.idle_timeout and server.last_activity and ready_since is not None:
            idle_from = max(server.last_activity, ready_since)  # starting up is not idling
            deadlines.append(("idle", idle_from + profile.idle_timeout))
        if profile.max_runtime and server.started:
            deadlines.append(("runtime", server.started + profile.max_runtime))
        gpu_busy = self.gpu_busy.get(res.key)
        if profile.gpu_idle_timeout and gpu_busy is not None:
            # Kernel and job activity count too: a GPU idle between cells is not abandoned.
            busy = max(gpu_busy, server.last_activity or 0.0)
            deadlines.append(("gpu-idle", busy + profile.gpu_idle_timeout))
        if not deadlines:
            return False
        kind, stop_at = min(deadlines, key=lambda d: d[1])
        if now >= stop_at:
            await self._stop(res, f"{kind} limit of profile {profile.name}")
            return True
        if stop_at - now <= self.settings.cull_warning:
            why = {
                "idle": "it has been idle",
                "gpu-idle": "its GPU has been idle",
                "runtime": "it reached its maximum runtime",
            }[kind]
            message = (
                f"This server stops in {stop_at - now:.0f} s because {why} "
                f"({profile.display_name}); your files are kept."
            )
            await self.ledger.set_notice(res.key, f"cull-{kind}", message, stop_at)
            return True
        return False

    async def _stop(self, res: Reservation, why: str) -> None:
        log.warning("stopping %s: %s", res.key, why)
        await self.hub.stop_server(res.user, res.server)
        self.stopped.append(res.key)
        self._journal(res, 0, time.time(), event=f"stopped: {why}")

    def _journal(self, res: Reservation, charges: int, now: float, event: str = "") -> None:
        """Append to the durable ledger file (what Redis holds can be rebuilt from hub + this)."""
        if self.journal is None:
            return
        entry = {"time": now, "server": res.key, "profile": res.profile, "group": res.group}
        entry.update({"event": event} if event else {"intervals_charged": charges})
        try:
            with self.journal.open("a") as out:
                out.write(json.dumps(entry) + "\n")
        except OSError as err:
            log.error("cannot write the ledger journal %s: %s", self.journal, err)
