"""The slam-baseline template's other paths, run as a user runs them (``python slam.py`` in a
template copy): ``engine = "orbslam"`` and ``sensor = "mono"``, on a short generated sequence."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cosim.slam.synthetic import SequenceSpec, generate

# A stand-in for ORB-SLAM2/3's rgbd_tum, which CoSim does not ship and this machine does not
# have. It takes the same arguments (vocabulary, settings, sequence folder, associations) and
# writes CameraTrajectory.txt into its working folder in rgbd_tum's format (SaveTrajectoryTUM:
# "stamp tx ty tz qx qy qz qw", stamp to 6 decimals, the rest to 9): here the ground-truth pose
# nearest each associated frame, moved by a fixed 3 mm, so the expected ATE is known.
FAKE_RGBD_TUM = textwrap.dedent(
    """\
    #!{python}
    import bisect, json, sys
    from pathlib import Path
    vocabulary, settings, folder, associations = sys.argv[1:5]
    assert Path(vocabulary).is_file() and "Camera.fx:" in Path(settings).read_text()
    gt = [l.split() for l in (Path(folder) / "groundtruth.txt").read_text().splitlines()
          if l.strip() and not l.startswith("#")]
    stamps = [float(r[0]) for r in gt]
    rows = [l.split() for l in Path(associations).read_text().splitlines() if l.strip()]
    for r in rows:
        assert (Path(folder) / r[1]).is_file() and (Path(folder) / r[3]).is_file(), r
    with open("CameraTrajectory.txt", "w") as out:
        for r in rows:
            t = float(r[0])
            i = min(bisect.bisect_left(stamps, t), len(stamps) - 1)
            p = [float(v) for v in gt[i][1:8]]
            p[0] += 0.003
            out.write(f"{{t:.6f}} " + " ".join(f"{{v:.9f}}" for v in p) + "\\n")
    Path("fake-rgbd_tum-args.json").write_text(json.dumps(sys.argv[1:]))
    """
)


@pytest.fixture(scope="module")
def sequence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("seq") / "room", SequenceSpec(duration_s=2.0))


def _template(tmp_path: Path, **params: object) -> Path:
    env = dict(os.environ, HOME=str(tmp_path))
    cmd = [sys.executable, "-m", "cosim_cli", "template", "new", "slam-baseline", "s"]
    made = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "s"
    config = json.loads((folder / "cosim.json").read_text())
    config["params"] = {**config.get("params", {}), **params}
    (folder / "cosim.json").write_text(json.dumps(config))
    return folder


def _run(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "slam.py"], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def _only_run_dir(folder: Path) -> Path:
    (run_dir,) = (folder / "runs").iterdir()
    return run_dir


def test_orbslam_engine_runs_the_binary_and_scores_its_file(tmp_path: Path, sequence: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "rgbd_tum"
    fake.write_text(FAKE_RGBD_TUM.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    vocabulary = tmp_path / "ORBvoc.txt"
    vocabulary.write_text("stand-in vocabulary\n")
    folder = _template(tmp_path, dataset=str(sequence), engine="orbslam")
    env = dict(os.environ, HOME=str(tmp_path), ORBSLAM_VOCABULARY=str(vocabulary),
               PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")  # fmt: skip
    proc = _run(folder, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = _only_run_dir(folder)
    args = json.loads((run_dir / "fake-rgbd_tum-args.json").read_text())
    assert args[0] == str(vocabulary) and args[2] == str(sequence)
    assert len((run_dir / "associations.txt").read_text().splitlines()) == 60
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["poses"] == 60
    assert evaluation["ate"]["rmse"] == pytest.approx(0.0, abs=1e-4)  # a rigid shift aligns away
    assert (run_dir / "trajectory.png").stat().st_size > 1000


def test_orbslam_engine_without_the_binary_says_what_is_missing(
    tmp_path: Path, sequence: Path
) -> None:
    folder = _template(tmp_path, dataset=str(sequence), engine="orbslam")
    env = dict(os.environ, HOME=str(tmp_path), PATH="/usr/bin:/bin")
    env.pop("ORBSLAM_VOCABULARY", None)
    proc = _run(folder, env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "needs rgbd_tum on PATH and ORBSLAM_VOCABULARY" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_mono_gives_a_trajectory_scaled_by_alignment(tmp_path: Path, sequence: Path) -> None:
    folder = _template(tmp_path, dataset=str(sequence), sensor="mono")
    proc = _run(folder, dict(os.environ, HOME=str(tmp_path)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = _only_run_dir(folder)
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["poses"] == 60 and evaluation["aligned"] and evaluation["scale_corrected"]
    assert evaluation["scale"] > 0 and evaluation["ate"]["rmse"] < 0.10
    lines = (run_dir / "trajectory.txt").read_text().splitlines()[1:]
    positions = {tuple(line.split()[1:4]) for line in lines}
    assert len(positions) > 30  # it moved: most frames got a pose of their own
