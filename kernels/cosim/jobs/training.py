"""Stable-Baselines3 glue for template scripts: vector envs, checkpoints, resume, metrics.

A template's ``train.py`` stays a normal SB3 script; it asks a :class:`TrainingRun` for its
folders, vector env and model, and passes :meth:`TrainingRun.callback` to ``learn``. As a CoSim
job the run lives in the job folder (checkpoints, metrics, TensorBoard) and resumes from its
latest checkpoint; as a plain ``python train.py`` it writes to ``runs/<time>/`` and starts fresh.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecNormalize

from . import runtime

TB_RUN_NAME = "run"  # SB3 appends _1; resume continues that run instead of starting _2
KEEP_CHECKPOINTS = 3


def choose_vec_env(kind: str, n_envs: int) -> type[DummyVecEnv] | type[SubprocVecEnv]:
    """``auto``: one process per env only where there are cores to spare for it.

    Measured on 2 cores (NOTES.md, benchmarks/rl_jobs.py): for MuJoCo/PyBullet envs of a few
    joints an env step costs tens of microseconds, less than the pipe round trip to a worker
    process, so the in-process DummyVecEnv is faster; SubprocVecEnv pays off once each worker
    gets its own core next to the learner."""
    if kind == "dummy" or n_envs == 1:
        return DummyVecEnv
    if kind == "subproc":
        return SubprocVecEnv
    cores = len(os.sched_getaffinity(0))
    return SubprocVecEnv if cores >= n_envs + 2 else DummyVecEnv


def choose_device(requested: str, policy: Any, cuda_available: bool) -> tuple[str, str]:
    """The torch device for a policy, and why (for the job's log).

    ``auto`` puts only convolutional (pixel) policies on a GPU: small MLP policies run faster on
    the CPU, since each env step waits for one tiny forward pass. Measured on an H200 machine:
    PPO on Hopper 839 env steps/s on CPU vs 581 on CUDA, SAC 105 vs 109. SB3 advises the same.
    """
    name = policy if isinstance(policy, str) else getattr(policy, "__name__", str(policy))
    if requested == "cpu":
        return "cpu", "asked for"
    if not cuda_available:
        why = (
            "no GPU visible to this job" if requested == "auto" else "asked for cuda, none visible"
        )
        return "cpu", why
    if requested == "cuda":
        return "cuda", "asked for"
    if "cnn" in name.lower():
        return "cuda", f"{name} is convolutional: faster on the GPU"
    return "cpu", f"{name} is a small MLP: faster on the CPU than on the GPU"


def load_params(script: str | Path, defaults: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` updated with the params of ``cosim.json`` next to ``script`` (if any)."""
    project = Path(script).resolve().parent / "cosim.json"
    params = dict(defaults)
    if project.is_file():
        params.update(json.loads(project.read_text()).get("params", {}))
    return params


class TrainingRun:
    """Where one training run keeps its files, and how it resumes."""

    def __init__(self, params: dict[str, Any], *, default_dir: str = "runs") -> None:
        self.params = params
        job = runtime.job_dir()
        self.is_job = job is not None
        self.dir = job if job is not None else Path(default_dir) / time.strftime("%Y%m%d-%H%M%S")
        self.checkpoints = self.dir / "checkpoints"
        self.tensorboard = self.dir / "tb"
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        self.resume_from = self._latest_checkpoint()
        torch_threads = int(params.get("torch_threads", 1))
        if torch_threads > 0:
            # Small MLPs on a shared machine: one BLAS thread beats contending for all cores.
            import torch

            torch.set_num_threads(torch_threads)

    def _latest_checkpoint(self) -> Path | None:
        steps = []
        for path in self.checkpoints.glob("step_*.zip"):
            match = re.fullmatch(r"step_(\d+)\.zip", path.name)
            if match:
                steps.append((int(match.group(1)), path))
        return max(steps)[1] if steps else None

    def vec_env(self, make_env: Callable[[], Any], *, normalize: bool = False) -> VecEnv:
        n_envs = int(self.params.get("n_envs", 1))
        cls = choose_vec_env(str(self.params.get("vec_env", "auto")), n_envs)
        env: VecEnv = make_vec_env(
            make_env, n_envs=n_envs, seed=int(self.params.get("seed", 0)), vec_env_cls=cls
        )
        if normalize:
            stats = self.resume_from and self.resume_from.with_name(
                self.resume_from.stem + "_vecnormalize.pkl"
            )
            env = (
                VecNormalize.load(str(stats), env)
                if stats and stats.exists()
                else (VecNormalize(env))
            )
        print(f"vector env: {n_envs} x {type(env.unwrapped).__name__}", flush=True)
        return env

    def model(self, algo: type[BaseAlgorithm], env: VecEnv, **kwargs: Any) -> BaseAlgorithm:
        """A new model, or the latest checkpoint's (weights, optimizer, timesteps, schedules;
        the replay buffer of off-policy algorithms) when resuming."""
        import torch

        requested = str(self.params.get("device", "auto"))
        device, why = choose_device(requested, kwargs.get("policy"), torch.cuda.is_available())
        print(f"device: {device} ({why})", flush=True)
        if self.resume_from is None:
            return algo(
                env=env, tensorboard_log=str(self.tensorboard), verbose=0, device=device, **kwargs
            )
        model = algo.load(
            str(self.resume_from), env=env, tensorboard_log=str(self.tensorboard), device=device
        )
        replay = self.resume_from.with_name(self.resume_from.stem + "_replay.pkl")
        if replay.exists() and hasattr(model, "load_replay_buffer"):
            model.load_replay_buffer(str(replay))
        print(f"resumed from {self.resume_from.name} at {model.num_timesteps} steps", flush=True)
        return model

    def learn(self, model: BaseAlgorithm, total_timesteps: int) -> BaseAlgorithm:
        """Train up to ``total_timesteps`` in all (counting steps done before a resume)."""
        remaining = total_timesteps - model.num_timesteps
        callback = JobCallback(self, total_timesteps)
        if remaining <= 0:
            print(f"already at {model.num_timesteps} of {total_timesteps} steps", flush=True)
            return model
        return model.learn(
            remaining,
            callback=callback,
            tb_log_name=TB_RUN_NAME,
            reset_num_timesteps=self.resume_from is None,
            progress_bar=False,
        )


class JobCallback(BaseCallback):
    """Metrics once per rollout, checkpoints every ``checkpoint_every`` steps and at the end,
    and a clean stop when the job is asked to stop. Nothing here runs per env step except two
    comparisons."""

    def __init__(self, run: TrainingRun, total_timesteps: int) -> None:
        super().__init__()
        self.run = run
        self.total = total_timesteps
        self.every = int(run.params.get("checkpoint_every", 10_000))
        self.sink: runtime.MetricsSink | None = None
        self._next_ckpt = 0
        self._t0 = self._t_last = 0.0
        self._steps_last = 0

    def _on_training_start(self) -> None:
        from .state import metrics_stream

        stream = metrics_stream(self.run.dir.name) if self.run.is_job else None
        self.sink = runtime.MetricsSink(
            self.run.dir / "metrics.jsonl", stream, os.environ.get("REDIS_URL")
        )
        self._next_ckpt = (self.num_timesteps // self.every + 1) * self.every
        self._t0 = self._t_last = time.perf_counter()
        self._steps_last = self.num_timesteps

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next_ckpt:
            self.save_checkpoint()
            self._next_ckpt += self.every
        return not runtime.stop_requested()

    def _on_rollout_end(self) -> None:
        now = time.perf_counter()
        rate = (self.num_timesteps - self._steps_last) / max(now - self._t_last, 1e-9)
        self._t_last, self._steps_last = now, self.num_timesteps
        episodes: Any = self.model.ep_info_buffer or []
        reward = float(np.mean([e["r"] for e in episodes])) if episodes else None
        length = float(np.mean([e["l"] for e in episodes])) if episodes else None
        losses = {
            k.split("/", 1)[1]: float(v)
            for k, v in self.model.logger.name_to_value.items()
            if k.startswith("train/")
        }
        record = {
            "time": time.time(),
            "timesteps": self.num_timesteps,
            "total_timesteps": self.total,
            "episode_reward": reward,
            "episode_length": length,
            "steps_per_s": round(rate, 1),
            "losses": losses,
        }
        if self.sink is not None:
            self.sink.emit(record)
        shown = "n/a" if reward is None else f"{reward:.2f}"
        print(
            f"steps {self.num_timesteps}/{self.total}  reward {shown}  {rate:.0f} steps/s",
            flush=True,
        )

    def _on_training_end(self) -> None:
        self.save_checkpoint()
        if self.sink is not None:
            self.sink.close()

    def save_checkpoint(self) -> Path:
        folder = self.run.checkpoints
        path = folder / f"step_{self.num_timesteps}.zip"
        self.model.save(str(path))
        env = self.model.get_vec_normalize_env()
        if env is not None:
            env.save(str(folder / f"step_{self.num_timesteps}_vecnormalize.pkl"))
        if hasattr(self.model, "save_replay_buffer"):
            self.model.save_replay_buffer(str(folder / f"step_{self.num_timesteps}_replay.pkl"))
        self._prune(folder)
        return path

    @staticmethod
    def _prune(folder: Path) -> None:
        steps = sorted(
            int(m.group(1))
            for p in folder.glob("step_*.zip")
            if (m := re.fullmatch(r"step_(\d+)\.zip", p.name))
        )
        for step in steps[:-KEEP_CHECKPOINTS]:
            for path in folder.glob(f"step_{step}[._]*"):
                path.unlink(missing_ok=True)
