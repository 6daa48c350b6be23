"""Live control of a viewed sim, applied in the sim's own thread at each ``v.sync()``.

The server owns ``sim-control.json`` (``cosim_protocol.control``) and publishes every new
document on the sim's control channel; the publisher thread hands it to :meth:`SimControl.update`.
``sync()`` then calls :meth:`before_publish` (resets) and :meth:`after_publish` (pause, step and
real-time pacing). Nothing here reads files in the sim loop: the file is read once, at open.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cosim_protocol.control import (
    ControlError,
    check_document,
    check_param_declaration,
    declare_params,
    default_document,
    document_text,
)

# Behind real time by more than this, pacing starts again from now instead of racing to catch up.
MAX_LAG_S = 0.25
# While paused, sync() wakes this often to notice close() and the stop button.
PAUSE_WAKE_S = 0.1


def read_document(path: Path) -> dict[str, Any]:
    """The file's document, or the default where it is missing or invalid (the server rewrites
    it and reports the problem when it loads it)."""
    try:
        return check_document(json.loads(path.read_text()))
    except (OSError, ValueError):
        return default_document()


def write_document(path: Path, doc: dict[str, Any]) -> None:
    """Atomic write: a crash leaves the old file or the new, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(document_text(doc))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SimControl:
    """The kernel's copy of the control document and what it asks of the sim loop."""

    def __init__(self, path: Path, sim_id: str) -> None:
        self.path = path
        # Seed, speed and params carry over from the last sim; a new sim starts running.
        doc = {**read_document(path), "state": "running"}
        if not path.exists():
            write_document(path, {**doc, "sim_id": sim_id})
        self._cond = threading.Condition()
        self._doc = doc
        # Counters seen so far: increments made before this sim opened are not replayed.
        self._step_seen = doc["step"]
        self._reset_seen = doc["reset"]
        self._step_credit = 0
        self._reset_due = False
        self._anchor: tuple[float, float] | None = None  # (wall, sim time) pacing starts from
        self.declared: dict[str, dict[str, float]] = {}
        self.on_declare: Callable[[], None] | None = None

    # -- from the publisher thread -----------------------------------------------------------
    def update(self, raw: Any) -> None:
        try:
            doc = check_document(raw)
        except ControlError:
            return  # the server validates before publishing; ignore anything else
        with self._cond:
            if doc["step"] > self._step_seen:
                self._step_credit += doc["step"] - self._step_seen
            if doc["reset"] > self._reset_seen:
                self._reset_due = True
            self._step_seen = max(self._step_seen, doc["step"])
            self._reset_seen = max(self._reset_seen, doc["reset"])
            if doc["speed"] != self._doc["speed"] or doc["state"] != self._doc["state"]:
                self._anchor = None
            self._doc = doc
            self._cond.notify_all()

    # -- from the sim thread -----------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._doc["state"] == "paused"

    @property
    def seed(self) -> int:
        return int(self._doc["seed"])

    def param(self, name: str, default: float, low: float, high: float) -> float:
        """Declare ``name`` (first call) and return its current value."""
        spec = self.declared.get(name)
        if spec is None or (spec["min"], spec["max"]) != (float(low), float(high)):
            spec = check_param_declaration(name, default, low, high)
            self.declared[name] = spec
            with self._cond:
                self._doc = declare_params(self._doc, {**self._doc["params"], name: spec})
            if self.on_declare is not None:
                self.on_declare()
        current = self._doc["params"].get(name)
        return float(current["value"]) if current else float(spec["value"])

    def take_reset(self) -> bool:
        """True once per pending reset (several presses before the next sync are one reset)."""
        if not self._reset_due:  # the hot path: no lock when nothing is pending
            return False
        with self._cond:
            due, self._reset_due = self._reset_due, False
            if due:
                self._anchor = None
            return due

    def must_publish(self) -> bool:
        """Paused: every frame that gets through (a step) is shown, whatever the frame rate."""
        return self.paused

    @property
    def idle(self) -> bool:
        """Running free: sync() has nothing to wait for (read without the lock: a change is
        seen at the next sync at the latest)."""
        doc = self._doc
        return doc["state"] == "running" and not doc["speed"]

    def after_publish(self, sim_time: float, alive: Callable[[], bool]) -> None:
        """Block while paused (a step credit lets one sync through), then pace to ``speed``."""
        with self._cond:
            while self.paused and alive():
                if self._step_credit > 0:
                    self._step_credit -= 1
                    self._anchor = None
                    return
                if self._reset_due:
                    return  # the next sync() applies it, and shows the reset state
                self._cond.wait(PAUSE_WAKE_S)
            speed = float(self._doc["speed"])
        if speed <= 0:
            return
        now = time.monotonic()
        if self._anchor is None:
            self._anchor = (now, sim_time)
            return
        wall0, sim0 = self._anchor
        target = wall0 + (sim_time - sim0) / speed
        if target - now > 0:
            time.sleep(min(target - now, 1.0))
        elif now - target > MAX_LAG_S:
            self._anchor = (now, sim_time)  # the sim is slower than asked: do not burst

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def meta(self) -> dict[str, Any]:
        return {"path": str(self.path), "params": dict(self.declared)}


class SceneReset:
    """Puts a sim back where it was when the viewer opened (MuJoCo: mj_resetData; PyBullet: the
    state saved at open)."""

    def __init__(self, scene: Any) -> None:
        self.scene = scene
        self._saved: int | None = None
        if scene.engine == "pybullet":
            import pybullet as pb

            self._saved = pb.saveState(physicsClientId=scene.client)

    def __call__(self) -> None:
        if self.scene.engine == "mujoco":
            import mujoco

            mujoco.mj_resetData(self.scene.model, self.scene.data)
            mujoco.mj_forward(self.scene.model, self.scene.data)
        elif self._saved is not None:
            import pybullet as pb

            pb.restoreState(stateId=self._saved, physicsClientId=self.scene.client)


def resolve_path(control: str | os.PathLike[str] | bool | None, interactive: bool) -> Path | None:
    """Where the control file lives: ``control`` if given, ``sim-control.json`` in the kernel's
    working directory (beside the notebook) for a sim viewed from a notebook, else none."""
    from cosim_protocol.control import FILE_NAME

    if control is False:
        return None
    if control is None or control is True:
        return Path.cwd() / FILE_NAME if (interactive or control is True) else None
    if not isinstance(control, str | os.PathLike):
        raise TypeError(f"control must be a path to a .json file, not {type(control).__name__}")
    path = Path(control).expanduser()
    if path.suffix != ".json":
        raise ValueError(f"control must be a path to a .json file, not {str(control)!r}")
    return path if path.is_absolute() else Path.cwd() / path
