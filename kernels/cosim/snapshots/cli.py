"""``cosim snapshot create|list|show|diff|restore|export|import|verify|gc``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from . import ops
from .archive import export, import_archive
from .diff import diff
from .store import SnapshotError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "snapshot",
        help="workspace snapshots (create, list, diff, restore, ...)",
        description="Snapshots of a workspace: source files, environment "
        "lockfile, data references and chosen job artifacts, deduplicated in "
        "<workspace>/.cosim/snapshots.",
    )
    p.add_argument("--workspace", default=".", help="the workspace folder (default: here)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    cmds = p.add_subparsers(dest="snapshot_command", metavar="ACTION", required=True)
    c = cmds.add_parser("create", help="take a snapshot")
    c.add_argument("-m", "--message", default="", help="what this snapshot is")
    c.add_argument(
        "--artifacts",
        action="append",
        default=[],
        metavar="JOB_ID",
        help="also keep this job's checkpoints and metrics (repeatable)",
    )
    c.add_argument(
        "--data-threshold",
        type=int,
        default=ops.DEFAULT_DATA_THRESHOLD,
        metavar="BYTES",
        help="files larger than this are referenced, not copied",
    )
    cmds.add_parser("list", help="list snapshots, oldest first")
    s = cmds.add_parser("show", help="one snapshot's manifest")
    s.add_argument("snapshot", help="id, unique part of one, or 'latest'")
    s.add_argument("--requirements", metavar="FILE", help="write a pinned requirements file")
    d = cmds.add_parser("diff", help="what changed between two snapshots or against the files")
    d.add_argument("a", help="snapshot")
    d.add_argument("b", nargs="?", default="working", help="snapshot (default: working tree)")
    r = cmds.add_parser("restore", help="restore a snapshot in place or into a new folder")
    r.add_argument("snapshot")
    r.add_argument("--to", dest="target", metavar="DIR", help="a new folder to restore into")
    r.add_argument(
        "--force",
        action="store_true",
        help="restore in place over changes (a safety snapshot is taken first)",
    )
    r.add_argument(
        "--allow-startup-files",
        action="store_true",
        help="also restore files that run code at login or kernel start (.bashrc, "
        ".ipython/profile_*/startup, .jupyter config, ...); left out by default",
    )
    e = cmds.add_parser("export", help="write one snapshot as a single archive file")
    e.add_argument("snapshot")
    e.add_argument("file")
    i = cmds.add_parser("import", help="add a snapshot from an archive file")
    i.add_argument("file")
    cmds.add_parser("verify", help="check every manifest and blob")
    cmds.add_parser("gc", help="delete blobs no snapshot uses")


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _print_diff(result: dict[str, Any]) -> None:
    print(f"{result['from']} -> {result['to']}")
    for kind, mark in (("added", "+"), ("removed", "-"), ("changed", "~")):
        for path in result[kind]:
            print(f"  {mark} {path}")
    for patch in result["patches"].values():
        print(patch if patch.endswith("\n") else patch + "\n", end="")
    pkgs = result["python_packages"]
    for name, version in pkgs["added"].items():
        print(f"  + package {name}=={version}")
    for name, version in pkgs["removed"].items():
        print(f"  - package {name}=={version}")
    for name, (old, new) in pkgs["changed"].items():
        print(f"  ~ package {name} {old} -> {new}")


def run(args: argparse.Namespace) -> int:
    ws, cmd = args.workspace, args.snapshot_command
    try:
        if cmd == "create":
            result: Any = ops.create(
                ws, args.message, data_threshold=args.data_threshold, artifacts=args.artifacts
            )
            text = (
                f"snapshot {result['id']}: {len(result['files'])} files, "
                f"{result['stored_bytes']} new bytes stored"
            )
        elif cmd == "list":
            result = ops.list_snapshots(ws)
            text = (
                "\n".join(
                    f"{s['id']}  {_when(s['created'])}  {s['files']:>6} files  "
                    f"{'(auto) ' if s['auto'] else ''}{s['message']}"
                    for s in result
                )
                or "no snapshots yet"
            )
        elif cmd == "show":
            result = ops.show(ws, args.snapshot)
            if args.requirements:
                ops.write_requirements(ws, args.snapshot, args.requirements)
            text = json.dumps({k: v for k, v in result.items() if k != "files"}, indent=1)
            text += f"\nfiles: {len(result['files'])}"
        elif cmd == "diff":
            result = diff(ws, args.a, args.b)
            text = ""
            if not args.json:
                _print_diff(result)
        elif cmd == "restore":
            result = ops.restore(
                ws,
                args.snapshot,
                target=args.target,
                force=args.force,
                allow_startup_files=args.allow_startup_files,
            )
            text = f"restored {result['restored']} into {result['target']}"
            if result["safety_snapshot"]:
                text += f" (your changes are in snapshot {result['safety_snapshot']})"
            for ref in result["data"]:
                text += f"\n  data {ref['status']}: {ref['path']} (expected sha256 {ref['sha256']})"
        elif cmd == "export":
            result = {"file": export(ws, args.snapshot, args.file)}
            text = f"wrote {result['file']}"
        elif cmd == "import":
            result = import_archive(ws, args.file)
            text = f"imported snapshot {result['id']}"
        elif cmd == "verify":
            result = ops.verify(ws)
            text = "\n".join(result) or "all snapshots intact"
            if result:
                print(text, file=sys.stderr)
                return 1
        else:  # gc
            result = ops.gc(ws)
            text = f"removed {result['removed_blobs']} blobs, freed {result['freed_bytes']} bytes"
    except SnapshotError as err:
        print(f"cosim snapshot: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    elif text:
        print(text)
    return 0
