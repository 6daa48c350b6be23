"""The hub process never imports numpy, torch, MuJoCo or PyBullet (the hub image has none).

Each of the hub's entry points is imported in a fresh, isolated interpreter; the import-linter
contracts in pyproject.toml state the same for direct imports, this catches indirect ones
through third-party packages too.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "torch", "mujoco", "pybullet", "stable_baselines3", "gymnasium")

ENTRY_POINTS = {
    "jupyterhub_config (configure, spawner, authenticators)": (
        "import cosim_hub; from cosim_hub import configure; "
        "import cosim_hub.spawner, cosim_hub.auth, cosim_hub.oidc"
    ),
    "cost guard service": "import cosim_hub.costguard.__main__",
    "courses service": "import cosim_hub.courses.exchange",
    "cosim up (dispatcher and launcher)": (
        "import cosim_cli, cosim_hub.launcher; cosim_cli.build_parser()"
    ),
}


@pytest.mark.parametrize("code", ENTRY_POINTS.values(), ids=ENTRY_POINTS.keys())
def test_hub_entry_point_imports_no_sim_or_rl_library(code: str) -> None:
    report = f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    probe = f"{code}\nimport json, sys\n{report}"
    out = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
