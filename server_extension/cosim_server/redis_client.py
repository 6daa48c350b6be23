"""The one place that turns a Redis URL into an async client."""

from __future__ import annotations

import os

import redis.asyncio as aioredis

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url_from_env(default: str = DEFAULT_REDIS_URL) -> str:
    """``REDIS_URL`` as CoSim's launcher and spawners set it, else ``default``."""
    return os.environ.get("REDIS_URL") or default


def make_redis(url: str, *, timeout: float = 2.0) -> aioredis.Redis:
    """An async client with short timeouts: callers on the request path must never hang."""
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        health_check_interval=30,
    )


def redact_url(url: str) -> str:
    """The URL with any password replaced, for logs and status replies."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
