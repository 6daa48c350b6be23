"""``cosim slam eval`` against evo's own CLI on the same files (TUM, EuRoC, KITTI; with and
without alignment and scale), and its answers to bad input: exit 2, file and line, nothing
written."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

STATS = ("rmse", "mean", "median", "max", "min", "std")
N = 300


def cosim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "cosim_cli", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)


def evo_stats(tool: str, args: list[str], tmp: Path) -> dict[str, float]:
    """Run evo's CLI and read the statistics it saves (full precision, not the printed 6 digits)."""
    out = tmp / f"{tool}-{len(list(tmp.glob('*.zip')))}.zip"
    exe = Path(sys.executable).with_name(tool)
    proc = subprocess.run(
        [str(exe), *args, "--save_results", str(out), "--no_warnings"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with zipfile.ZipFile(out) as z:
        return dict(json.loads(z.read("stats.json")))


def _motion(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A wavy 3D path; the estimate is scaled, shifted, noisy and jittered in time."""
    rng = np.random.default_rng(seed)
    t = 1_400_000_000.0 + np.arange(N) / 30.0
    s = np.arange(N) / 30.0
    pos = np.c_[np.cos(0.4 * s), np.sin(0.3 * s), 0.2 * np.sin(s)]
    rot = Rotation.from_euler("xyz", np.c_[0.2 * np.sin(s), 0.5 * s, 0.1 * np.cos(s)])
    est_pos = 0.7 * pos + [0.5, -1.0, 2.0] + rng.normal(0.0, 0.01, pos.shape)
    est_rot = Rotation.from_rotvec(rng.normal(0.0, 0.01, (N, 3))) * rot
    return t, pos, rot.as_quat(), est_pos, est_rot.as_quat()


def _tum(path: Path, t: np.ndarray, pos: np.ndarray, quat_xyzw: np.ndarray) -> None:
    rows = [" ".join(repr(float(v)) for v in (t[i], *pos[i], *quat_xyzw[i])) for i in range(len(t))]
    path.write_text("# timestamp tx ty tz qx qy qz qw\n" + "\n".join(rows) + "\n")


def write_pair(fmt: str, tmp: Path) -> tuple[Path, Path]:
    t, pos, quat, est_pos, est_quat = _motion(1)
    jitter = np.random.default_rng(2).uniform(-0.004, 0.004, N)
    if fmt == "kitti":
        gt, est = tmp / "gt_kitti.txt", tmp / "est_kitti.txt"
        for path, p, q in ((gt, pos, quat), (est, est_pos, est_quat)):
            mats = np.concatenate([Rotation.from_quat(q).as_matrix(), p[:, :, None]], axis=2)
            path.write_text("\n".join(" ".join(repr(float(v)) for v in m.ravel()) for m in mats))
        return gt, est
    est = tmp / "est.txt"
    _tum(est, t[3:-5] + jitter[3:-5], est_pos[3:-5], est_quat[3:-5])
    if fmt == "tum":
        gt = tmp / "gt.txt"
        _tum(gt, t, pos, quat)
    else:
        gt = tmp / "data.csv"
        wxyz = np.roll(quat, 1, axis=1)
        rows = [
            ",".join([str(round(t[i] * 1e9)), *(repr(float(v)) for v in (*pos[i], *wxyz[i]))])
            for i in range(N)
        ]
        header = "#timestamp,p_x [m],p_y [m],p_z [m],q_w [],q_x [],q_y [],q_z []"
        gt.write_text(header + "\n" + "\n".join(rows) + "\n")
    return gt, est


OPTIONS = [[], ["--align"], ["--align", "--scale"], ["--scale"]]


@pytest.mark.parametrize("fmt", ["tum", "euroc", "kitti"])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "+".join(o) or "raw")
def test_agrees_with_evo_cli(fmt: str, options: list[str], tmp_path: Path) -> None:
    gt, est = write_pair(fmt, tmp_path)
    proc = cosim("slam", "eval", str(gt), str(est), "--format", fmt, *options, "--json",
                 cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ours = json.loads(proc.stdout)
    evo_opts = [{"--align": "-a", "--scale": "-s"}[o] for o in options]
    files = [fmt, str(gt), str(est)]
    theirs = {
        "ate": evo_stats("evo_ape", [*files, *evo_opts], tmp_path),
        "rpe_trans": evo_stats("evo_rpe", [*files, *evo_opts], tmp_path),
        "rpe_rot_deg": evo_stats("evo_rpe", [*files, "-r", "angle_deg", *evo_opts], tmp_path),
    }
    for metric, stats in theirs.items():
        for name in STATS:
            assert ours[metric][name] == pytest.approx(stats[name], abs=1e-6), (metric, name)
    assert ours["poses"] == (N if fmt == "kitti" else N - 8)
    if "--align" not in options and "--scale" not in options:
        assert ours["ate"]["rmse"] > 1.0  # unaligned: the offset shows
    if options == ["--align", "--scale"]:
        assert ours["ate"]["rmse"] < 0.05 and ours["scale"] == pytest.approx(1 / 0.7, rel=0.02)


def test_delta_in_metres_agrees_with_evo(tmp_path: Path) -> None:
    gt, est = write_pair("tum", tmp_path)
    proc = cosim("slam", "eval", str(gt), str(est), "--align", "--delta", "0.5", "--delta-unit",
                 "m", "--json", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ours = json.loads(proc.stdout)
    files = ["tum", str(gt), str(est), "-a", "--delta", "0.5", "--delta_unit", "m"]
    theirs = evo_stats("evo_rpe", files, tmp_path)
    for name in STATS:
        assert ours["rpe_trans"][name] == pytest.approx(theirs[name], abs=1e-6)


def test_text_output_names_the_figures(tmp_path: Path) -> None:
    gt, est = write_pair("tum", tmp_path)
    proc = cosim("slam", "eval", str(gt), str(est), "--align", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "SE(3) Umeyama alignment" in proc.stdout
    for label in ("ATE (m)", "RPE trans (m", "RPE rot (deg", "rmse", "median", "max"):
        assert label in proc.stdout


def _bad_cases(tmp: Path) -> list[tuple[str, list[str], str]]:
    gt, est = write_pair("tum", tmp)
    lines = gt.read_text().splitlines()
    unsorted = tmp / "unsorted.txt"
    unsorted.write_text("\n".join([lines[0], lines[1], lines[3], lines[2], *lines[4:]]) + "\n")
    dup = tmp / "dup.txt"
    dup.write_text("\n".join([*lines[:6], lines[5], *lines[6:]]) + "\n")
    empty = tmp / "empty.txt"
    empty.write_text("# nothing but a comment\n")
    short = tmp / "short.txt"
    short.write_text("\n".join([*lines[:4], "1400000000.5 1 2 3 0 0 0", *lines[4:]]) + "\n")
    word = tmp / "word.txt"
    word.write_text(lines[1] + "\n" + lines[2].replace(" ", " x", 1) + "\n")
    far = tmp / "far.txt"
    far.write_text(
        "\n".join(f"{float(ln.split()[0]) + 1000.0!r} " + ln.split(" ", 1)[1] for ln in lines[1:])
    )
    kitti_gt, kitti_est = write_pair("kitti", tmp)
    kitti_short = tmp / "kitti_short.txt"
    kitti_short.write_text("\n".join(kitti_est.read_text().splitlines()[:-3]))
    g, e = str(gt), str(est)
    return [
        (
            "missing",
            [str(tmp / "nope.txt"), e],
            f"ground truth file {tmp / 'nope.txt'} does not exist",
        ),
        ("unsorted", [str(unsorted), e], f"{unsorted}:4: timestamps not sorted"),
        ("duplicate", [g, str(dup)], f"{dup}:7: duplicate timestamp"),
        ("empty", [g, str(empty)], f"estimate file {empty} is empty"),
        ("short row", [g, str(short)], f"{short}:5: expected 8 fields"),
        ("not a number", [str(word), e], f"{word}:2: field 2 is not a number"),
        ("no overlap", [g, str(far)], "no overlap"),
        ("kitti count", ["--format", "kitti", str(kitti_gt), str(kitti_short)], "poses and"),
        ("folder", [str(tmp), e], "is not a regular file"),
    ]


def test_bad_input_exit_2_with_file_and_line(tmp_path: Path) -> None:
    cases = _bad_cases(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    for name, args, message in cases:
        proc = cosim("slam", "eval", *args, cwd=tmp_path)
        assert proc.returncode == 2, (name, proc.stdout, proc.stderr)
        assert message in proc.stderr, (name, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stdout == "", name
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_bad_options(tmp_path: Path) -> None:
    gt, est = write_pair("tum", tmp_path)
    for args in (["--delta", "0"], ["--delta", "x"], ["--delta-unit", "d"], ["--format", "csv"]):
        proc = cosim("slam", "eval", str(gt), str(est), *args, cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, args
