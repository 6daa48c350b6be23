"""Reading SLAM datasets: TUM RGB-D folders (also what :mod:`.synthetic` writes), EuRoC MAV
camera folders, and association of image and ground-truth streams by timestamp.

Every problem is a :class:`DatasetError` naming the file and line, or what is missing.
Trajectories (ground truth) go through :mod:`.trajfiles`, i.e. evo's file interface.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .trajfiles import TrajectoryInputError, load

# Intrinsics TUM publishes for its three Kinects (and the ROS default), by sequence-name prefix.
TUM_INTRINSICS = {
    "freiburg1": (517.3, 516.5, 318.6, 255.3),
    "freiburg2": (520.9, 521.0, 325.1, 249.7),
    "freiburg3": (535.4, 539.2, 320.1, 247.6),
    "default": (525.0, 525.0, 319.5, 239.5),
}
MAX_ASSOCIATION_S = 0.02  # TUM's associate.py default


class DatasetError(TrajectoryInputError):
    """A dataset folder the user must fix; the message names the file and line."""


@dataclass
class Frame:
    stamp: float
    rgb: Path
    depth: Path | None = None


@dataclass
class Sequence:
    """Frames in time order (rgb with its depth when RGB-D), intrinsics and ground truth."""

    folder: Path
    format: str
    frames: list[Frame]
    camera: dict[str, float]
    groundtruth: Any = None  # evo PoseTrajectory3D or None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def K(self) -> np.ndarray:
        c = self.camera
        return np.array([[c["fx"], 0, c["cx"]], [0, c["fy"], c["cy"]], [0, 0, 1.0]])


def read_file_list(path: Path) -> list[tuple[float, str]]:
    """``timestamp filename`` lines (TUM rgb.txt/depth.txt), checked: numbers, sorted, unique,
    and each named file present."""
    if not path.is_file():
        raise DatasetError(f"missing file {path}")
    entries: list[tuple[float, str]] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        where = f"{path}:{number}"
        if len(parts) < 2:
            raise DatasetError(f"{where}: expected 'timestamp filename', found {line!r}")
        try:
            stamp = float(parts[0])
        except ValueError:
            raise DatasetError(f"{where}: timestamp is not a number: {parts[0]!r}") from None
        if entries and stamp == entries[-1][0]:
            raise DatasetError(f"{where}: duplicate timestamp {parts[0]}")
        if entries and stamp < entries[-1][0]:
            raise DatasetError(f"{where}: timestamps not sorted ({parts[0]} after a later one)")
        if not (path.parent / parts[1]).is_file():
            raise DatasetError(f"{where}: {parts[1]} is missing in {path.parent}")
        entries.append((stamp, parts[1]))
    if not entries:
        raise DatasetError(f"{path} lists no images")
    return entries


def associate(
    a: np.ndarray, b: np.ndarray, max_diff: float = MAX_ASSOCIATION_S
) -> list[tuple[int, int]]:
    """Index pairs (i, j) with |a[i] - b[j]| <= max_diff, closest first, each index used once
    (the rule of TUM's associate.py). ``a`` and ``b`` sorted."""
    candidates = []
    for i, t in enumerate(a):
        lo, hi = np.searchsorted(b, [t - max_diff, t + max_diff], side="left")
        for j in range(lo, min(hi + 1, len(b))):
            diff = abs(t - b[j])
            if diff <= max_diff:
                candidates.append((diff, i, j))
    candidates.sort()
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for _, i, j in candidates:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def _tum_camera(folder: Path) -> dict[str, float]:
    cam_file = folder / "camera.json"
    if cam_file.is_file():
        try:
            cam = json.loads(cam_file.read_text())
            return {k: float(cam[k]) for k in ("fx", "fy", "cx", "cy", "depth_scale")}
        except (ValueError, KeyError, TypeError) as err:
            raise DatasetError(
                f"{cam_file}: needs numbers fx, fy, cx, cy, depth_scale ({err})"
            ) from None
    key = next((k for k in TUM_INTRINSICS if k in folder.name), "default")
    fx, fy, cx, cy = TUM_INTRINSICS[key]
    return {"fx": fx, "fy": fy, "cx": cx, "cy": cy, "depth_scale": 5000.0}


def read_tum_rgbd(folder: str | Path, with_depth: bool = True) -> Sequence:
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"dataset folder {folder} does not exist")
    rgb = read_file_list(folder / "rgb.txt")
    frames: list[Frame]
    if with_depth:
        depth = read_file_list(folder / "depth.txt")
        pairs = associate(np.array([s for s, _ in rgb]), np.array([s for s, _ in depth]))
        if not pairs:
            raise DatasetError(
                f"{folder}: no rgb.txt timestamp within {MAX_ASSOCIATION_S} s of depth.txt"
            )
        frames = [Frame(rgb[i][0], folder / rgb[i][1], folder / depth[j][1]) for i, j in pairs]
    else:
        frames = [Frame(s, folder / name) for s, name in rgb]
    gt_file = folder / "groundtruth.txt"
    gt = load(gt_file, "tum", "ground truth") if gt_file.exists() else None
    return Sequence(folder, "tum", frames, _tum_camera(folder), gt)


