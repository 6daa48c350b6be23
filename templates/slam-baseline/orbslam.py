"""``engine = "orbslam"``: run an ORB-SLAM2/3 ``rgbd_tum`` (or ``mono_tum``) binary on the sequence
and score the trajectory file it writes. Needs the binary on PATH and ``ORBSLAM_VOCABULARY``
pointing at ORBvoc.txt (both come with an ORB-SLAM build, not with CoSim)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from cosim.slam.datasets import DatasetError

SETTINGS = """%YAML:1.0
Camera.fx: {fx}
Camera.fy: {fy}
Camera.cx: {cx}
Camera.cy: {cy}
Camera.k1: 0.0
Camera.k2: 0.0
Camera.p1: 0.0
Camera.p2: 0.0
Camera.fps: 30.0
Camera.RGB: 1
ThDepth: 40.0
DepthMapFactor: {depth_scale}
ORBextractor.nFeatures: {n_features}
ORBextractor.scaleFactor: 1.2
ORBextractor.nLevels: 8
ORBextractor.iniThFAST: 20
ORBextractor.minThFAST: 7
Viewer.KeyFrameSize: 0.05
Viewer.KeyFrameLineWidth: 1
Viewer.GraphLineWidth: 0.9
Viewer.PointSize: 2
Viewer.CameraSize: 0.08
Viewer.CameraLineWidth: 3
Viewer.ViewpointX: 0
Viewer.ViewpointY: -0.7
Viewer.ViewpointZ: -1.8
Viewer.ViewpointF: 500
"""


def run_orbslam(run) -> Path:
    seq, params = run.seq, run.params
    name = "rgbd_tum" if params["sensor"] == "rgbd" else "mono_tum"
    binary = shutil.which(name)
    vocabulary = os.environ.get("ORBSLAM_VOCABULARY", "")
    if binary is None or not Path(vocabulary).is_file():
        print(
            f"slam: engine=orbslam needs {name} on PATH and ORBSLAM_VOCABULARY set to ORBvoc.txt",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(2)
    if seq.format != "tum":
        raise DatasetError("engine=orbslam runs TUM-layout sequences only")
    work = run.dir.resolve()  # the binary runs there: every path it gets is absolute
    settings = work / "orbslam.yaml"
    cam = dict(seq.camera, n_features=params["n_features"])
    settings.write_text(SETTINGS.format(**cam))
    args = [binary, vocabulary, str(settings), str(seq.folder)]
    if name == "rgbd_tum":
        assoc = work / "associations.txt"
        assoc.write_text(
            "".join(
                f"{f.stamp:.6f} {f.rgb.relative_to(seq.folder)} "
                f"{f.stamp:.6f} {f.depth.relative_to(seq.folder)}\n"
                for f in seq.frames
            )
        )
        args.append(str(assoc))
    print("running " + " ".join(args), flush=True)
    code = subprocess.run(args, cwd=work).returncode
    if code != 0:
        print(f"slam: {name} exited with status {code} (its output is above)", file=sys.stderr,
              flush=True)  # fmt: skip
        sys.exit(1)
    for candidate in ("CameraTrajectory.txt", "KeyFrameTrajectory.txt"):
        if (work / candidate).is_file():
            return work / candidate
    raise DatasetError(f"{name} wrote no CameraTrajectory.txt in {work}")
