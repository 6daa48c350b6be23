"""The example assignment templates/pendulum-assignment through CoSim's grader (real nbgrader,
real kernels, the real sandbox): a good controller gets full marks, a wasteful one the upright
points only, one that does nothing gets 0; the released copy has no solution or hidden seeds."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from cosim_hub.courses.grading import CourseGrader, SandboxLimits

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root"),
    pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning"),
]

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "pendulum-assignment"
CONTROLLERS = {
    "good": "def controller(qpos, qvel):\n"
    "    return 2.0 * qpos[0] + 40.0 * qpos[1] + 3.0 * qvel[0] + 6.0 * qvel[1]",
    # Upright, but full force all the time (bang-bang): far over the energy budget.
    "wasteful": "import numpy as np\ndef controller(qpos, qvel):\n"
    "    return 20.0 * np.sign(qpos[1] + 0.2 * qvel[1] + 0.05 * qpos[0] + 0.1 * qvel[0])",
    "idle": "def controller(qpos, qvel):\n    return 0.0",
}


@pytest.fixture(scope="module")
def grader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CourseGrader]:
    root = tmp_path_factory.mktemp("pendulum") / "nbgrader"
    prefix = f"pg{secrets.token_hex(2)}-"
    limits = SandboxLimits(cell_timeout=60, wall_timeout=180)
    grader = CourseGrader(root, "robotics101", limits=limits, account_prefix=prefix)
    shutil.copytree(TEMPLATE, root / "source" / "pendulum")
    grader.generate("pendulum")
    yield grader
    for name in (f"{prefix}{i}" for i in range(2)):
        subprocess.run(["userdel", name], check=False, capture_output=True)


def submit(grader: CourseGrader, student: str, controller: str) -> None:
    release = grader.root / "release" / "pendulum"
    nb = nbformat.read(release / "pendulum.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    cell.source = controller
    folder = grader.root.parent / "incoming" / student
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(release, folder)
    nbformat.write(nb, folder / "pendulum.ipynb")
    grader.submit("pendulum", student, folder, "2026-11-30 10:00:00 UTC")


def test_release_hides_solution_and_hidden_seeds(grader: CourseGrader) -> None:
    released = (grader.root / "release" / "pendulum" / "pendulum.ipynb").read_text()
    assert "40.0 * qpos[1]" not in released  # the solution
    assert "(11, 23, 37)" not in released  # the hidden seeds
    assert "def simulate" in released  # the harness students run


@pytest.mark.parametrize(
    ("student", "cells"),
    [
        ("good", {"test_upright": 3.0, "test_upright_hidden": 3.0, "test_energy": 2.0}),
        ("wasteful", {"test_upright": 3.0, "test_upright_hidden": 3.0, "test_energy": 0.0}),
        ("idle", {"test_upright": 0.0, "test_upright_hidden": 0.0, "test_energy": 0.0}),
    ],
)
def test_controllers_score_as_expected(
    grader: CourseGrader, student: str, cells: dict[str, float]
) -> None:
    submit(grader, student, CONTROLLERS[student])
    result = grader.autograde("pendulum", student)
    assert result["cells"] == cells, result
    assert (result["score"], result["max_score"]) == (sum(cells.values()), 8.0)
    assert result["messages"] == {}
