"""Fixtures for the kernel-side tests.

MUJOCO_GL is deliberately left unset: in a notebook, ``import mujoco`` runs before cosim and
picks GLFW, and pixel mode must still render headless.
"""

from __future__ import annotations

import mujoco
import pytest
from mjcf_models import ALL_GEOMS


@pytest.fixture
def sim() -> tuple[mujoco.MjModel, mujoco.MjData]:
    model = mujoco.MjModel.from_xml_string(ALL_GEOMS)
    return model, mujoco.MjData(model)
