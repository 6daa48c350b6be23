"""Pixel mode: offscreen camera images as JPEG, for sensors and what poses cannot show.

MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` when ``mujoco`` is first imported, which in a
notebook happens before ``cosim`` is involved (and defaults to GLFW, which needs a display). So
pixel mode opens its own headless context (EGL, else OSMesa) and drives MuJoCo's renderer
(``MjrContext``) directly, whatever the import order was.
"""

from __future__ import annotations

import ctypes
import io
import os
from typing import Any

import numpy as np

JPEG_QUALITY = 80
_LIBRARIES = {"egl": ("libEGL.so.1", "libEGL.so"), "osmesa": ("libOSMesa.so.8", "libOSMesa.so.6")}
_INSTALL_HINT = (
    "install EGL (Debian: apt-get install libegl1 libegl-mesa0) or OSMesa (libosmesa6), "
    "or set MUJOCO_GL=egl or MUJOCO_GL=osmesa to choose one"
)


def jpeg(pixels: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels[..., :3])).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def headless_backend() -> str:
    """``MUJOCO_GL`` if it names a headless backend, else EGL, else OSMesa, whichever loads.

    Also sets ``MUJOCO_GL`` when unset, so a ``mujoco`` imported later (or in a subprocess)
    renders the same way."""
    chosen = os.environ.get("MUJOCO_GL", "").strip().lower()
    if chosen in _LIBRARIES:
        return chosen
    for backend, libraries in _LIBRARIES.items():
        for library in libraries:
            try:
                ctypes.CDLL(library)
            except OSError:
                continue
            if not chosen:
                os.environ["MUJOCO_GL"] = backend
            return backend
    raise RuntimeError(f"CoSim pixel mode needs headless OpenGL and found none: {_INSTALL_HINT}")


def _gl_context(backend: str, width: int, height: int) -> Any:
    try:
        if backend == "egl":
            from mujoco.egl import GLContext
        else:
            from mujoco.osmesa import GLContext
        return GLContext(width, height)
    except Exception as err:  # ImportError, RuntimeError, GLError: all mean "no context"
        raise RuntimeError(
            f"CoSim pixel mode could not open a headless OpenGL context with {backend} "
            f"({type(err).__name__}: {err}); {_INSTALL_HINT}"
        ) from err


def _mujoco_camera(model: Any, camera: str | int | None) -> Any:
    import mujoco

    cam = mujoco.MjvCamera()
    if camera is None:
        mujoco.mjv_defaultFreeCamera(model, cam)
        return cam
    if isinstance(camera, str):
        cam_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
    elif isinstance(camera, int | np.integer) and not isinstance(camera, bool):
        cam_id = int(camera)
    else:
        raise TypeError(f"camera must be a camera name or id, not {type(camera).__name__}")
    if not 0 <= cam_id < model.ncam:
        names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_CAMERA, i) for i in range(model.ncam)]
        raise ValueError(f"no camera {camera!r} in this model (its cameras: {names})")
    cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
    cam.fixedcamid = cam_id
    return cam


class MujocoPixels:
    """Renders one camera of a MuJoCo model offscreen. Use it from one thread (the sim's)."""

    def __init__(
        self, model: Any, data: Any, width: int, height: int, camera: str | int | None
    ) -> None:
        import mujoco

        self.model, self.data, self.size = model, data, (width, height)
        self._camera = _mujoco_camera(model, camera)
        backend = headless_backend()
        # The offscreen framebuffer is sized from the model when the MjrContext is made.
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, height)
        self._gl = _gl_context(backend, width, height)
        self._gl.make_current()
        self._scene = mujoco.MjvScene(model, maxgeom=10000)
        self._option = mujoco.MjvOption()
        self._context: Any = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._context)
        self._rect = mujoco.MjrRect(0, 0, width, height)
        self._rgb = np.empty((height, width, 3), dtype=np.uint8)

    def render(self) -> tuple[bytes, tuple[int, int]]:
        import mujoco

        if self._context is None:
            raise RuntimeError("this camera view is closed")
        self._gl.make_current()
        mujoco.mjv_updateScene(
            self.model, self.data, self._option, None, self._camera,
            mujoco.mjtCatBit.mjCAT_ALL, self._scene,
        )  # fmt: skip
        mujoco.mjr_render(self._rect, self._scene, self._context)
        mujoco.mjr_readPixels(self._rgb, None, self._rect, self._context)
        return jpeg(self._rgb[::-1]), self.size  # OpenGL rows run bottom-up

    def close(self) -> None:
        if self._context is not None:
            self._gl.make_current()
            self._context.free()
            self._context = None
            self._gl.free()


class PybulletPixels:
    """PyBullet's CPU TinyRenderer, looking at the scene from a fixed default viewpoint."""

    def __init__(self, client: int, width: int, height: int, extent: float = 1.0) -> None:
        import pybullet as pb

        self.client, self.size = client, (width, height)
        d = max(extent, 1.0)
        self._view = pb.computeViewMatrix([1.5 * d, -1.5 * d, 1.2 * d], [0, 0, 0.4], [0, 0, 1])
        self._projection = pb.computeProjectionMatrixFOV(60, width / height, 0.05, 50 * d)

    def render(self) -> tuple[bytes, tuple[int, int]]:
        import pybullet as pb

        width, height = self.size
        _, _, rgba, _, _ = pb.getCameraImage(
            width, height, self._view, self._projection, renderer=pb.ER_TINY_RENDERER,
            physicsClientId=self.client,
        )  # fmt: skip
        pixels = np.reshape(np.asarray(rgba, dtype=np.uint8), (height, width, 4))
        return jpeg(pixels), self.size

    def close(self) -> None:
        pass
