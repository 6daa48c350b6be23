"""Run the SLAM baseline over a sequence and score it against ground truth.

Run it as a CoSim job (Lab launcher, `cosim jobs start .`) for live progress, plots and metrics in
Lab, or directly with `python slam.py` (files go to runs/<time>/). Parameters are in cosim.json.
The tracker itself is in baseline.py: change it there.
"""

import sys
import time

import cv2
import numpy as np
from baseline import MonoTracker, RgbdTracker

from cosim.jobs import runtime
from cosim.jobs.training import load_params
from cosim.slam.datasets import DatasetError
from cosim.slam.run import SlamRun, load_sequence

DEFAULTS = {
    "dataset": "generated",
    "sensor": "rgbd",
    "n_features": 1000,
    "first_frame": 0,
    "last_frame": 0,
    "engine": "baseline",
}

params = load_params(__file__, DEFAULTS)


def run_baseline(run: SlamRun) -> None:
    seq = run.seq
    if params["sensor"] == "rgbd":
        tracker = RgbdTracker(seq.K, params["n_features"])
    else:
        tracker = MonoTracker(seq.K, params["n_features"])
    for frame in seq.frames:
        if runtime.stop_requested():
            print("stopped: scoring the frames so far", flush=True)
            break
        gray = cv2.imread(str(frame.rgb), cv2.IMREAD_GRAYSCALE)
        depth = None
        if frame.depth is not None:
            raw = cv2.imread(str(frame.depth), cv2.IMREAD_UNCHANGED)
            depth = raw.astype(np.float32) / seq.camera["depth_scale"]
        start = time.perf_counter()
        pose = tracker.track(gray, depth)
        run.add(frame.stamp, pose, time.perf_counter() - start)
    print(f"{tracker.keyframes} keyframes", flush=True)
    run.finish()


if __name__ == "__main__":
    try:
        sequence = load_sequence(
            params["dataset"], params["sensor"], params["first_frame"], params["last_frame"]
        )
    except DatasetError as err:
        print(f"slam: {err}", file=sys.stderr, flush=True)
        sys.exit(2)
    run = SlamRun(params, sequence)
    if params["engine"] == "orbslam":
        from orbslam import run_orbslam

        run.finish(estimate=run_orbslam(run))
    else:
        run_baseline(run)
