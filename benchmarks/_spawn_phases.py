"""Where a timed login's seconds go (spawn.py --phases), from what the browser itself saw.

Each phase ends at a request or answer the browser records (Playwright's request/response
events, seconds after the login form's submit), the same on both hubs:

    login      submit -> the hub's answer to POST /hub/login
    spawn      -> the answer to the spawn request (/hub/spawn, or the profile form's POST)
    server     -> the browser leaves the hub for the server (/user/<name>/): started and ready
    redirects  -> Lab's HTML answered (the server's redirects and the OAuth round trip)
    lab_load   -> Lab's first API call (its scripts loaded and run)
    lab_start  -> the launcher visible (plugins activated, settings and workspace read)
"""

from __future__ import annotations

import re
import time
from typing import Any

PHASES = ("login", "spawn", "server", "redirects", "lab_load", "lab_start")
_SPAWN = re.compile(r"/hub/spawn(/[^/?]+)?(\?|$)")


class Timeline:
    """Records a page's requests and answers with their time after ``start()``."""

    def __init__(self, page: Any) -> None:
        self.t0 = 0.0
        self.events: list[Event] = []
        page.on("request", lambda r: self._add("request", r))
        page.on("response", lambda r: self._add(f"answer {r.status}", r.request))

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.events.clear()

    def _add(self, kind: str, request: Any) -> None:
        if self.t0:
            now = time.perf_counter() - self.t0
            self.events.append((now, kind, request.method, request.url, request.resource_type))

    def phases(self, launcher_s: float) -> dict[str, float]:
        """Seconds per phase (PHASES), ending with the launcher seen at ``launcher_s``."""
        return phases_of(self.events, launcher_s)


Event = tuple[float, str, str, str, str]  # seconds after the submit, kind, method, URL, type


def phases_of(events: list[Event], launcher_s: float) -> dict[str, float]:
    """Seconds per phase (PHASES) of one login's ``events`` (kind: "request" or
    "answer <status>"; type: Playwright's resource type)."""

    def first(kind: str, method: str, pattern: str, types: tuple[str, ...]) -> float:
        for t, k, m, url, rtype in events:
            path = "/" + url.split("://", 1)[-1].partition("/")[2]
            if k.startswith(kind) and m in method and rtype in types and re.search(pattern, path):
                return t
        raise RuntimeError(f"no {kind} {method} {pattern} in the login's timeline")

    doc = ("document",)
    ends = [
        first("answer", "POST", r"^/hub/login", doc),
        max(t for t, k, _, url, rtype in events
            if k.startswith("answer") and rtype == "document" and _SPAWN.search(url)),
        first("request", "GET", r"^/user/[^/]+/", doc),
        first("answer 200", "GET", r"^/user/[^/]+/lab/?(\?|$)", doc),
        first("request", "GET POST", r"^/user/[^/]+/(api|lab/api)/", ("fetch", "xhr")),
        launcher_s,
    ]  # fmt: skip
    starts = [0.0, *ends[:-1]]
    return {
        name: round(end - begin, 3) for name, begin, end in zip(PHASES, starts, ends, strict=True)
    }
