"""Entry point of the managed service (the hub sets JUPYTERHUB_* and our settings in env)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from pathlib import Path
from urllib.parse import urlparse

from redis.exceptions import RedisError
from tornado import web
from tornado.httpclient import HTTPClientError

from cosim_protocol import env
from cosim_protocol.redis_client import make_async

from ..gpus import CoSimGpus, GpuPool, reader_for
from ..procs import light_teardown
from ..profiles import load_profiles
from .handlers import routes
from .hub_api import HubAPI
from .ledger import Ledger
from .meter import Meter
from .metrics import ReportCollector
from .settings import CoSimCostGuard

log = logging.getLogger("cosim.costguard")


class CostGuardService:
    """What the handlers share (tornado settings["cosim_guard"]) and the meter loop."""

    def __init__(self, settings: CoSimCostGuard, redis_url: str, journal: Path | None) -> None:
        self.settings = settings
        self.redis = make_async(redis_url, timeout=5.0, connect_timeout=2.0)
        self.ledger = Ledger(self.redis)
        profiles = load_profiles(os.environ.get("COSIM_PROFILES_FILE") or None)
        gpu_settings = CoSimGpus.from_env(dict(os.environ))
        gpus = GpuPool(self.redis, reader_for(gpu_settings))
        self.meter = Meter(self.ledger, HubAPI(), settings, profiles, journal, gpus=gpus,
                           idle_utilization=gpu_settings.idle_utilization)  # fmt: skip
        self.collector = ReportCollector()
        self.meter_lag = 0.0

    async def meter_loop(self) -> None:
        # Passes run more often than charges so warnings, grace and culls are timely; charges
        # are per interval and idempotent, so extra passes never charge more.
        tick = min(self.settings.meter_interval, 10.0)
        while True:
            scheduled = (time.time() // tick + 1) * tick
            await asyncio.sleep(max(0.0, scheduled - time.time()))
            self.meter_lag = max(0.0, time.time() - scheduled)
            try:
                await self.meter.run_once()
            except (RedisError, OSError, HTTPClientError) as err:
                # Redis or the hub away: try again next tick; running servers are untouched.
                log.warning("meter pass failed: %s", err)


async def serve() -> None:
    logging.basicConfig(
        level=logging.INFO, format="[%(levelname)s %(asctime)s costguard] %(message)s"
    )
    settings = CoSimCostGuard.from_env()
    state = os.environ.get("COSIM_STATE_DIR")
    journal = None
    if state:
        folder = Path(state) / "costguard"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        journal = folder / "ledger.jsonl"
    service = CostGuardService(settings, env.redis_url(), journal)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/cosim-costguard/")
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    app = web.Application(
        routes(prefix), cosim_guard=service, cookie_secret=os.urandom(32), xsrf_cookies=False
    )
    app.listen(url.port or 80, settings.service_bind or url.hostname or "127.0.0.1")
    log.info("listening on %s (meter every %.0f s)", url.geturl(), settings.meter_interval)
    await service.meter_loop()


def main() -> None:
    # The hub stops its services with SIGTERM (or SIGINT at Ctrl-C): exit quietly either way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    light_teardown()  # the hub waits for our exit before it stops the next service
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