def _euroc_camera(yaml_file: Path) -> dict[str, float]:
    """fx, fy, cx, cy from EuRoC's sensor.yaml (``intrinsics: [fu, fv, cu, cv]``)."""
    if not yaml_file.is_file():
        raise DatasetError(f"missing file {yaml_file}")
    match = re.search(r"intrinsics:\s*\[([^\]]+)\]", yaml_file.read_text())
    if not match:
        raise DatasetError(f"{yaml_file}: no 'intrinsics: [fu, fv, cu, cv]' line")
    fx, fy, cx, cy = (float(v) for v in match.group(1).split(","))
    return {"fx": fx, "fy": fy, "cx": cx, "cy": cy, "depth_scale": 0.0}


def read_euroc(folder: str | Path) -> Sequence:
    """An EuRoC MAV sequence (``mav0/cam0`` images, monocular)."""
    folder = Path(folder)
    mav = folder / "mav0" if (folder / "mav0").is_dir() else folder
    listing = mav / "cam0" / "data.csv"
    if not listing.is_file():
        raise DatasetError(f"missing file {listing} (an EuRoC sequence has mav0/cam0/data.csv)")
    frames = []
    last = -1
    for number, line in enumerate(listing.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        try:
            ns = int(parts[0])
        except ValueError:
            raise DatasetError(
                f"{listing}:{number}: timestamp is not an integer: {parts[0]!r}"
            ) from None
        if ns <= last:
            raise DatasetError(f"{listing}:{number}: timestamps not sorted or duplicated")
        image = mav / "cam0" / "data" / parts[1]
        if not image.is_file():
            raise DatasetError(f"{listing}:{number}: {image} is missing")
        frames.append(Frame(ns / 1e9, image))
        last = ns
    gt_file = mav / "state_groundtruth_estimate0" / "data.csv"
    gt = load(gt_file, "euroc", "ground truth") if gt_file.exists() else None
    return Sequence(folder, "euroc", frames, _euroc_camera(mav / "cam0" / "sensor.yaml"), gt)


def detect_format(folder: Path) -> str:
    if (folder / "rgb.txt").is_file():
        return "tum"
    if (folder / "mav0").is_dir() or (folder / "cam0" / "data.csv").is_file():
        return "euroc"
    raise DatasetError(
        f"{folder}: not a TUM RGB-D folder (rgb.txt, depth.txt) or an EuRoC one (mav0/cam0)"
    )


def read_sequence(folder: str | Path, sensor: str = "rgbd") -> Sequence:
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"dataset folder {folder} does not exist")
    fmt = detect_format(folder)
    if fmt == "euroc":
        if sensor == "rgbd":
            raise DatasetError(f"{folder} is an EuRoC sequence (no depth): use sensor=mono")
        return read_euroc(folder)
    return read_tum_rgbd(folder, with_depth=sensor == "rgbd")


@dataclass
class DatasetInfo:
    name: str
    path: Path
    format: str  # tum | euroc | unknown
    size_bytes: int
    frames: int | None
    writable: bool
    problem: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "format": self.format,
            "size_bytes": self.size_bytes,
            "frames": self.frames,
            "read_only": not self.writable,
            "problem": self.problem,
        }


def _folder_size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:
            continue
    return total


def describe(name: str, folder: Path) -> DatasetInfo:
    """Format, size and frame count of one dataset folder; a broken one says why."""
    import os

    target = folder.resolve()
    info = DatasetInfo(name, folder, "unknown", 0, None, os.access(target, os.W_OK))
    try:
        info.size_bytes = _folder_size(target)
        info.format = detect_format(target)
        seq = read_sequence(target, "rgbd" if info.format == "tum" else "mono")
        info.frames = len(seq.frames)
    except TrajectoryInputError as err:
        info.problem = str(err)
    return info


def list_datasets(root: Path) -> list[DatasetInfo]:
    if not root.is_dir():
        return []
    return [describe(p.name, p) for p in sorted(root.iterdir()) if p.is_dir()]
