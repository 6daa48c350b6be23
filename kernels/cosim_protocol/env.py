"""Names of the environment variables CoSim's parts pass each other, and their defaults."""

from __future__ import annotations

import os

SCHEMA_VERSION = 1

# The Redis a process talks to; `cosim up` and the spawner set it (per-user credentials).
REDIS_URL = "REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Set by JupyterHub in user servers and services.
HUB_USER = "JUPYTERHUB_USER"
HUB_SERVICE_PREFIX = "JUPYTERHUB_SERVICE_PREFIX"
# Where `cosim up` keeps its hub-side state.
STATE_DIR = "COSIM_STATE_DIR"
# Spawner -> user server: the chosen profile and the GPUs it was given.
PROFILE = "COSIM_PROFILE"
GPUS = "COSIM_GPUS"
# Hub -> user server: the courses service's URL.
COURSES_URL = "COSIM_COURSES_URL"
# Hub -> user server: the cost-guard service's URL (its api/self answers the server's own user).
COSTGUARD_URL = "COSIM_COSTGUARD_URL"
# User server -> job process: its workspace, its folder and its launch id.
WORKSPACE = "COSIM_WORKSPACE"
JOB_DIR = "COSIM_JOB_DIR"
LAUNCH_ID = "COSIM_LAUNCH_ID"
# Spawner -> user server: the admin's read-only datasets, JSON {name: source folder}, which the
# server sees under ~/datasets/<name> (COSIM_DATASETS_DIR moves that folder, for tests).
DATASETS = "COSIM_DATASETS"
DATASETS_DIR = "COSIM_DATASETS_DIR"
# Hub -> cost-guard service: the settings file it reads.
COSTGUARD_SETTINGS = "COSIM_COSTGUARD_SETTINGS"


def redis_url(default: str = DEFAULT_REDIS_URL) -> str:
    """``$REDIS_URL`` if set and not empty, else ``default``."""
    return os.environ.get(REDIS_URL) or default
