"""``cosim template`` and ``cosim jobs`` from a terminal: a real PyBullet PPO job started,
followed, stopped with a checkpoint and resumed to its end, without any server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def cosim(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "cosim_cli", *args]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def show(job_id: str, cwd: Path) -> dict[str, Any]:
    return dict(json.loads(cosim("jobs", "--json", "show", job_id, cwd=cwd).stdout))


def test_template_list_and_bad_params(tmp_path: Path) -> None:
    listed = json.loads(cosim("template", "--json", "list", cwd=tmp_path).stdout)
    assert {"mujoco-ppo", "pybullet-ppo"} <= {t["name"] for t in listed}
    bad = cosim("template", "new", "mujoco-ppo", "x", "--param", "n_envs=0", cwd=tmp_path,
                check=False)  # fmt: skip
    assert bad.returncode == 1 and "'n_envs' must be an integer in [1, 64]" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "x").exists()
    unknown = cosim("template", "new", "nope", "y", cwd=tmp_path, check=False)
    assert unknown.returncode == 1 and "unknown template 'nope'" in unknown.stderr
    none = cosim("jobs", "show", "20990101-000000-nope-abcdef", cwd=tmp_path, check=False)
    assert none.returncode == 1 and "no job" in none.stderr


def test_jobs_start_logs_stop_resume(tmp_path: Path) -> None:
    params = ["total_timesteps=6000", "n_steps=256", "checkpoint_every=1000", "n_envs=1"]
    cosim("template", "new", "pybullet-ppo", "arm", *(f"--param={p}" for p in params), cwd=tmp_path)
    # The first job names its workspace; later commands find it from any folder inside.
    start = ["jobs", "--json", "--workspace", str(tmp_path), "start", "arm"]
    started = json.loads(cosim(*start, cwd=tmp_path).stdout)
    job_id = started["id"]
    assert started["state"] == "running" and (tmp_path / ".cosim" / "jobs" / job_id).is_dir()

    deadline = time.monotonic() + 90
    while (show(job_id, tmp_path).get("timesteps") or 0) < 1024:
        assert time.monotonic() < deadline, cosim("jobs", "logs", job_id, cwd=tmp_path).stdout
        time.sleep(0.3)
    assert "stopped" in cosim("jobs", "stop", job_id, cwd=tmp_path).stdout
    stopped = show(job_id, tmp_path)
    assert stopped["state"] == "stopped" and stopped["checkpoint"]
    listed = cosim("jobs", "list", cwd=tmp_path / "arm").stdout  # found from a subfolder too
    assert job_id in listed and "stopped" in listed

    cosim("jobs", "resume", job_id, cwd=tmp_path)
    followed = cosim("jobs", "logs", "-f", job_id, cwd=tmp_path).stdout  # returns at the end
    assert f"resumed from {stopped['checkpoint']}" in followed
    done = show(job_id, tmp_path)
    assert done["state"] == "finished" and done["timesteps"] >= 6000 and done["resumes"] == 1
