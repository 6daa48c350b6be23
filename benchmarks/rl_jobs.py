"""RL jobs: env-steps/s of a CoSim job against the same training run directly, in one run.

- ratio: steps/s of a mujoco-ppo job started through the server's REST API / a plain
  Stable-Baselines3 script with the same config (env, n_envs, in-process vector env, n_steps,
  batch size, learning rate, seed, VecNormalize) and the same torch thread count (the job's
  `torch_threads` param, which the script passes to torch.set_num_threads as a user would)
- ratio_same_script: the job / the template's own train.py run directly (`python train.py`):
  what the job machinery (worker, state, metrics stream, checkpoints) costs
- first_metric_s: seconds from the start request to the job's first metric (process start,
  imports, first rollout)

Steps/s are steady-state on both sides: from the first rollout's end to the last (start-up and
imports excluded alike). Each round runs all three, the first side rotating from round to
round; figures are medians of the per-round ratios, with their spread.

    python benchmarks/rl_jobs.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).parent))
from _report import alternate, figure, headline, median, ratio_rounds, report
from _server import JupyterServer

from cosim.jobs import get_template
from cosim.jobs.templates import new_project
from cosim_hub.redis_server import RedisServer

# Plain SB3: what a student would write without CoSim. Rollout-end times give steady-state
# steps/s measured exactly as the job's metrics do.
BASELINE = textwrap.dedent(
    """
    import json, sys, time
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    p = json.loads(sys.argv[1])
    marks = []

    class Marks(BaseCallback):
        def _on_step(self):
            return True

        def _on_rollout_end(self):
            marks.append((time.time(), self.num_timesteps))

    if __name__ == "__main__":
        torch.set_num_threads(p["torch_threads"])
        env = VecNormalize(make_vec_env(p["env"], n_envs=p["n_envs"], seed=p["seed"]))
        model = PPO("MlpPolicy", env, learning_rate=p["learning_rate"], n_steps=p["n_steps"],
                    batch_size=p["batch_size"], seed=p["seed"], verbose=0)
        model.learn(p["total_timesteps"], callback=Marks())
        print(json.dumps(marks))
    """
)


def steady_rate(marks: list[tuple[float, int]]) -> float:
    (t0, s0), (t1, s1) = marks[0], marks[-1]
    return (s1 - s0) / (t1 - t0)


def run_baseline(params: dict[str, Any], work: Path) -> float:
    script = work / "baseline.py"
    script.write_text(BASELINE)
    out = subprocess.run([sys.executable, str(script), json.dumps(params)], cwd=work,
                         capture_output=True, text=True, check=True)  # fmt: skip
    return steady_rate(json.loads(out.stdout.strip().splitlines()[-1]))


def run_script_directly(params: dict[str, Any], work: Path) -> float:
    folder = Path(tempfile.mkdtemp(dir=work, prefix="direct-"))
    shutil.rmtree(folder)
    template = get_template("mujoco-ppo")
    new_project(template, folder, template.validate(params))
    subprocess.run([sys.executable, "train.py"], cwd=folder, capture_output=True, check=True)
    metrics = next(folder.glob("runs/*/metrics.jsonl")).read_text().splitlines()
    records = [json.loads(line) for line in metrics]
    return steady_rate([(r["time"], r["timesteps"]) for r in records])


def run_job(server: JupyterServer, params: dict[str, Any]) -> tuple[float, float]:
    api = f"{server.url}/cosim/api/jobs"
    auth = {"Authorization": f"token {server.token}"}
    start = time.perf_counter()
    reply = requests.post(api, json={"template": "mujoco-ppo", "params": params}, headers=auth,
                          timeout=30)  # fmt: skip
    reply.raise_for_status()
    job_id = reply.json()["id"]
    first_metric = None
    while True:
        job = requests.get(f"{api}/{job_id}", headers=auth, timeout=30).json()
        if first_metric is None and job["metrics"]:
            first_metric = time.perf_counter() - start
        if job["state"] not in ("queued", "running"):
            break
        # Slow polls while it trains (each costs the server CPU the job could use), quick ones
        # before the first metric (timed) and once the last rollout is in (only the exit left).
        trained = job["metrics"] and job["metrics"][-1]["timesteps"] >= params["total_timesteps"]
        time.sleep(0.05 if first_metric is None or trained else 0.5)
    if job["state"] != "finished":
        raise RuntimeError(f"job {job['state']}: {job['log_tail']}")
    requests.delete(f"{api}/{job_id}", headers=auth, timeout=30)
    assert first_metric is not None
    return steady_rate([(m["time"], m["timesteps"]) for m in job["metrics"]]), first_metric


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three short rounds (under 60 s)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    # --quick: three rounds of 1,024 steps (8 rollouts), without the direct-run side.
    rounds, steps, n_steps = (3, 1024, 64) if args.quick else (5, 8192, 256)
    # The same settings on every side: one torch thread (the template's default) and the
    # in-process vector env that SB3's make_vec_env uses by default.
    params = {"env": "InvertedPendulum-v5", "n_envs": 2, "vec_env": "dummy", "n_steps": n_steps,
              "batch_size": 64, "learning_rate": 3e-4, "seed": 0, "total_timesteps": steps,
              "checkpoint_every": max(500, steps // 4), "torch_threads": 1}  # fmt: skip

    state = Path(tempfile.mkdtemp(prefix="cosim-bench-rl-"))
    redis = RedisServer(state / "redis", persist=False).start()
    server = JupyterServer(redis.url)
    first: list[float] = []

    def job() -> float:
        rate, first_metric = run_job(server, params)
        first.append(first_metric)
        return rate

    try:
        sides = {"job": job, "baseline": lambda: run_baseline(params, state)}
        if not args.quick:
            sides["direct"] = lambda: run_script_directly(params, state)
        runs = alternate(rounds, sides)
    finally:
        server.stop()
        redis.stop()
        shutil.rmtree(state, ignore_errors=True)

    vs_sb3 = ratio_rounds(runs["job"], runs["baseline"])
    base, ours = median(runs["baseline"]), median(runs["job"])
    figures: dict[str, Any] = {
        "ratio": round(median(vs_sb3), 3),
        "first_metric_s": round(median(first), 2),
        "job_steps_per_s": round(ours, 1),
        "baseline_steps_per_s": round(base, 1),
        "torch_threads": params["torch_threads"],
        "detail": {"ratio": figure(vs_sb3), "first_metric_s": figure(first, 2)},
    }
    rows = [
        ("plain SB3 script, 1 torch thread", f"{base:,.0f} steps/s", ""),
        ("CoSim job (REST start)", f"{ours:,.0f} steps/s", ""),
        headline("ratio (job / SB3 script)", vs_sb3, ">= 1.0"),
        ("start -> first metric", f"{median(first):.2f} s", ""),
    ]
    if "direct" in runs:  # full runs only: what the job machinery costs over `python train.py`
        vs_direct = ratio_rounds(runs["job"], runs["direct"])
        figures["ratio_same_script"] = round(median(vs_direct), 3)
        figures["direct_steps_per_s"] = round(median(runs["direct"]), 1)
        figures["detail"]["ratio_same_script"] = figure(vs_direct)
        rows.insert(
            1, ("template train.py run directly", f"{median(runs['direct']):,.0f} steps/s", "")
        )
        rows.append(headline("ratio_same_script", vs_direct, ">= 1.0"))
    report(rows, figures, args.json, quick=args.quick)


if __name__ == "__main__":
    main()
