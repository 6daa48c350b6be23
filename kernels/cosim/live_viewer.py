"""``cosim.viewer(...)``: stream a MuJoCo or PyBullet simulation to CoSim viewers in Lab."""

from __future__ import annotations

import hashlib
import os
import time
import warnings
import weakref
from numbers import Integral, Real
from pathlib import Path
from typing import Any

from cosim_protocol import env
from cosim_protocol.control import META_KEY as CONTROL_META
from cosim_protocol.keys import Keys, namespace_user
from cosim_protocol.viewer import MIME_TYPE, encode_pixels, encode_poses, new_sim_id

MAX_RATE = 1000.0


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
        extra_meta: dict[str, Any] | None = None,
        control: Any = None,
        on_reset: Any = None,
    ) -> None:
        from .publisher import Publisher

        self._scene = scene
        self._pixels = pixels
        self.sim_id = new_sim_id()
        self.title = title
        self.mode = mode
        self.interval = 1.0 / rate
        self.frame_number = 0
        self._syncs = 0  # sync() calls: PyBullet's sim clock (one step per call)
        self._next = 0.0
        self._warned = False
        scene_bytes = scene.encode(title)
        self.meta: dict[str, Any] = {
            "sim_id": self.sim_id,
            "engine": scene.engine,
            "title": title,
            "scene": hashlib.sha256(scene_bytes).hexdigest(),
            "started": time.time(),
            "ended": None,
            "bodies": len(scene.dynamic),
            "pid": os.getpid(),
            "mode": mode,
            **(extra_meta or {}),
        }
        self.user = namespace_user()
        self._control = _open_control(control, self.sim_id, scene, on_reset, self.meta)
        self._publisher = Publisher(redis_url, Keys(self.user), self.sim_id, self.meta, scene_bytes)
        if self._control is not None:
            self._publisher.attach_control(self._control[0].update)
            self._control[0].on_declare = self._declared
        if not self._publisher.open():
            self._warn_transport(stacklevel=4)  # -> viewer() -> the user's cell
        self._publisher.start()
        # Ends the sim in Redis if the viewer is forgotten: garbage-collected or at exit.
        self._finalizer = weakref.finalize(self, self._publisher.close)
        self._displayed = display
        self._recorder: Any = None
        self._rate = rate
        if display:
            self._display()

    @property
    def running(self) -> bool:
        """False once someone pressed stop in a viewer, or after close()."""
        return self._finalizer.alive and not self._publisher.stop_requested.is_set()

    def sync(self, sim_time: float | None = None) -> None:
        """Publish the current poses if a display frame is due; otherwise return at once.

        ``sim_time`` overrides the frame's sim clock: MuJoCo's is ``data.time``; PyBullet has
        none, so it is the number of sync() calls times the physics time step."""
        self._syncs += 1
        control = self._control[0] if self._control is not None else None
        if control is not None and control.take_reset():
            self._reset()
        now = time.monotonic()
        if now < self._next and not (control is not None and control.must_publish()):
            if control is not None and not control.idle:
                control.after_publish(self._sim_time(sim_time), self._alive)
            return
        # At most `rate` frames/s however sync() is called, on a fixed grid: `now + interval`
        # would add each frame's lateness (a loop that syncs every 4 ms published 50 of 60 fps).
        # A frame forced early (paused steps) or a loop that fell behind starts a new grid.
        grid = self._next + self.interval
        self._next = grid if now < grid <= now + self.interval else now + self.interval
        if not self._finalizer.alive:
            return
        self.frame_number += 1
        t = self._sim_time(sim_time)
        if self._pixels is not None:
            jpeg, size = self._pixels.render()
            frame = encode_pixels(self.sim_id, self.frame_number, t, time.time(), jpeg, size)
        else:
            poses = self._scene.poses()
            frame = encode_poses(self.sim_id, self.frame_number, t, time.time(), poses)
        self._publisher.submit(frame)
        if self._recorder is not None:
            self._feed_recorder(frame)
        if self._publisher.error is not None and not self._warned:
            self._warn_transport(stacklevel=3)
        if control is not None and not control.idle:
            control.after_publish(t, self._alive)

    def _alive(self) -> bool:
        return self.running

    def _sim_time(self, given: float | None) -> float:
        return self._scene.sim_time(self._syncs) if given is None else float(given)

    # -- live control (cosim.control): small hooks, the logic lives there ----------------------
    def param(self, name: str, default: float, *, min: float, max: float) -> float:
        """Declare a tunable number shown as a slider in every viewer; returns its current value
        (call it each step to follow the slider). Without a control file: ``default``."""
        if self._control is None:
            return float(default)
        return self._control[0].param(name, default, min, max)

    @property
    def seed(self) -> int:
        """The seed set in the control toolbar (0 without a control file)."""
        return self._control[0].seed if self._control is not None else 0

    @property
    def paused(self) -> bool:
        return self._control is not None and self._control[0].paused

    def _reset(self) -> None:
        assert self._control is not None
        control, reset, on_reset = self._control
        reset()
        self._syncs = 0
        if on_reset is not None:
            on_reset(control.seed)

    def _declared(self) -> None:
        assert self._control is not None
        self.meta[CONTROL_META] = self._control[0].meta()
        self._publisher.refresh_soon()

    def _warn_transport(self, stacklevel: int) -> None:
        self._warned = True
        warnings.warn(
            f"CoSim viewer cannot reach Redis at {self._publisher.url} "
            f"({self._publisher.error}); the simulation keeps running and the live view "
            "resumes when Redis is back",
            RuntimeWarning,
            stacklevel=stacklevel,
        )

    def record(self, path: str | os.PathLike[str]) -> None:
        """Keep the scene, every frame published from now on and the control events in the
        ``.cosimrec`` file ``path`` (read it back with ``cosim.Recording``). The file is
        written on the viewer's thread; a disk problem warns once and stops the recording."""
        from .recording import Recorder, recording_header

        if self.mode != "poses":
            raise ValueError("recordings keep pose frames: record a viewer in mode='poses'")
        if self._recorder is not None:
            raise RuntimeError(
                f"already recording to {self._recorder.path}; call stop_recording() first"
            )
        if not self._finalizer.alive:
            raise RuntimeError("this viewer is closed")
        header = recording_header(self._publisher.scene, self.meta, self._rate)
        try:
            recorder = Recorder(path, header, self._publisher.scene)
        except OSError as err:
            warnings.warn(
                f"CoSim cannot record to {path}: {err.strerror or err}; the simulation keeps "
                "running without a recording",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        recorder.add_event("start")
        self._recorder = recorder
        self._publisher.recorder = recorder

    def stop_recording(self, timeout: float = 10.0) -> Path | None:
        """Finish the recording (its index and footer) and return its path; None if none."""
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return None
        recorder.add_event("end")
        recorder.request_stop()
        self._publisher.wake()
        if not self._publisher.is_alive() or not recorder.finished.wait(timeout):
            recorder.pump(final=True)  # the thread is gone: finish here
        self._publisher.recorder = None
        return recorder.path

    def _feed_recorder(self, frame: bytes) -> None:
        recorder = self._recorder
        recorder.add_frame(frame)
        if recorder.error is not None:
            self._recorder = None
            warnings.warn(
                f"CoSim stopped recording to {recorder.path} ({recorder.error}); the "
                "simulation keeps running",
                RuntimeWarning,
                stacklevel=3,
            )

    def camera(
        self,
        name: str | int | None = None,
        *,
        width: int = 640,
        height: int = 480,
        rate: float | None = None,
    ) -> Viewer:
        """A second live view of this sim in pixel mode: JPEG frames from camera ``name``
        (MuJoCo camera name or id; PyBullet renders a default view). It is a sim of its own in
        Redis (meta ``"parent"`` is this sim's id); call its sync() too, and close it."""
        _check_size(width, height)
        label = f"{self.title}: camera {name if name is not None else 'default'}"
        return Viewer(
            self._scene,
            title=label,
            rate=_checked_rate(rate) if rate is not None else 1.0 / self.interval,
            mode="pixels",
            redis_url=self._publisher.url,
            display=self._displayed,
            pixels=_pixels_for(self._scene, width, height, name),
            extra_meta={"parent": self.sim_id},
            control=False,
        )

    def close(self) -> None:
        """End the sim for its viewers (they keep its last frame) and finish a recording.
        Safe to call twice."""
        if self._recorder is not None:
            self._recorder.add_event("end")
            self._recorder = None  # the publisher finishes the file as it closes
        if self._finalizer.alive:
            self._finalizer()
            if self._control is not None:
                self._control[0].wake()
            if self._pixels is not None:
                self._pixels.close()

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
        shell = get_ipython()
        if shell is None or getattr(shell, "kernel", None) is None:
            return  # plain Python or terminal IPython: no front end to render the view
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


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _open_control(
    control: Any, sim_id: str, scene: Any, on_reset: Any, meta: dict[str, Any]
) -> tuple[Any, Any, Any] | None:
    from .control import SceneReset, SimControl, resolve_path

    path = resolve_path(control, _in_kernel())
    if path is None:
        return None
    if on_reset is not None and not callable(on_reset):
        raise TypeError(f"on_reset must be a function of the seed, not {type(on_reset).__name__}")
    sim_control = SimControl(path, sim_id)
    meta[CONTROL_META] = sim_control.meta()
    return sim_control, SceneReset(scene), on_reset


def _is_mujoco_model(value: Any) -> bool:
    mujoco = _mujoco_if_imported()
    return mujoco is not None and isinstance(value, mujoco.MjModel)


def _is_mujoco_data(value: Any) -> bool:
    mujoco = _mujoco_if_imported()
    return mujoco is not None and isinstance(value, mujoco.MjData)


def _mujoco_if_imported() -> Any:
    # A user's MjModel means mujoco is imported already; never import it just to say no.
    import sys

    return sys.modules.get("mujoco")


def _is_client_id(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _checked_rate(rate: Any) -> float:
    if not isinstance(rate, Real) or isinstance(rate, bool):
        raise TypeError(f"rate must be a number of frames per second, not {type(rate).__name__}")
    if not 0 < float(rate) <= MAX_RATE:
        raise ValueError(f"rate must be in (0, {MAX_RATE:g}] frames per second, not {rate!r}")
    return float(rate)


def _check_size(width: Any, height: Any) -> None:
    for label, value in (("width", width), ("height", height)):
        if not isinstance(value, Integral) or isinstance(value, bool):
            raise TypeError(f"{label} must be an int, not {type(value).__name__}")
        if not 16 <= int(value) <= 4096:
            raise ValueError(f"{label} must be between 16 and 4096 pixels, not {value}")


def _pixels_for(scene: Any, width: int, height: int, camera: str | int | None) -> Any:
    from . import pixels

    if scene.engine == "mujoco":
        return pixels.MujocoPixels(scene.model, scene.data, int(width), int(height), camera)
    return pixels.PybulletPixels(scene.client, int(width), int(height), scene.extent)


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
    record: str | os.PathLike[str] | None = None,
    control: Any = None,
    on_reset: Any = None,
) -> Viewer:
    """Stream a simulation live to CoSim viewers (inline in this cell, and the side panel).

    ``cosim.viewer(model, data)`` for MuJoCo (``MjModel``, ``MjData``), or
    ``cosim.viewer(client_id)`` for a connected PyBullet client. ``rate`` caps frames per second;
    ``mode="pixels"`` streams ``width`` x ``height`` JPEG images of ``camera`` (MuJoCo camera
    name or id; default: a free camera) instead of poses. ``record``: a ``.cosimrec`` path to
    record the run into (see ``Viewer.record``). Redis: ``redis_url``, else
    ``$REDIS_URL``, else the local default. Transport problems are warned about once and never
    raised: the simulation always runs.

    Live control: ``control`` is the shared ``sim-control.json`` (default: beside the notebook
    when run in a kernel; ``False``: none). Pause/step/run, reset (then ``on_reset(seed)``),
    speed (real-time factor, 1 by default) and ``v.param(...)`` sliders apply at each sync().
    """
    mujoco_pair = _is_mujoco_model(model_or_client) and _is_mujoco_data(data)
    if not mujoco_pair and not (_is_client_id(model_or_client) and data is None):
        got = type(model_or_client).__name__
        if data is not None:
            got += f" and {type(data).__name__}"
        elif _is_mujoco_model(model_or_client):
            got += " without its MjData"
        raise TypeError(
            "cosim.viewer() takes a mujoco.MjModel and MjData, or a PyBullet client id "
            f"(int); got {got}"
        )
    rate = _checked_rate(rate)
    if not isinstance(mode, str):
        raise TypeError(f"mode must be 'poses' or 'pixels', not {type(mode).__name__}")
    if mode not in ("poses", "pixels"):
        raise ValueError(f"mode must be 'poses' or 'pixels', not {mode!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string, not {type(title).__name__}")
    if redis_url is not None and not isinstance(redis_url, str):
        raise TypeError(f"redis_url must be a string, not {type(redis_url).__name__}")
    _check_size(width, height)
    scene: Any
    if mujoco_pair:
        from .scene_mujoco import MujocoScene

        scene = MujocoScene(model_or_client, data)
    else:
        import pybullet as pb

        client = int(model_or_client)
        if not pb.isConnected(physicsClientId=client):
            raise ValueError(f"PyBullet client {client} is not connected (use pybullet.connect)")
        from .scene_pybullet import PybulletScene

        scene = PybulletScene(client)
    pixels = _pixels_for(scene, width, height, camera) if mode == "pixels" else None
    if record is not None and mode != "poses":
        raise ValueError("record= keeps pose frames: use it with mode='poses'")
    url = redis_url or env.redis_url()
    v = Viewer(
        scene,
        title=title or f"{scene.engine} sim",
        rate=rate,
        mode=mode,
        redis_url=url,
        display=display,
        pixels=pixels,
        control=control,
        on_reset=on_reset,
    )
    if record is not None:
        v.record(record)
    return v
