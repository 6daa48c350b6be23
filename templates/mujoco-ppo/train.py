"""PPO (Stable-Baselines3) on a Gymnasium MuJoCo environment.

Run it as a CoSim job (Lab launcher, `cosim jobs start .`) for checkpoints, resume, live metrics
and TensorBoard in Lab, or directly with `python train.py` (files go to runs/<time>/). Change the
parameters in cosim.json.
"""

import gymnasium as gym
from stable_baselines3 import PPO

from cosim.jobs.training import TrainingRun, load_params

DEFAULTS = {
    "env": "InvertedPendulum-v5",
    "total_timesteps": 100_000,
    "n_envs": 2,
    "vec_env": "auto",
    "learning_rate": 3e-4,
    "n_steps": 1024,
    "batch_size": 64,
    "seed": 0,
    "normalize": True,
    "checkpoint_every": 10_000,
    "torch_threads": 1,
}


def make_env() -> gym.Env:
    return gym.make(params["env"])


params = load_params(__file__, DEFAULTS)

if __name__ == "__main__":
    run = TrainingRun(params)
    env = run.vec_env(make_env, normalize=params["normalize"])
    model = run.model(
        PPO,
        env,
        policy="MlpPolicy",
        learning_rate=params["learning_rate"],
        n_steps=params["n_steps"],
        batch_size=params["batch_size"],
        seed=params["seed"],
    )
    run.learn(model, params["total_timesteps"])
    env.close()
