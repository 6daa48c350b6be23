"""Template parameters as data: every value is checked against its declared type and range, and
a bad one is a message naming the parameter and what it allows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cosim.jobs import TemplateError, get_template, list_templates
from cosim.jobs.templates import Param, new_project, read_project

INT = Param("n_envs", "int", 2, range=(1, 64))
FLOAT = Param("learning_rate", "float", 3e-4, range=(1e-6, 1e-2))
CHOICE = Param("env", "str", "Hopper-v5", choices=("Hopper-v5", "Ant-v5"))
FLAG = Param("normalize", "bool", True)


@pytest.mark.parametrize(
    "param, given, expected",
    [
        (INT, 4, 4), (INT, "8", 8), (INT, "1_6", 16), (INT, 3.0, 3),
        (FLOAT, 0.001, 0.001), (FLOAT, "1e-4", 1e-4),
        (CHOICE, "Ant-v5", "Ant-v5"), (FLAG, False, False), (FLAG, "true", True),
    ],
)  # fmt: skip
def test_good_values_are_converted(param: Param, given: Any, expected: Any) -> None:
    assert param.check(given) == expected


@pytest.mark.parametrize(
    "param, given, words",
    [
        (INT, 0, "'n_envs' must be an integer in [1, 64], not 0"),
        (INT, 65, "[1, 64]"), (INT, 2.5, "an integer"), (INT, True, "an integer"),
        (INT, "two", "not 'two'"), (INT, None, "an integer"),
        (FLOAT, 0.5, "'learning_rate' must be a number in [1e-06, 0.01]"),
        (FLOAT, float("nan"), "a number"), (FLOAT, "fast", "a number"),
        (CHOICE, "Pong-v5", "one of Hopper-v5, Ant-v5"), (FLAG, "yes", "true or false"),
    ],
)  # fmt: skip
def test_bad_values_name_the_param_and_its_range(param: Param, given: Any, words: str) -> None:
    with pytest.raises(TemplateError) as err:
        param.check(given)
    assert words in str(err.value) and err.value.status == 400


def test_shipped_templates_load_and_fill_defaults() -> None:
    names = [t.name for t in list_templates()]
    assert {"mujoco-ppo", "pybullet-ppo"} <= set(names)
    template = get_template("mujoco-ppo")
    params = template.validate({"n_envs": 4})
    assert params["n_envs"] == 4 and params["env"] == "InvertedPendulum-v5"
    assert template.cpus(params) == 4
    with pytest.raises(TemplateError) as err:
        template.validate({"gama": 0.9})
    assert "unknown parameter 'gama'" in str(err.value)
    with pytest.raises(TemplateError) as err:
        get_template("../etc")
    assert err.value.status == 404


def test_new_project_copies_files_and_refuses_a_used_folder(tmp_path: Path) -> None:
    template = get_template("pybullet-ppo")
    project = new_project(template, tmp_path / "arm", template.validate({}))
    assert project["template"] == "pybullet-ppo"
    assert {p.name for p in (tmp_path / "arm").iterdir()} >= {"train.py", "reach_env.py",
                                                               "cosim.json"}  # fmt: skip
    assert not (tmp_path / "arm" / "template.toml").exists()
    assert read_project(tmp_path / "arm")["params"]["n_envs"] == 2
    with pytest.raises(TemplateError) as err:
        new_project(template, tmp_path / "arm", {})
    assert err.value.status == 409


def test_reach_rollouts_show_the_floor_and_the_target(tmp_path: Path) -> None:
    """What the viewer streams of the PyBullet reach task: a floor, and a moving ball sitting on
    the target the policy reaches for, after reset and after each step."""
    import runpy

    import numpy as np

    from cosim.scene_pybullet import PybulletScene

    new_project(get_template("pybullet-ppo"), tmp_path / "arm", {})
    env = runpy.run_path(str(tmp_path / "arm" / "reach_env.py"))["KukaReach"]()
    try:
        env.reset(seed=3)
        scene = PybulletScene(env.client)
        rows = {k: row for row, k in enumerate(scene.dynamic)}
        ball = next(k for k, (uid, _) in enumerate(scene.frames) if uid == env.target_body)
        assert ball in rows, "the target is not streamed"
        assert any(not m for m in scene.moving), "no floor"
        for _ in range(3):
            np.testing.assert_allclose(scene.poses()[rows[ball], :3], env.target, atol=1e-6)
            env.step(env.action_space.sample())
    finally:
        env.close()


@pytest.mark.parametrize(
    ("requested", "policy", "cuda", "device"),
    [
        ("auto", "MlpPolicy", True, "cpu"),  # small MLPs: the CPU is faster
        ("auto", "CnnPolicy", True, "cuda"),
        ("auto", "CnnPolicy", False, "cpu"),
        ("cuda", "MlpPolicy", True, "cuda"),
        ("cuda", "MlpPolicy", False, "cpu"),  # asked for, none visible: said in the log
        ("cpu", "CnnPolicy", True, "cpu"),
    ],
)
def test_device_choice(requested: str, policy: str, cuda: bool, device: str) -> None:
    from cosim.jobs.training import choose_device

    chosen, why = choose_device(requested, policy, cuda)
    assert chosen == device and why


def test_templates_take_a_device() -> None:
    for name in ("mujoco-ppo", "pybullet-ppo"):
        template = get_template(name)
        assert template.validate({})["device"] == "auto"
        with pytest.raises(TemplateError, match="device"):
            template.validate({"device": "tpu"})
