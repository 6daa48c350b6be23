"""``cosim slam eval GT EST``: ATE and RPE of an estimated trajectory, the numbers evo prints.

Exit codes: 0 done, 2 bad input (the message names the file and line or what is missing).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

FORMATS = ("tum", "euroc", "kitti")  # same as trajfiles.FORMATS; kept here to stay import-light


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "slam",
        help="SLAM tools (trajectory evaluation)",
        description="SLAM tools of the user server.",
    )
    cmds = p.add_subparsers(dest="slam_command", metavar="ACTION", required=True)
    e = cmds.add_parser(
        "eval",
        help="ATE and RPE of an estimated trajectory against ground truth (evo)",
        description="Absolute trajectory error (translation, m) and relative pose error "
        "(translation in m, rotation in degrees) through evo, with evo_ape/evo_rpe defaults: "
        "poses associated by nearest timestamp within 0.01 s (KITTI: by line).",
    )
    e.add_argument("gt", metavar="GT", help="ground-truth trajectory file")
    e.add_argument("est", metavar="EST", help="estimated trajectory file")
    e.add_argument(
        "--format",
        choices=FORMATS,
        default="tum",
        help="file format (default: tum). euroc: GT is EuRoC's state_groundtruth_estimate0/"
        "data.csv and EST is TUM, as with evo_ape euroc",
    )
    e.add_argument("--align", "-a", action="store_true", help="Umeyama SE(3) alignment first")
    e.add_argument(
        "--scale",
        "-s",
        action="store_true",
        help="correct scale too (Sim(3) with --align; for monocular estimates)",
    )
    e.add_argument(
        "--delta", type=_positive, default=1.0, metavar="N", help="RPE step (default: 1)"
    )
    e.add_argument(
        "--delta-unit",
        choices=("f", "m"),
        default="f",
        help="unit of --delta: f frames, m metres travelled (default: f)",
    )
    e.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    d = sub.add_parser(
        "datasets",
        help="datasets shared with this server (read-only, under ~/datasets)",
        description="The datasets an admin shares with every user server, read-only under "
        "~/datasets/<name> ($COSIM_DATASETS_DIR overrides the folder).",
    )
    d.add_argument("--json", action="store_true", help="print JSON instead of text")
    dc = d.add_subparsers(dest="datasets_command", metavar="ACTION", required=True)
    dc.add_parser("list", help="name, format, size and frame count of each dataset")


def _table(ev: Any) -> str:
    mode = (
        "Sim(3) Umeyama alignment"
        if ev.aligned and ev.scale_corrected
        else "SE(3) Umeyama alignment"
        if ev.aligned
        else "scale corrected"
        if ev.scale_corrected
        else "not aligned"
    )
    unit = "frames" if ev.delta_unit == "f" else "m"
    lines = [
        f"{ev.poses} matched poses, {mode}"
        + (f", scale {ev.scale:.6f}" if ev.scale_corrected and ev.scale else "")
    ]
    lines.append(f"{'':<28}{'rmse':>12}{'mean':>12}{'median':>12}{'max':>12}")
    for label, stats in (
        ("ATE (m)", ev.ate),
        (f"RPE trans (m, d={ev.delta:g} {unit})", ev.rpe_trans),
        (f"RPE rot (deg, d={ev.delta:g} {unit})", ev.rpe_rot_deg),
    ):
        row = "".join(f"{stats[k]:>12.6f}" for k in ("rmse", "mean", "median", "max"))
        lines.append(f"{label:<28}{row}")
    return "\n".join(lines)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def run_datasets(args: argparse.Namespace) -> int:
    from .datasets import list_datasets
    from .run import datasets_root

    root = datasets_root()
    found = list_datasets(root)
    if args.json:
        print(json.dumps([d.as_json() for d in found]))
        return 0
    if not found:
        print(f"no datasets in {root}")
        return 0
    print(f"{'name':<24}{'format':<8}{'size':>10}{'frames':>8}  access")
    for d in found:
        frames = "-" if d.frames is None else str(d.frames)
        access = "read-only" if not d.writable else "writable"
        line = f"{d.name:<24}{d.format:<8}{_size(d.size_bytes):>10}{frames:>8}  {access}"
        print(line + (f"  ({d.problem})" if d.problem else ""))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.command == "datasets":
        return run_datasets(args)
    from .metrics import evaluate_files
    from .trajfiles import TrajectoryInputError

    try:
        ev = evaluate_files(
            args.gt,
            args.est,
            args.format,
            align=args.align,
            scale=args.scale,
            delta=args.delta,
            delta_unit=args.delta_unit,
        )
    except TrajectoryInputError as err:
        print(f"cosim slam eval: {err}", file=sys.stderr)
        return 2
    print(json.dumps(ev.as_json()) if args.json else _table(ev))
    return 0
