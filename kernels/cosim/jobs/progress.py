"""Reading a job's metrics.jsonl: the last record for lists, new records for live views."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def last_metric(path: Path) -> dict[str, Any] | None:
    """The last complete record, reading only the file's end."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        try:
            return dict(json.loads(line))
        except ValueError:
            continue  # a line cut by the seek, or being written
    return None


def read_metrics(
    path: Path, offset: int = 0, limit: int = 5000
) -> tuple[list[dict[str, Any]], int]:
    """Complete records from byte ``offset`` on, and the offset to continue from."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1  # a half-written last line waits for the next read
    records = []
    for line in data[:end].splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records[-limit:], offset + end
