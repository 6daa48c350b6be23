"""ATE and RPE through evo's API, with the same defaults as ``evo_ape`` / ``evo_rpe``.

Association (nearest timestamp within 10 ms), Umeyama alignment (SE(3), or Sim(3) with
``scale``) and the statistics are evo's own, so the figures equal what evo's CLI prints for the
same files and options. Both metrics share one load and one association.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .trajfiles import TrajectoryInputError, load

MAX_TIME_DIFF_S = 0.01  # evo_ape/evo_rpe --t_max_diff default
STATS = ("rmse", "mean", "median", "std", "min", "max")


@dataclass
class Evaluation:
    """Statistics of each metric (metres for translations, degrees for rotations)."""

    poses: int
    aligned: bool
    scale_corrected: bool
    ate: dict[str, float]
    rpe_trans: dict[str, float]
    rpe_rot_deg: dict[str, float]
    delta: float = 1.0
    delta_unit: str = "f"
    scale: float | None = None
    # Per-pose arrays for plots: times from the start, ATE per pose, aligned estimate positions.
    arrays: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "poses": self.poses,
            "aligned": self.aligned,
            "scale_corrected": self.scale_corrected,
            "scale": self.scale,
            "delta": self.delta,
            "delta_unit": self.delta_unit,
            "ate": self.ate,
            "rpe_trans": self.rpe_trans,
            "rpe_rot_deg": self.rpe_rot_deg,
        }


def _stats(result: Any) -> dict[str, float]:
    return {name: float(result.stats[name]) for name in STATS}


def associate(gt: Any, est: Any, gt_name: str, est_name: str) -> tuple[Any, Any]:
    """Pairs of poses by timestamp (evo's nearest-time sync); KITTI paths pair by line."""
    from evo.core import sync
    from evo.core.trajectory import PoseTrajectory3D

    if isinstance(gt, PoseTrajectory3D) and isinstance(est, PoseTrajectory3D):
        try:
            return gt.sync_with(est, max_diff=MAX_TIME_DIFF_S)
        except sync.SyncException:
            raise TrajectoryInputError(
                f"no overlap: no timestamp of {est_name} ({est.timestamps[0]:.3f} to "
                f"{est.timestamps[-1]:.3f} s) is within {MAX_TIME_DIFF_S} s of one of "
                f"{gt_name} ({gt.timestamps[0]:.3f} to {gt.timestamps[-1]:.3f} s)"
            ) from None
    if gt.num_poses != est.num_poses:
        raise TrajectoryInputError(
            f"{gt_name} has {gt.num_poses} poses and {est_name} has {est.num_poses}: KITTI pose "
            "files carry no timestamps, so both need one pose per frame"
        )
    return gt, est


def evaluate_trajectories(
    gt: Any,
    est: Any,
    *,
    align: bool = False,
    scale: bool = False,
    delta: float = 1.0,
    delta_unit: str = "f",
    gt_name: str = "ground truth",
    est_name: str = "estimate",
) -> Evaluation:
    from evo import EvoException
    from evo.core import metrics
    from evo.main_ape import ape
    from evo.main_rpe import rpe

    gt, est = associate(gt, est, gt_name, est_name)
    if est.num_poses < 3 and (align or scale):
        raise TrajectoryInputError(
            f"only {est.num_poses} matching poses between {gt_name} and {est_name}: "
            "alignment needs at least 3"
        )
    unit = {"f": metrics.Unit.frames, "m": metrics.Unit.meters}[delta_unit]
    options = {"align": align, "correct_scale": scale}
    try:
        # ape/rpe align the estimate in place: each gets its own copy.
        gt_ate, est_ate = copy.deepcopy(gt), copy.deepcopy(est)
        ate = ape(gt_ate, est_ate, metrics.PoseRelation.translation_part, **options)
        rpe_results = [
            rpe(
                copy.deepcopy(gt),
                copy.deepcopy(est),
                relation,
                delta=delta,
                delta_unit=unit,
                **options,
            )
            for relation in (
                metrics.PoseRelation.translation_part,
                metrics.PoseRelation.rotation_angle_deg,
            )
        ]
    except EvoException as err:
        raise TrajectoryInputError(
            f"evo cannot evaluate {est_name} against {gt_name}: {err}"
        ) from None
    sim3 = ate.np_arrays.get("alignment_transformation_sim3")
    scale_factor = None
    if sim3 is not None:
        import numpy as np

        scale_factor = float(np.cbrt(np.linalg.det(sim3[:3, :3])))
    arrays = {"ate": ate.np_arrays["error_array"]}
    for name in ("seconds_from_start", "timestamps"):
        if name in ate.np_arrays:
            arrays[name] = ate.np_arrays[name]
    arrays["gt_xyz"] = gt_ate.positions_xyz
    arrays["est_xyz"] = est_ate.positions_xyz  # after alignment
    return Evaluation(
        poses=int(est.num_poses),
        aligned=align,
        scale_corrected=scale,
        ate=_stats(ate),
        rpe_trans=_stats(rpe_results[0]),
        rpe_rot_deg=_stats(rpe_results[1]),
        delta=delta,
        delta_unit=delta_unit,
        scale=scale_factor,
        arrays=arrays,
    )


def evaluate_files(gt_path: str, est_path: str, fmt: str = "tum", **options: Any) -> Evaluation:
    """Load, check and evaluate two files. ``euroc``: the ground truth is EuRoC's
    ``state_groundtruth_estimate0/data.csv`` and the estimate is TUM, as in ``evo_ape euroc``."""
    gt = load(gt_path, fmt, "ground truth")
    est = load(est_path, "tum" if fmt == "euroc" else fmt, "estimate")
    return evaluate_trajectories(gt, est, gt_name=gt_path, est_name=est_path, **options)
