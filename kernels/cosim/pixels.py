"""Pixel mode: offscreen camera images as JPEG, for sensors and what poses cannot show."""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np


def _jpeg(pixels: np.ndarray, quality: int = 80) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels[..., :3])).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


class MujocoPixels:
    """MuJoCo's offscreen Renderer. MUJOCO_GL must name a headless backend (egl or osmesa)."""

    def __init__(self, model: Any, data: Any, width: int, height: int, camera: Any) -> None:
        if os.environ.get("MUJOCO_GL") not in ("egl", "osmesa"):
            raise RuntimeError(
                "pixel mode needs offscreen OpenGL: set MUJOCO_GL=egl (or osmesa) before "
                "importing mujoco"
            )
        import mujoco

        model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, height)
        self.data, self.camera, self.size = data, camera, (width, height)
        self.renderer = mujoco.Renderer(model, height, width)

    def render(self) -> tuple[bytes, tuple[int, int]]:
        if self.camera is None:
            self.renderer.update_scene(self.data)
        else:
            self.renderer.update_scene(self.data, camera=self.camera)
        return _jpeg(self.renderer.render()), self.size


class PybulletPixels:
    def __init__(self, client: int, width: int, height: int) -> None:
        self.client, self.size = client, (width, height)

    def render(self) -> tuple[bytes, tuple[int, int]]:
        import pybullet as pb

        width, height = self.size
        view = pb.computeViewMatrix([1.5, -1.5, 1.2], [0, 0, 0.4], [0, 0, 1])
        proj = pb.computeProjectionMatrixFOV(60, width / height, 0.05, 50)
        _, _, rgba, _, _ = pb.getCameraImage(
            width, height, view, proj, renderer=pb.ER_TINY_RENDERER, physicsClientId=self.client
        )
        pixels = np.reshape(np.asarray(rgba, dtype=np.uint8), (height, width, 4))
        return _jpeg(pixels), self.size
