"""The one place that turns a Redis URL into a client, for every part (hub, server, kernels).

The ``redis`` package is imported only when a client is built: importing this module stays
standard-library only, like the rest of the protocol package.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .env import DEFAULT_REDIS_URL, redis_url

__all__ = ["DEFAULT_REDIS_URL", "make_async", "make_sync", "redact_url", "redis_url"]


def _options(timeout: float, connect_timeout: float | None, decode: bool) -> dict[str, Any]:
    return {
        "socket_connect_timeout": timeout if connect_timeout is None else connect_timeout,
        "socket_timeout": timeout,
        "decode_responses": decode,
    }


def make_async(
    url: str | None = None,
    *,
    timeout: float = 2.0,
    connect_timeout: float | None = None,
    decode: bool = False,
    health_check_interval: int = 0,
) -> Any:
    """An asyncio client (``redis.asyncio.Redis``) with short timeouts: nothing may hang on it.
    ``url`` defaults to ``$REDIS_URL``, else the local default."""
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(
        url or redis_url(),
        health_check_interval=health_check_interval,
        **_options(timeout, connect_timeout, decode),
    )


def make_sync(
    url: str | None = None,
    *,
    timeout: float = 2.0,
    connect_timeout: float | None = None,
    decode: bool = False,
) -> Any:
    """A blocking client (``redis.Redis``), for kernels, job processes and CLIs."""
    import redis

    return redis.Redis.from_url(url or redis_url(), **_options(timeout, connect_timeout, decode))


def redact_url(url: str) -> str:
    """The URL with any password replaced, for logs and status replies."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
