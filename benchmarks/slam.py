"""SLAM: the baseline's tracking rate and accuracy, and `cosim slam eval` against `evo_ape`.

- fps: frames/s of the RGB-D baseline's tracking (ORB, guided matching, PnP + RANSAC, LM
  refinement, keyframes) on the generated 640x480 sequence. Images are read before the clock
  starts, as ORB-SLAM2's reported ~30 ms per frame is tracking time. Goal >= 30.
- ate_rmse_m: ATE RMSE (SE(3)-aligned, evo) of that run on the default 20 s path. Goal < 0.05.
- eval_ratio: wall time of `cosim slam eval GT EST --align` (ATE + RPE translation + rotation)
  / `evo_ape tum GT EST -a` (ATE only) on the same two 10,000-pose TUM files, both as the
  commands a user types (fresh processes), alternating, median of the rounds. Goal <= 1.0.

--quick renders 5 s of the path (150 frames) instead of 20 s.

    python benchmarks/slam.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _report import figure, report

from cosim.slam.datasets import read_sequence
from cosim.slam.metrics import evaluate_trajectories
from cosim.slam.synthetic import SequenceSpec, generate
from cosim.slam.trajfiles import load

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "slam-baseline"


def tracking_run(folder: Path) -> tuple[float, Path]:
    """One pass of the baseline over the sequence: frames/s and the trajectory file."""
    sys.path.insert(0, str(TEMPLATE))
    from baseline import RgbdTracker
    from scipy.spatial.transform import Rotation

    seq = read_sequence(folder, "rgbd")
    grays = [cv2.imread(str(f.rgb), cv2.IMREAD_GRAYSCALE) for f in seq.frames]
    depths = [
        cv2.imread(str(f.depth), cv2.IMREAD_UNCHANGED).astype(np.float32)
        / seq.camera["depth_scale"]
        for f in seq.frames
    ]
    tracker = RgbdTracker(seq.K, 1000)
    start = time.perf_counter()
    poses = [tracker.track(g, d) for g, d in zip(grays, depths, strict=True)]
    elapsed = time.perf_counter() - start
    out = folder.parent / f"{folder.name}-estimate.txt"
    quats = Rotation.from_matrix(np.array([p[:3, :3] for p in poses])).as_quat()
    out.write_text(
        "\n".join(
            f"{f.stamp:.6f} " + " ".join(f"{v:.7f}" for v in (*p[:3, 3], *q))
            for f, p, q in zip(seq.frames, poses, quats, strict=True)
        )
        + "\n"
    )
    return len(poses) / elapsed, out


def write_10k(folder: Path) -> tuple[Path, Path]:
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(0)
    n = 10_000
    t = 1_700_000_000.0 + np.arange(n) / 100.0
    s = np.arange(n) / 100.0
    pos = np.c_[np.cos(0.3 * s), np.sin(0.2 * s), 0.01 * s]
    quat = Rotation.from_euler("xyz", np.c_[0.1 * np.sin(s), 0.2 * s, 0 * s]).as_quat()
    est_quat = Rotation.from_rotvec(rng.normal(0, 0.01, (n, 3))) * Rotation.from_quat(quat)
    est_pos = pos + rng.normal(0, 0.01, pos.shape) + [1.0, 2.0, 3.0]
    files = []
    for name, stamps, p, q in (
        ("gt.txt", t, pos, quat),
        ("est.txt", t + 0.002, est_pos, est_quat.as_quat()),
    ):
        path = folder / name
        path.write_text(
            "\n".join(" ".join(f"{v:.9f}" for v in (stamps[i], *p[i], *q[i])) for i in range(n))
            + "\n"
        )
        files.append(path)
    return files[0], files[1]


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 s of the path, 3 rounds")
    ap.add_argument("--json", action="store_true", help="end with one JSON object")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    bindir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="cosim-slam-bench-"))
    try:
        spec = SequenceSpec(duration_s=5.0 if args.quick else 20.0)
        folder = generate(work / "seq", spec)
        rates, ates = [], []
        for _ in range(args.rounds):
            fps, est = tracking_run(folder)
            rates.append(fps)
            gt = read_sequence(folder, "rgbd").groundtruth
            ev = evaluate_trajectories(gt, load(est, "tum"), align=True)
            ates.append(ev.ate["rmse"])
        gt10k, est10k = write_10k(work)
        ours_cmd = [str(bindir / "cosim"), "slam", "eval", str(gt10k), str(est10k), "--align"]
        evo_cmd = [str(bindir / "evo_ape"), "tum", str(gt10k), str(est10k), "-a"]
        ours, theirs = [], []
        for i in range(args.rounds):
            pair = [(ours, ours_cmd), (theirs, evo_cmd)]
            for bucket, cmd in pair if i % 2 == 0 else pair[::-1]:  # alternate the order
                bucket.append(timed(cmd))
        ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
        fps_med, ate_med = statistics.median(rates), statistics.median(ates)
        ratio = statistics.median(ours) / statistics.median(theirs)
        load_note = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        rows = [
            ("frames", str(spec.frames), f"{spec.duration_s:g} s of the 20 s path, 640x480"),
            (
                "fps",
                f"{fps_med:.1f}",
                f"goal >= 30; rounds {min(rates):.1f}-{max(rates):.1f}; "
                f"{'met' if fps_med >= 30 else 'SHORT'}; {load_note}",
            ),
            (
                "ate_rmse_m",
                f"{ate_med:.4f}",
                f"goal < 0.05; {'met' if ate_med < 0.05 else 'SHORT'}",
            ),
            (
                "cosim slam eval s",
                f"{statistics.median(ours):.2f}",
                f"ATE + RPE trans + rot; {min(ours):.2f}-{max(ours):.2f}",
            ),
            (
                "evo_ape s",
                f"{statistics.median(theirs):.2f}",
                f"ATE only; {min(theirs):.2f}-{max(theirs):.2f}",
            ),
            (
                "eval_ratio",
                f"{ratio:.2f}",
                f"goal <= 1.0; per-round {min(ratios):.2f}-"
                f"{max(ratios):.2f}; {'met' if ratio <= 1.0 else 'SHORT'}; {load_note}",
            ),
        ]
        figures = {
            "fps": round(fps_med, 2),
            "fps_spread": [round(min(rates), 2), round(max(rates), 2)],
            "ate_rmse_m": round(ate_med, 5),
            "eval_ratio": round(ratio, 3),
            "eval_ratio_spread": [round(min(ratios), 3), round(max(ratios), 3)],
            "frames": spec.frames,
            "rounds": args.rounds,
            "load_average": round(os.getloadavg()[0], 1),
            "detail": {
                "fps": figure(rates, 2),
                "ate_rmse_m": figure(ates, 5),
                "eval_ratio": figure(ratios),
                "seconds": {"cosim_slam_eval": figure(ours), "evo_ape": figure(theirs)},
            },
        }
        report(rows, figures, args.json)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
