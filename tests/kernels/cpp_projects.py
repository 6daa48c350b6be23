"""Small C++ projects the C++ tests build (written into a test's folder)."""

from __future__ import annotations

from pathlib import Path

ARM_HPP = "#pragma once\nint arm_steps(int n);\n"
ARM_CPP = """#include "arm.hpp"
int arm_steps(int n) {
  int doubled = n * 2;
  return doubled;
}
"""
MAIN_CPP = r"""#include <iostream>
#include "arm.hpp"
int main() { std::cout << arm_steps(21) << "\n"; }
"""

PENDULUM_XML = """<mujoco model="pendulum">
  <worldbody>
    <body name="pole" pos="0 0 1">
      <joint name="hinge" type="hinge" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.03" mass="1"/>
    </body>
  </worldbody>
</mujoco>
"""

# Loads the MJCF with MuJoCo's C API, tilts the pole, steps it, prints qpos.
MUJOCO_MAIN = r"""#include <cstdio>
#include <mujoco/mujoco.h>
int main() {
  char error[1000] = "";
  mjModel* m = mj_loadXML("pendulum.xml", nullptr, error, sizeof(error));
  if (!m) { std::printf("load failed: %s\n", error); return 1; }
  mjData* d = mj_makeData(m);
  d->qpos[0] = 0.3;
  for (int i = 0; i < 200; i++) mj_step(m, d);
  std::printf("nq=%d qpos=%.4f time=%.3f\n", m->nq, d->qpos[0], d->time);
  mj_deleteData(d);
  mj_deleteModel(m);
}
"""


def write_project(root: Path, files: int = 1) -> list[Path]:
    """``src/arm.hpp``, ``src/arm.cpp``, ``src/main.cpp`` and ``files - 1`` extra units."""
    src = root / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / "arm.hpp").write_text(ARM_HPP)
    (src / "arm.cpp").write_text(ARM_CPP)
    (src / "main.cpp").write_text(MAIN_CPP)
    paths = [src / "arm.cpp", src / "main.cpp"]
    for i in range(files - 1):
        path = src / f"part{i}.cpp"
        path.write_text(f'#include "arm.hpp"\nint part{i}() {{ return arm_steps({i}); }}\n')
        paths.append(path)
    return paths
