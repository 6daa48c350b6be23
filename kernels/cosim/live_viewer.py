"""``cosim.viewer(...)``: stream a MuJoCo or PyBullet simulation to CoSim viewers in Lab."""

from __future__ import annotations

import hashlib
import os
import time
import warnings
import weakref
from typing import Any

from .protocol import MIME_TYPE, Keys, encode_pixels, encode_poses, namespace_user, new_sim_id

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class Viewer:
    """A live sim published for CoSim's viewers. Use as a context manager, or call close()."""

    def __init__(
        self,
        scene: Any,
        *,
        title: str,
        rate: float,
        mode: str,
        redis_url: str,
        display: bool,
        pixels: Any = None,
    ) -> None:
        from .publisher import Publisher

        self._scene = scene
        self._pixels = pixels
        self.sim_id = new_sim_id()
        self.title = title
        self.mode = mode
        self.interval = 1.0 / rate
        self.frame_number = 0
        self._next = 0.0
        self._warned = False
        scene_bytes = scene.encode(title)
        self.meta = {
            "sim_id": self.sim_id,
            "engine": scene.engine,
            "title": title,
            "scene": hashlib.sha256(scene_bytes).hexdigest(),
            "started": time.time(),
            "ended": None,
            "bodies": len(scene.dynamic),
            "pid": os.getpid(),
            "mode": mode,
        }
        self.user = namespace_user()
        self._publisher = Publisher(redis_url, Keys(self.user), self.sim_id, self.meta, scene_bytes)
        self._publisher.start()
        self._finalizer = weakref.finalize(self, self._publisher.close)
        self._displayed = display
        if display:
            self._display()

    @property
    def running(self) -> bool:
        """False once someone pressed stop in a viewer, or after close()."""
        return not (self._publisher.stop_requested.is_set() or not self._finalizer.alive)

    def sync(self, sim_time: float | None = None) -> None:
        """Publish the current poses if a display frame is due; otherwise return at once."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = max(self._next + self.interval, now)
        self.frame_number += 1
        t = self._scene.sim_time() if sim_time is None else float(sim_time)
        if self._pixels is not None:
            jpeg, size = self._pixels.render()
            frame = encode_pixels(self.sim_id, self.frame_number, t, time.time(), jpeg, size)
        else:
            frame = encode_poses(
                self.sim_id, self.frame_number, t, time.time(), self._scene.poses()
            )
        self._publisher.submit(frame)
        if self._publisher.error is not None and not self._warned:
            self._warned = True
            warnings.warn(
                f"CoSim viewer cannot reach Redis ({self._publisher.error}); the simulation "
                "keeps running and the view resumes when Redis is back",
                RuntimeWarning,
                stacklevel=2,
            )

    def camera(self, name: str | int | None = None, *, width: int = 640, height: int = 480,
               rate: float | None = None) -> Viewer:  # fmt: skip
        """A second live view of this sim in pixel mode: JPEG frames from camera ``name``
        (MuJoCo camera name or id; PyBullet renders a default view). Call its sync() too."""
        scene = self._scene
        if scene.engine == "mujoco":
            from .pixels import MujocoPixels

            pixels: Any = MujocoPixels(scene.model, scene.data, width, height, name)
        else:
            from .pixels import PybulletPixels

            pixels = PybulletPixels(scene.client, width, height)
        label = f"{self.title}: camera {name if name is not None else 'default'}"
        return Viewer(
            scene,
            title=label,
            rate=rate or 1.0 / self.interval,
            mode="pixels",
            redis_url=self._publisher.url,
            display=self._displayed,
            pixels=pixels,
        )

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> Viewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _display(self) -> None:
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:
            return
        bundle = {
            MIME_TYPE: {
                "sim_id": self.sim_id,
                "title": self.title,
                "user": self.user,
                "engine": self.meta["engine"],
            },
            "text/plain": f"CoSim viewer: {self.title} (sim {self.sim_id})",
        }
        display(bundle, raw=True)

    def __repr__(self) -> str:
        return f"<cosim.Viewer {self.title!r} sim={self.sim_id} frames={self.frame_number}>"


def _is_mujoco(model: Any, data: Any) -> bool:
    try:
        import mujoco
    except ImportError:
        return False
    return isinstance(model, mujoco.MjModel) and isinstance(data, mujoco.MjData)


def viewer(
    model_or_client: Any,
    data: Any = None,
    *,
    title: str | None = None,
    rate: float = 60.0,
    mode: str = "poses",
    redis_url: str | None = None,
    display: bool = True,
    width: int = 640,
    height: int = 480,
    camera: str | int | None = None,
) -> Viewer:
    """Stream a simulation live to CoSim viewers (inline in this cell, and the side panel).

    ``cosim.viewer(model, data)`` for MuJoCo (``MjModel``, ``MjData``), or
    ``cosim.viewer(client_id)`` for a connected PyBullet client. ``rate`` caps frames per second;
    ``mode="pixels"`` streams JPEG camera images instead of poses.
    """
    if isinstance(model_or_client, bool) or not (
        _is_mujoco(model_or_client, data) or (isinstance(model_or_client, int) and data is None)
    ):
        got = type(model_or_client).__name__
        if data is not None:
            got += f" and {type(data).__name__}"
        raise TypeError(
            "cosim.viewer() takes a mujoco.MjModel and mujoco.MjData, or a PyBullet client id "
            f"(int); got {got}"
        )
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 < rate <= 1000:
        raise TypeError(f"rate must be a number of frames per second in (0, 1000], not {rate!r}")
    if mode not in ("poses", "pixels"):
        raise TypeError(f"mode must be 'poses' or 'pixels', not {mode!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string, not {type(title).__name__}")
    pixels: Any = None
    if isinstance(model_or_client, int):
        from .scene_pybullet import PybulletScene

        scene: Any = PybulletScene(model_or_client)
        if mode == "pixels":
            from .pixels import PybulletPixels

            pixels = PybulletPixels(model_or_client, width, height)
    else:
        from .scene_mujoco import MujocoScene

        scene = MujocoScene(model_or_client, data)
        if mode == "pixels":
            from .pixels import MujocoPixels

            pixels = MujocoPixels(model_or_client, data, width, height, camera)
    url = redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    return Viewer(
        scene,
        title=title or f"{scene.engine} sim",
        rate=float(rate),
        mode=mode,
        redis_url=url,
        display=display,
        pixels=pixels,
    )
