"""PPO (Stable-Baselines3) on KukaReach, a PyBullet arm-reaching env (reach_env.py).

Run it as a CoSim job (Lab launcher, `cosim jobs start .`) for checkpoints, resume, live metrics
and TensorBoard in Lab, or directly with `python train.py` (files go to runs/<time>/). Change the
parameters in cosim.json.
"""

from reach_env import KukaReach
from stable_baselines3 import PPO

from cosim.jobs.training import TrainingRun, load_params

DEFAULTS = {
    "total_timesteps": 100_000,
    "max_episode_steps": 200,
    "n_envs": 2,
    "vec_env": "auto",
    "learning_rate": 3e-4,
    "n_steps": 1024,
    "batch_size": 64,
    "seed": 0,
    "checkpoint_every": 10_000,
    "torch_threads": 1,
}


def make_env() -> KukaReach:
    return KukaReach(max_steps=params["max_episode_steps"])


params = load_params(__file__, DEFAULTS)

if __name__ == "__main__":
    run = TrainingRun(params)
    env = run.vec_env(make_env, normalize=True)
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
