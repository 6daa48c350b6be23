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


def run(args: argparse.Namespace) -> int:
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
