"""Helpers for the viewer tests: waiting on the publisher thread, reading what Redis holds."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import redis

from cosim_protocol.keys import Keys, namespace_user

KEYS = Keys(namespace_user())


def wait_for(predicate: Callable[[], object], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def meta(client: redis.Redis, sim_id: str) -> dict[str, Any] | None:
    raw = client.get(KEYS.meta(sim_id))
    return None if raw is None else json.loads(raw)


def drain(pubsub: Any, quiet: float = 0.3) -> list[bytes]:
    """Every message on ``pubsub`` until none came for ``quiet`` seconds."""
    seen = []
    deadline = time.monotonic() + quiet
    while time.monotonic() < deadline:
        # None also stands for a skipped subscribe confirmation, so time out by the clock.
        message = pubsub.get_message(timeout=0.05)
        if message is not None:
            seen.append(message["data"])
            deadline = time.monotonic() + quiet
    return seen
