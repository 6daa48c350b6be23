"""ATE and RPE through evo's API, with the same defaults as ``evo_ape`` / ``evo_rpe``.

Reading, association (nearest timestamp within 10 ms), Umeyama alignment (SE(3), or Sim(3) with
``scale``), the ATE and the RPE's pose pairs are evo's own; the RPE errors use evo's definition
on whole arrays (:func:`relative_errors`) because evo computes them pair by pair in Python. The
figures equal what evo's CLI prints for the same files and options (tests compare to 1e-6).
Both metrics share one load, one association and one alignment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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


def statistics(error: np.ndarray) -> dict[str, float]:
    """The statistics evo's ``PE.get_all_statistics`` computes, with the same numpy calls."""
    return {
        "rmse": math.sqrt(np.mean(np.power(error, 2))),
        "mean": float(np.mean(error)),
        "median": float(np.median(error)),
        "std": float(np.std(error)),
        "min": float(np.min(error)),
        "max": float(np.max(error)),
    }


def _inverse(poses: np.ndarray) -> np.ndarray:
    """Inverses of a stack of SE(3) matrices (R^T, -R^T t), as evo's se3_inverse."""
    out = np.zeros_like(poses)
    rt = np.transpose(poses[:, :3, :3], (0, 2, 1))
    out[:, :3, :3] = rt
    out[:, :3, 3] = -np.einsum("nij,nj->ni", rt, poses[:, :3, 3])
    out[:, 3, 3] = 1.0
    return out


def relative_errors(
    gt_poses: Any, est_poses: Any, pairs: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """RPE translation (m) and rotation angle (deg) of each pose pair: evo's RPE definition
    E = (Q_i^-1 Q_j)^-1 (P_i^-1 P_j), computed on whole arrays at once. evo's own RPE loops
    over the pairs in Python (its rotation angle alone took ~20 s for 10,000 poses here)."""
    from scipy.spatial.transform import Rotation

    q, p = np.asarray(gt_poses), np.asarray(est_poses)
    i, j = np.asarray(pairs).T
    rel_q = _inverse(q[i]) @ q[j]
    rel_p = _inverse(p[i]) @ p[j]
    err = _inverse(rel_q) @ rel_p
    trans = np.linalg.norm(err[:, :3, 3], axis=1)
    rot = np.rad2deg(np.linalg.norm(Rotation.from_matrix(err[:, :3, :3]).as_rotvec(), axis=1))
    return trans, rot


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

    gt, est = associate(gt, est, gt_name, est_name)
    if est.num_poses < 3 and (align or scale):
        raise TrajectoryInputError(
            f"only {est.num_poses} matching poses between {gt_name} and {est_name}: "
            "alignment needs at least 3"
        )
    unit = {"f": metrics.Unit.frames, "m": metrics.Unit.meters}[delta_unit]
    try:
        # evo aligns the estimate in place; the RPE then uses the aligned estimate, as evo_rpe
        # (which runs the same Umeyama alignment on the same poses) does.
        ate = ape(
            gt,
            est,
            metrics.PoseRelation.translation_part,
            align=align,
            correct_scale=scale,
        )
        pairs = metrics.id_pairs_from_delta(est.poses_se3, delta, unit, rel_tol=0.1)
    except EvoException as err:
        raise TrajectoryInputError(
            f"evo cannot evaluate {est_name} against {gt_name}: {err}"
        ) from None
    if not pairs:
        raise TrajectoryInputError(
            f"no pose pairs {delta:g} {'frames' if delta_unit == 'f' else 'm'} apart in "
            f"{est_name}: make --delta smaller"
        )
    rpe_trans, rpe_rot = relative_errors(gt.poses_se3, est.poses_se3, pairs)
    sim3 = ate.np_arrays.get("alignment_transformation_sim3")
    scale_factor = None
    if sim3 is not None:
        scale_factor = float(np.cbrt(np.linalg.det(sim3[:3, :3])))
    arrays = {"ate": ate.np_arrays["error_array"]}
    for name in ("seconds_from_start", "timestamps"):
        if name in ate.np_arrays:
            arrays[name] = ate.np_arrays[name]
    arrays["gt_xyz"] = gt.positions_xyz
    arrays["est_xyz"] = est.positions_xyz  # after alignment
    return Evaluation(
        poses=int(est.num_poses),
        aligned=align,
        scale_corrected=scale,
        ate=_stats(ate),
        rpe_trans=statistics(rpe_trans),
        rpe_rot_deg=statistics(rpe_rot),
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
