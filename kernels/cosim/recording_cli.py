"""``cosim rec info FILE [--json]``: what a sim recording holds."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from cosim_protocol.recording import RecordingError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "rec",
        help="sim recordings (.cosimrec)",
        description="Inspect sim recordings written by cosim.viewer(..., record=PATH).",
    )
    cmds = p.add_subparsers(dest="rec_command", metavar="ACTION", required=True)
    info = cmds.add_parser("info", help="bodies, frames, duration and events of a recording")
    info.add_argument("file", help="a .cosimrec file")
    info.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: Any) -> int:
    from .recording import Recording

    try:
        with Recording(args.file) as rec:
            info = rec.info()
            info["body_names"] = rec.bodies
            info["event_list"] = rec.events
    except RecordingError as err:
        print(f"cosim rec: {args.file}: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(info))
        return 0
    created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["created"] or 0))
    rows = [
        ("file", info["path"]),
        ("engine", info["engine"]),
        ("title", info["title"]),
        ("created", created),
        ("bodies", str(info["bodies"])),
        ("frames", f"{info['frames']} in {info['blocks']} blocks"),
        ("duration", f"{info['duration']:.3f} s sim time (from t = {info['start_time']:.3f})"),
        ("events", ", ".join(f"{e['kind']}@{e['t']:.2f}" for e in rec.events) or "none"),
        ("size", f"{info['bytes']} bytes"),
    ]
    if info["truncated"]:
        rows.append(("note", "file cut short: read up to its last complete block"))
    for name, value in rows:
        print(f"{name:<9} {value}")
    return 0
