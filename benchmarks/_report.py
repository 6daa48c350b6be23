"""How every benchmark ends: a name/value/note table, then (with --json) one JSON line."""

from __future__ import annotations

import json
from typing import Any


def report(rows: list[tuple[str, str, str]], figures: dict[str, Any], as_json: bool) -> None:
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")
    if as_json:
        print(json.dumps(figures))
