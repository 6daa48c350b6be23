"""The slam-baseline template as a real job from the terminal: it renders the generated MuJoCo
sequence (no download), tracks it with the ORB RGB-D baseline, and leaves ATE/RPE in the job's
metrics file and Redis stream, plots and TensorBoard events in the job folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import redis

from cosim.jobs.state import metrics_stream


def cosim(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "cosim_cli", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900, env=env)


def test_template_listed_with_its_params(tmp_path: Path) -> None:
    out = cosim("template", "--json", "list", cwd=tmp_path, env=dict(os.environ))
    slam = {t["name"]: t for t in json.loads(out.stdout)}["slam-baseline"]
    params = {p["name"]: p for p in slam["params"]}
    assert slam["kind"] == "slam"
    assert params["sensor"]["choices"] == ["rgbd", "mono"]
    assert {"dataset", "n_features", "first_frame", "last_frame", "engine"} <= set(params)


def test_generated_sequence_job_ate_below_5cm(tmp_path: Path, cosim_redis_url: str) -> None:
    env = dict(os.environ, HOME=str(tmp_path), REDIS_URL=cosim_redis_url)
    made = cosim("template", "new", "slam-baseline", "slam", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    start = cosim("jobs", "--json", "--workspace", str(tmp_path), "start", "slam",
                  cwd=tmp_path, env=env)  # fmt: skip
    assert start.returncode == 0, start.stderr
    job_id = json.loads(start.stdout)["id"]
    log = cosim("jobs", "logs", "-f", job_id, cwd=tmp_path, env=env).stdout  # returns at the end
    show = json.loads(cosim("jobs", "--json", "show", job_id, cwd=tmp_path, env=env).stdout)
    assert show["state"] == "finished", log
    assert "rendered 600/600 frames" in log and "frames 600/600" in log

    job = tmp_path / ".cosim" / "jobs" / job_id
    records = [json.loads(line) for line in (job / "metrics.jsonl").read_text().splitlines()]
    progress = [r for r in records if not r.get("final")]
    assert [r["frames"] for r in progress][:2] == [15, 30] and progress[-1]["frames"] == 600
    assert all(r["total_frames"] == 600 and r["fps"] > 0 for r in progress)
    final = records[-1]
    assert final["final"] and final["frames"] == 600
    assert final["ate_rmse_m"] < 0.05, final
    assert 0 < final["rpe_trans_rmse_m"] < 0.05 and 0 < final["rpe_rot_rmse_deg"] < 1.0

    client = redis.Redis.from_url(cosim_redis_url)
    entries = client.xrange(metrics_stream(job_id))
    client.close()
    streamed = [json.loads(fields[b"m"]) for _, fields in entries]
    assert streamed[-1] == final and len(streamed) == len(records)

    for name in ("trajectory.png", "trajectory.svg", "error.png", "error.svg", "trajectory.txt"):
        assert (job / name).stat().st_size > 1000, name
    evaluation = json.loads((job / "evaluation.json").read_text())
    assert evaluation["ate"]["rmse"] == final["ate_rmse_m"] and evaluation["aligned"]
    assert any((job / "tb").iterdir())

    # The same trajectory through `cosim slam eval` gives the same ATE.
    seq = tmp_path / ".cosim" / "cache" / "slam" / "generated-20s-v1"
    cli = cosim("slam", "eval", str(seq / "groundtruth.txt"), str(job / "trajectory.txt"),
                "--align", "--json", cwd=tmp_path, env=env)  # fmt: skip
    assert json.loads(cli.stdout)["ate"]["rmse"] == final["ate_rmse_m"]


def test_bad_dataset_fails_with_a_message(tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path))
    cosim("template", "new", "slam-baseline", "s", "--param", "dataset=nope", cwd=tmp_path, env=env)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "rgb.txt").write_text("1.0 rgb/1.png\n")
    for dataset, message in (("nope", "dataset 'nope' not found"),
                             (str(broken), "rgb.txt:1: rgb/1.png is missing")):  # fmt: skip
        (tmp_path / "s" / "cosim.json").write_text(
            json.dumps(
                {"template": "slam-baseline", "entry": "slam.py", "params": {"dataset": dataset}}
            )
        )
        proc = subprocess.run([sys.executable, "slam.py"], cwd=tmp_path / "s", env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and not (tmp_path / "s" / "runs").exists()
