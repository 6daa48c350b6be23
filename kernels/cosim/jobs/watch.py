"""``python -m cosim.jobs.watch JOB_DIR [SECONDS]``: the job's latest policy, live in the viewer.

Loads the newest checkpoint (with its VecNormalize statistics), builds one env with the project's
own ``make_env`` (train.py is imported, not run: its training sits under ``__main__``), and runs
the deterministic policy at the env's real-time pace, publishing every step through
``cosim.viewer``. The sim id goes to ``<job>/watch.json`` for the server to hand to Lab.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import time
from pathlib import Path
from typing import Any

from cosim.snapshots.store import atomic_write

from .state import JobDir

WATCH_FILE = "watch.json"


def _viewer_target(env: Any) -> tuple[Any, Any]:
    """(model, data) of a Gymnasium MuJoCo env, or (client id, None) of a PyBullet one."""
    inner = env.unwrapped
    if hasattr(inner, "model") and hasattr(inner, "data"):
        return inner.model, inner.data
    if hasattr(inner, "client"):
        return inner.client, None
    raise SystemExit(f"cannot show {type(inner).__name__}: neither MuJoCo nor PyBullet")


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: python -m cosim.jobs.watch JOB_DIR [SECONDS]", file=sys.stderr)
        return 2
    job = JobDir(Path(argv[1]).resolve())
    seconds = float(argv[2]) if len(argv) == 3 else 120.0
    checkpoint = job.latest_checkpoint()
    if checkpoint is None:
        print("no checkpoint yet", file=sys.stderr)
        return 1
    spec = job.spec()
    project = Path(spec["project"])
    os.chdir(project)
    sys.path.insert(0, str(project))
    script = runpy.run_path(str(project / spec["entry"]), run_name="cosim_watch")

    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from cosim.live_viewer import viewer

    venv: Any = DummyVecEnv([script["make_env"]])
    stats = checkpoint.with_name(checkpoint.stem + "_vecnormalize.pkl")
    if stats.exists():
        venv = VecNormalize.load(str(stats), venv)
        venv.training, venv.norm_reward = False, False
    model = PPO.load(str(checkpoint), device="cpu")
    env = venv.unwrapped.envs[0]
    target, data = _viewer_target(env)
    dt = float(getattr(env.unwrapped, "dt", 1 / 60))
    title = f"{spec.get('title', spec['template'])} policy @ {checkpoint.stem}"
    obs = venv.reset()
    with viewer(target, data, title=title, display=False) as view:
        atomic_write(
            job.path / WATCH_FILE,
            json.dumps({"sim_id": view.sim_id, "checkpoint": checkpoint.name}).encode(),
        )
        end = time.monotonic() + seconds
        next_tick = time.monotonic()
        while time.monotonic() < end:
            action, _ = model.predict(obs, deterministic=True)
            obs, _, _, _ = venv.step(action)
            view.sync()
            next_tick += dt
            time.sleep(max(0.0, next_tick - time.monotonic()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
