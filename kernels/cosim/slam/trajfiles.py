"""Trajectory files (TUM, EuRoC ground truth, KITTI poses): checked line by line, read as evo does.

evo's own readers give one message for any bad row and accept unsorted or repeated timestamps,
which then silently mis-associate. :func:`read_checked` scans the text once, names the file and
line of the first problem and keeps the numbers it parsed: :func:`load` builds a TUM trajectory
from them the way evo's ``read_tum_trajectory_file`` does (same columns, same float parsing), so
the poses are the ones ``evo_ape``/``evo_rpe`` see without reading the file twice; EuRoC and KITTI
files go through evo's ``file_interface`` after the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMATS = ("tum", "euroc", "kitti")


class TrajectoryInputError(Exception):
    """Bad input the user can fix; the message names the file and line or what is missing."""


@dataclass(frozen=True)
class Layout:
    delimiter: str
    columns: int  # exact count (TUM, KITTI) or minimum (EuRoC: extra state columns allowed)
    exact: bool
    timestamped: bool
    description: str


LAYOUTS = {
    "tum": Layout(" ", 8, True, True, "timestamp tx ty tz qx qy qz qw, separated by one space"),
    "euroc": Layout(
        ",", 8, False, True, "timestamp_ns,px,py,pz,qw,qx,qy,qz[,...], comma-separated"
    ),
    "kitti": Layout(
        " ", 12, True, False, "12 numbers (3x4 pose matrix, row-major), one space apart"
    ),
}


def check_file(path: str | Path, fmt: str, role: str = "trajectory") -> int:
    """:class:`TrajectoryInputError` at the first problem in ``path``; else its pose count."""
    return len(read_checked(path, fmt, role))


def read_checked(path: str | Path, fmt: str, role: str = "trajectory") -> list[list[float]]:
    """The rows of numbers in ``path``; :class:`TrajectoryInputError` at the first problem.

    Rules mirror evo's readers (lines starting with ``#`` are comments, a field per delimiter) plus
    what evo does not check: timestamps strictly increasing, no duplicates, at least one pose."""
    layout = LAYOUTS[fmt]
    path = Path(path)
    if not path.exists():
        raise TrajectoryInputError(f"{role} file {path} does not exist")
    if not path.is_file():
        raise TrajectoryInputError(f"{role} file {path} is not a regular file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise TrajectoryInputError(f"{path}: not a text file ({err.reason})") from None
    except OSError as err:
        raise TrajectoryInputError(f"{role} file {path}: {err.strerror}") from None
    rows: list[list[float]] = []
    last_stamp: float | None = None
    last_line = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            continue
        where = f"{path}:{number}"
        if not line.strip():
            raise TrajectoryInputError(f"{where}: empty line (expected {layout.description})")
        fields = line.split(layout.delimiter)
        if len(fields) < layout.columns or (layout.exact and len(fields) != layout.columns):
            expected = f"{'' if layout.exact else 'at least '}{layout.columns}"
            raise TrajectoryInputError(
                f"{where}: expected {expected} fields ({layout.description}), found {len(fields)}"
            )
        try:
            row = [float(field) for field in fields]
        except ValueError:
            column, field = next((i, f) for i, f in enumerate(fields, 1) if not _is_number(f))
            raise TrajectoryInputError(
                f"{where}: field {column} is not a number: {field!r}"
            ) from None
        if fmt != "kitti" and not any(row[4:8]):
            raise TrajectoryInputError(f"{where}: the orientation quaternion is all zeros")
        if layout.timestamped:
            stamp = row[0]
            if last_stamp is not None and stamp == last_stamp:
                raise TrajectoryInputError(
                    f"{where}: duplicate timestamp {fields[0]} (also on line {last_line})"
                )
            if last_stamp is not None and stamp < last_stamp:
                raise TrajectoryInputError(
                    f"{where}: timestamps not sorted: {fields[0]} comes after "
                    f"{last_stamp!r} (line {last_line})"
                )
            last_stamp, last_line = stamp, number
        rows.append(row)
    if not rows:
        raise TrajectoryInputError(
            f"{role} file {path} is empty: no poses (only comments or nothing)"
        )
    return rows


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def load(path: str | Path, fmt: str, role: str = "trajectory") -> Any:
    """The checked file as an evo trajectory (``PoseTrajectory3D``; ``PosePath3D`` for KITTI)."""
    rows = read_checked(path, fmt, role)
    if fmt == "tum":  # evo's read_tum_trajectory_file, on the numbers already parsed
        import numpy as np

        mat = np.array(rows)
        return _trajectory(mat[:, 1:4], np.roll(mat[:, 4:], 1, axis=1), mat[:, 0], str(path))
    from evo.tools import file_interface

    reader = {
        "euroc": file_interface.read_euroc_csv_trajectory,
        "kitti": file_interface.read_kitti_poses_file,
    }[fmt]
    try:
        traj = reader(str(path))
    except file_interface.FileInterfaceException as err:  # checked above; kept for safety
        raise TrajectoryInputError(f"{path}: {err}") from None
    if fmt == "kitti":
        return traj  # read as matrices already
    xyz, quat = traj.positions_xyz, traj.orientations_quat_wxyz
    return _trajectory(xyz, quat, traj.timestamps, traj.name, traj.meta)


def _trajectory(xyz: Any, quat_wxyz: Any, stamps: Any, name: Any, meta: Any = None) -> Any:
    """evo's ``PoseTrajectory3D`` with its pose matrices made at once (:func:`pose_matrices`)."""
    from evo.core.trajectory import PoseTrajectory3D

    poses = list(pose_matrices(xyz, quat_wxyz))
    return PoseTrajectory3D(xyz, quat_wxyz, stamps, poses_se3=poses, meta=meta, name=name)


def pose_matrices(xyz: Any, quat_wxyz: Any) -> Any:
    """N x 4 x 4 poses from positions and (normalised) quaternions in one call. evo builds them
    one at a time in Python when first needed (~1 s for 10,000 poses); the matrices agree with
    evo's to rounding (~1e-16)."""
    import numpy as np
    from scipy.spatial.transform import Rotation

    poses = np.zeros((len(xyz), 4, 4))
    poses[:, :3, :3] = Rotation.from_quat(quat_wxyz, scalar_first=True).as_matrix()
    poses[:, :3, 3] = xyz
    poses[:, 3, 3] = 1.0
    return poses
