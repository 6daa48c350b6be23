"""What a local spawner does with GPUs: a GPU profile's server gets its own devices (and only
those), a CPU profile's none; both are given back when the server stops."""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as aioredis

from cosim_protocol.gpus import device_environment

from .config import CoSimHub
from .gpus import CoSimGpus, GpuPool, GpusBusy, reader_for

_POOL_KEY = "cosim_gpu_pool"


def gpu_pool(config: Any, store: dict[str, Any]) -> GpuPool:
    """The hub process's one pool (kept in the hub's tornado settings, like the cost guard)."""
    pool = store.get(_POOL_KEY)
    if pool is None:
        client = aioredis.Redis.from_url(CoSimHub(config=config).redis_url or "redis://127.0.0.1")
        pool = GpuPool(client, reader_for(CoSimGpus(config=config)))
        store[_POOL_KEY] = pool
    return pool


class GpuSpawnerMixin:
    """Mixed into CoSimLocalSpawner next to the profile mixin (``selected_profile``)."""

    config: Any
    user: Any
    name: str
    log: Any
    selected_profile: Any

    _gpu_ids: list[str] | None = None

    @property
    def gpu_pool(self) -> GpuPool:
        return gpu_pool(self.config, self.user.settings)

    @property
    def _server_key(self) -> str:
        return f"{self.user.name}/{self.name}"

    async def allocate_gpus(self) -> None:
        """Before the process starts: this server's GPUs, or a refusal the spawn page shows."""
        want = self.selected_profile.gpus
        if want <= 0:
            self._gpu_ids = []
            return
        runtime = self.selected_profile.max_runtime
        try:
            ids = await self.gpu_pool.allocate(
                self._server_key, self.user.name, want,
                until=time.time() + runtime if runtime else None,
            )  # fmt: skip
        except GpusBusy as busy:
            raise _refusal(f"{self.selected_profile.display_name} cannot start: {busy}.") from None
        except (OSError, aioredis.RedisError) as err:
            raise _refusal(
                "GPU servers cannot start while Redis (where GPU assignments are kept) is "
                f"unreachable ({type(err).__name__}); CPU profiles still start."
            ) from None
        self._gpu_ids = ids
        self.log.info("GPUs %s for %s", ",".join(ids), self._server_key)

    async def release_gpus(self) -> None:
        if self.selected_profile.gpus <= 0:
            return
        try:
            released = await self.gpu_pool.release(self._server_key)
        except (OSError, aioredis.RedisError) as err:
            self.log.warning("Could not release GPUs of %s: %s", self._server_key, err)
            return
        if released:
            self.log.info("Released GPUs %s of %s", ",".join(released), self._server_key)
        self._gpu_ids = None

    def gpu_environment(self) -> dict[str, str]:
        return device_environment(self._gpu_ids or [])


def _refusal(sentence: str) -> RuntimeError:
    error = RuntimeError(sentence)
    error.jupyterhub_message = sentence  # type: ignore[attr-defined]  # shown on the spawn page
    return error
