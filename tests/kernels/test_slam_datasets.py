"""``cosim datasets list``: name, format, size and frame count of each dataset under
~/datasets, read-only ones marked, a broken one named with its problem; and the readers'
association of rgb and depth by timestamp."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np

from cosim.slam.datasets import associate
from cosim.slam.synthetic import SequenceSpec, generate


def test_associate_closest_first_each_once() -> None:
    a = np.array([0.0, 0.033, 0.066, 0.1])
    b = np.array([0.001, 0.030, 0.034, 0.2])
    assert associate(a, b, 0.02) == [(0, 0), (1, 2)]  # 1 takes its closest; 2, 3 none


def test_datasets_list(tmp_path: Path) -> None:
    root = tmp_path / "datasets"
    seq = generate(root / "room", SequenceSpec(duration_s=0.5))
    broken = root / "broken"
    broken.mkdir()
    (broken / "rgb.txt").write_text("1.0 rgb/1.png\n")
    for path in [seq, *seq.rglob("*")]:  # read-only, as the admin's volume
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    env = dict(os.environ, COSIM_DATASETS_DIR=str(root))
    cmd = [sys.executable, "-m", "cosim_cli", "datasets", "--json", "list"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    listed = {d["name"]: d for d in json.loads(out.stdout)}
    room = listed["room"]
    assert room["format"] == "tum" and room["frames"] == 15 and room["size_bytes"] > 100_000
    assert room["problem"] == ""
    assert listed["broken"]["problem"].endswith("rgb.txt:1: rgb/1.png is missing in " + str(broken))
    text = subprocess.run([*cmd[:4], "list"], capture_output=True, text=True, env=env).stdout
    assert "room" in text and "tum" in text and "MB" in text
    if os.geteuid() != 0:  # root ignores permission bits
        assert room["read_only"]
    for path in [seq, *seq.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
