"""Reading tornado routing tables, for the tests that enumerate every handler (auth checks)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any


def router_rules(router: Any) -> Iterator[Any]:
    """Rules of a tornado router, descending into nested routers (host-pattern groups)."""
    for rule in getattr(router, "rules", []):
        if isinstance(rule.target, type):
            yield rule
        else:
            yield from router_rules(rule.target)


def sample_path(pattern: str) -> str:
    """A path the route matches: optional groups dropped, each group a value it accepts (the
    first word of an alternation such as ``(user|group)``, else "sample")."""
    path = pattern.rstrip("$")
    innermost = re.compile(r"\((\?:|\?P<\w+>)?([^()]*)\)(\?)?")

    def value(m: re.Match[str]) -> str:
        if m.group(3):  # optional: leave it out
            return ""
        words = m.group(2).split("|")
        return words[0] if all(re.fullmatch(r"[\w-]+", w) for w in words) else "sample"

    while innermost.search(path):
        path = innermost.sub(value, path)
    path = path.replace("[^/]+", "sample")  # a segment matched outside any group
    return path.replace("\\", "").replace("/?", "/").replace("?", "")
