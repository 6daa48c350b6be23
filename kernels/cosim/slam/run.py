"""Glue for the SLAM template's script: where the dataset is, progress and metrics, the final
evaluation. As a CoSim job everything goes to the job folder (metrics.jsonl + the job's Redis
stream, TensorBoard events in ``tb/``, plots, ``trajectory.txt``, ``evaluation.json``); as a plain
``python slam.py`` to ``runs/<time>/``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..jobs import runtime
from .datasets import DatasetError, Sequence, read_sequence

GENERATED = "generated"
PROGRESS_EVERY = 15  # frames between progress records (and running-ATE updates)


def datasets_root() -> Path:
    """``~/datasets``: where the admin's read-only datasets appear in every user server."""
    return Path(os.environ.get("COSIM_DATASETS_DIR") or Path.home() / "datasets")


def generated_sequence() -> Path:
    """The generated 20 s sequence, rendered once per workspace into ``~/.cosim/cache``."""
    from .synthetic import SequenceSpec, generate

    cache = Path.home() / ".cosim" / "cache" / "slam"
    target = cache / "generated-20s-v1"
    if (target / "groundtruth.txt").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f".generating-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    print("rendering the generated sequence (once per workspace) ...", flush=True)
    spec = SequenceSpec()

    def progress(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            print(f"rendered {done}/{total} frames", flush=True)

    generate(partial, spec, progress)
    try:
        partial.rename(target)
    except OSError:  # another job finished first
        shutil.rmtree(partial, ignore_errors=True)
    return target


def resolve_dataset(name: str) -> Path:
    if name == GENERATED:
        return generated_sequence()
    path = Path(name).expanduser()
    if not path.is_absolute() and not path.exists():
        path = datasets_root() / name
    if not path.is_dir():
        raise DatasetError(
            f"dataset {name!r} not found: neither a folder nor a name under {datasets_root()}"
        )
    return path


def load_sequence(name: str, sensor: str, first: int, last: int) -> Sequence:
    seq = read_sequence(resolve_dataset(name), sensor)
    total = len(seq.frames)
    end = total if last <= 0 else min(last, total)
    if not 0 <= first < end:
        raise DatasetError(f"frame range {first}..{last} is empty for {total} frames")
    seq.frames = seq.frames[first:end]
    return seq


def _gt_positions(seq: Sequence) -> np.ndarray:
    """Ground-truth position at each frame's time (nearest within 20 ms), NaN where none."""
    out = np.full((len(seq.frames), 3), np.nan)
    if seq.groundtruth is None:
        return out
    stamps = seq.groundtruth.timestamps
    for k, frame in enumerate(seq.frames):
        i = int(np.clip(np.searchsorted(stamps, frame.stamp), 1, len(stamps) - 1))
        j = i - 1 if abs(stamps[i - 1] - frame.stamp) < abs(stamps[i] - frame.stamp) else i
        if abs(stamps[j] - frame.stamp) <= 0.02:
            out[k] = seq.groundtruth.positions_xyz[j]
    return out


class SlamRun:
    """Progress, metrics and results of one run over a sequence."""

    def __init__(self, params: dict[str, Any], seq: Sequence, *, default_dir: str = "runs"):
        from tensorboard.summary import Writer

        self.params = params
        self.seq = seq
        job = runtime.job_dir()
        self.dir = job if job is not None else Path(default_dir) / time.strftime("%Y%m%d-%H%M%S")
        self.dir.mkdir(parents=True, exist_ok=True)
        stream = None
        if job is not None:
            from ..jobs.state import metrics_stream

            stream = metrics_stream(self.dir.name)
        self.sink = runtime.MetricsSink(
            self.dir / "metrics.jsonl", stream, os.environ.get("REDIS_URL")
        )
        self.tb = Writer(str(self.dir / "tb"))
        self.total = len(seq.frames)
        self.stamps: list[float] = []
        self.poses: list[np.ndarray] = []
        self._gt = _gt_positions(seq)
        self._t0 = time.perf_counter()
        self.tracking_s = 0.0

    def add(self, stamp: float, pose: np.ndarray, tracking_s: float) -> None:
        self.stamps.append(stamp)
        self.poses.append(pose)
        self.tracking_s += tracking_s
        done = len(self.poses)
        if done % PROGRESS_EVERY == 0 or done == self.total:
            self.progress()

    def running_ate(self) -> float | None:
        """RMSE after Umeyama alignment of the positions so far (Sim(3) for mono)."""
        from evo.core.geometry import GeometryException, umeyama_alignment

        gt = self._gt[: len(self.poses)]
        est = np.array([p[:3, 3] for p in self.poses])
        ok = ~np.isnan(gt[:, 0])
        if ok.sum() < 3:
            return None
        try:
            r, t, s = umeyama_alignment(est[ok].T, gt[ok].T, self.params.get("sensor") == "mono")
        except GeometryException:
            return None
        aligned = (s * (r @ est[ok].T)).T + t
        return float(np.sqrt(np.mean(np.sum((aligned - gt[ok]) ** 2, axis=1))))

    def progress(self) -> None:
        done = len(self.poses)
        fps = done / max(self.tracking_s, 1e-9)
        ate = self.running_ate()
        record = {
            "time": time.time(),
            "frames": done,
            "total_frames": self.total,
            "fps": round(fps, 1),
            "ate_running_m": ate,
            # The Jobs panel's progress bar reads these (as for RL jobs).
            "timesteps": done,
            "total_timesteps": self.total,
            "steps_per_s": round(fps, 1),
        }
        self.sink.emit(record)
        self.tb.add_scalar("slam/fps", fps, done)
        if ate is not None:
            self.tb.add_scalar("slam/ate_running_m", ate, done)
        shown = "n/a" if ate is None else f"{ate * 100:.2f} cm"
        print(f"frames {done}/{self.total}  {fps:.1f} frames/s  running ATE {shown}", flush=True)

    def write_trajectory(self) -> Path:
        from scipy.spatial.transform import Rotation

        path = self.dir / "trajectory.txt"
        quats = Rotation.from_matrix(np.array([p[:3, :3] for p in self.poses])).as_quat()
        lines = [
            f"{s:.6f} " + " ".join(f"{v:.7f}" for v in (*p[:3, 3], *q))
            for s, p, q in zip(self.stamps, self.poses, quats, strict=True)
        ]
        path.write_text("# timestamp tx ty tz qx qy qz qw\n" + "\n".join(lines) + "\n")
        return path

    def finish(self, estimate: Path | None = None) -> dict[str, Any] | None:
        """Evaluate (evo), plot, record the final metrics. ``estimate``: a trajectory file made
        elsewhere (ORB-SLAM) instead of the poses given to :meth:`add`."""
        from .metrics import evaluate_trajectories
        from .plots import write_plots
        from .trajfiles import load

        est_file = estimate or self.write_trajectory()
        result: dict[str, Any] | None = None
        if self.seq.groundtruth is None:
            print("no ground truth in this dataset: trajectory written, no ATE/RPE", flush=True)
        else:
            mono = self.params.get("sensor") == "mono"
            ev = evaluate_trajectories(
                self.seq.groundtruth,
                load(est_file, "tum", "estimate"),
                align=True,
                scale=mono,
                gt_name="ground truth",
                est_name=est_file.name,
            )
            write_plots(self.dir, ev, f"{self.params.get('sensor', '')} baseline")
            result = ev.as_json()
            (self.dir / "evaluation.json").write_text(json.dumps(result, indent=2) + "\n")
            fps = len(self.poses) / max(self.tracking_s, 1e-9) if self.poses else None
            final = {
                "time": time.time(),
                "final": True,
                "frames": len(self.poses) or ev.poses,
                "total_frames": self.total,
                "timesteps": len(self.poses) or ev.poses,
                "total_timesteps": self.total,
                "fps": None if fps is None else round(fps, 1),
                "ate_rmse_m": ev.ate["rmse"],
                "ate_mean_m": ev.ate["mean"],
                "ate_median_m": ev.ate["median"],
                "ate_max_m": ev.ate["max"],
                "rpe_trans_rmse_m": ev.rpe_trans["rmse"],
                "rpe_rot_rmse_deg": ev.rpe_rot_deg["rmse"],
                "scale": ev.scale if mono else None,  # SE(3) alignment keeps scale 1
                "plots": ["trajectory.png", "error.png"],
            }
            self.sink.emit(final)
            for key in ("ate_rmse_m", "rpe_trans_rmse_m", "rpe_rot_rmse_deg"):
                self.tb.add_scalar(f"slam/{key}", final[key], final["frames"])
            print(
                f"ATE RMSE {ev.ate['rmse'] * 100:.2f} cm (aligned, {ev.poses} poses)  "
                f"RPE {ev.rpe_trans['rmse'] * 100:.2f} cm / {ev.rpe_rot_deg['rmse']:.3f} deg "
                "per frame",
                flush=True,
            )
        self.tb.close()
        self.sink.close()
        return result
