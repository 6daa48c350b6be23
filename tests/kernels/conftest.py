from __future__ import annotations

import os

# Offscreen rendering for pixel-mode tests; set before anything imports mujoco's GL.
os.environ.setdefault("MUJOCO_GL", "egl")
